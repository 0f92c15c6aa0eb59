package otlpspans

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// msg encodes one length-delimited field.
func msg(num protowire.Number, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), body)
}

func str(num protowire.Number, s string) []byte { return msg(num, []byte(s)) }

// attr is a KeyValue field (number num) with a string value.
func attr(num protowire.Number, k, v string) []byte { return msg(num, str(1, k), msg(2, str(1, v))) }

// request is an export request of n spans, each with attrs attributes.
func request(n, attrs int) []byte {
	var spans [][]byte
	for i := range n {
		parts := [][]byte{msg(1, make([]byte, 16)), msg(2, []byte{1, 2, 3, 4, 5, 6, 7, byte(i)}), str(5, "op")}
		for range attrs {
			parts = append(parts, attr(9, "k", "v"))
		}
		spans = append(spans, msg(2, parts...))
	}
	return msg(1, msg(1, attr(1, "service.name", "svc")), msg(2, spans...))
}

// TestDecode reads every field the translation uses, in any order, with
// the resource after the spans, unknown fields and fields of the wrong
// wire type skipped.
func TestDecode(t *testing.T) {
	fixed := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), v)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	span := msg(2,
		attr(9, "a", "1"), str(5, "name"), fixed(7, 100), varint(6, 2), fixed(8, 200),
		msg(11, fixed(1, 150), str(2, "exception"), attr(3, "exception.message", "boom")),
		msg(9, str(1, "n"), msg(2, varint(3, 1<<63))), varint(5, 7), // name with the wrong wire type: skipped
		msg(15, str(2, "bad"), varint(3, 2)), msg(99, []byte("unknown")), msg(1, make([]byte, 16)), msg(2, []byte{1, 2, 3, 4, 5, 6, 7, 8}),
		msg(9, str(1, "list"), msg(2, msg(5, msg(1, str(1, "x")), msg(1, varint(2, 1)), msg(1)))),
	)
	req := msg(1, msg(2, span), msg(1, attr(1, "service.name", "svc")))
	var b Batch
	if err := b.Decode(req, 0); err != nil {
		t.Fatal(err)
	}
	if len(b.Spans) != 1 || len(b.Resources) != 1 {
		t.Fatalf("%d spans, %d resources", len(b.Spans), len(b.Resources))
	}
	sp := &b.Spans[0]
	if sp.Name != "name" || sp.Kind != 2 || sp.StartTimeUnixNano != 100 || sp.EndTimeUnixNano != 200 || sp.StatusCode != 2 ||
		sp.StatusMessage != "bad" || len(sp.TraceID) != 16 || sp.SpanID[7] != 8 {
		t.Fatalf("span %+v", sp)
	}
	attrs := b.Attributes(sp.Attrs)
	if len(attrs) != 3 || attrs[0].Value.Str() != "1" || attrs[1].Value.Int() != -1<<63 || attrs[2].Key != "list" {
		t.Fatalf("attributes %+v", attrs)
	}
	list := attrs[2].Value.Array()
	if len(list) != 3 || list[0].Value.Str() != "x" || !list[1].Value.Bool() || list[2].Value.Kind() != KindEmpty {
		t.Fatalf("list %+v", list)
	}
	evs := b.Events(sp.Events)
	if len(evs) != 1 || evs[0].Name != "exception" || evs[0].TimeUnixNano != 150 || b.Attributes(evs[0].Attrs)[0].Value.Str() != "boom" {
		t.Fatalf("events %+v", evs)
	}
	if res := b.ResourceOf(sp); len(res) != 1 || res[0].Key != "service.name" {
		t.Fatalf("resource %+v", res)
	}
}

// TestDecodeRefuses: truncated fields, strings that are not UTF-8 and
// nesting past the limit are errors wrapping ErrMalformed.
func TestDecodeRefuses(t *testing.T) {
	deep := msg(2, str(1, "v"))
	for range 200 {
		deep = msg(2, msg(6, msg(1, str(1, "k"), deep)))
	}
	for name, body := range map[string][]byte{
		"truncated": request(2, 2)[:30],
		"not UTF-8": msg(1, msg(2, msg(2, str(5, "a\xff")))),
		"key":       msg(1, msg(2, msg(2, attr(9, "\xff", "v")))),
		"deep":      msg(1, msg(2, msg(2, msg(9, str(1, "k"), deep)))),
		"bad tag":   {0x80},
	} {
		var b Batch
		if err := b.Decode(body, 128); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// TestDecodeLinear: decoding 4n attributes into a fresh Batch allocates
// about 4 times the bytes of n (the Batch's slices, grown by appending),
// and into a reused Batch nothing at all.
func TestDecodeLinear(t *testing.T) {
	fresh := func(n int) (allocs float64, held int64) {
		body := request(n/100, 100)
		allocs = testing.AllocsPerRun(3, func() {
			var b Batch
			if err := b.Decode(body, 0); err != nil || len(b.Spans) != n/100 {
				t.Fatal(err)
			}
			held = b.Bytes()
		})
		return allocs, held
	}
	reused := func(n int) float64 {
		body := request(n/100, 100)
		var b Batch
		_ = b.Decode(body, 0)
		return testing.AllocsPerRun(3, func() {
			b.Reset()
			if err := b.Decode(body, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
	a1, h1 := fresh(10000)
	a4, h4 := fresh(40000)
	t.Logf("fresh: %.0f allocations, %d bytes held at n=10000 attributes; %.0f, %d at 4n", a1, h1, a4, h4)
	if r := float64(h4) / float64(h1); r < 3 || r > 5 {
		t.Errorf("4x attributes hold x%.2f the bytes, want about 4", r)
	}
	if a4 > 2*a1 {
		t.Errorf("%.0f allocations at 4n, %.0f at n: want slice growth only", a4, a1)
	}
	if r1, r4 := reused(10000), reused(40000); r1 != 0 || r4 != 0 {
		t.Errorf("reused Batch: %.0f allocations at n, %.0f at 4n, want 0", r1, r4)
	}
}

// FuzzDecode: Decode never panics, and decoding into a reused Batch gives
// what decoding into a fresh one does.
func FuzzDecode(f *testing.F) {
	f.Add(request(2, 3))
	f.Add(msg(1, msg(2, msg(2, msg(9, str(1, "k"), msg(2, msg(6, msg(1, str(1, "a"), msg(2, msg(5, msg(1))))))), msg(11, str(2, "e"))))))
	var reused Batch
	_ = reused.Decode(request(3, 3), 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		var fresh Batch
		err := fresh.Decode(body, 32)
		reused.Reset()
		rerr := reused.Decode(body, 32)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("fresh %v, reused %v", err, rerr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(fresh.Spans) != len(reused.Spans) {
			t.Fatalf("%d spans fresh, %d reused", len(fresh.Spans), len(reused.Spans))
		}
		for i := range fresh.Spans {
			a, b := fresh.Attributes(fresh.Spans[i].Attrs), reused.Attributes(reused.Spans[i].Attrs)
			if len(a) != len(b) {
				t.Fatalf("span %d: %d attributes fresh, %d reused", i, len(a), len(b))
			}
			for j := range a {
				if a[j].Key != b[j].Key || a[j].Value.Kind() != b[j].Value.Kind() || !reflect.DeepEqual(a[j].Value.List() == nil, b[j].Value.List() == nil) {
					t.Fatalf("span %d attribute %d differs", i, j)
				}
			}
		}
	})
}

// TestDecodeWithin: a request needing more than the limit stops with
// ErrTooLarge (not ErrMalformed) once past it; one within it decodes as
// Decode does.
func TestDecodeWithin(t *testing.T) {
	body := request(10, 100) // 1,000 attributes: 64 KB of them
	var b Batch
	if err := b.DecodeWithin(body, 0, 32<<10); !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) {
		t.Fatalf("32 KB allowed: %v, want ErrTooLarge", err)
	}
	if b.Bytes() > 2*64<<10 {
		t.Errorf("stopped holding %d bytes", b.Bytes())
	}
	b.Reset()
	if err := b.DecodeWithin(body, 0, 1<<20); err != nil || len(b.Spans) != 10 {
		t.Fatalf("1 MB allowed: %v, %d spans", err, len(b.Spans))
	}
}
