package otlpspans

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

func float64frombits(u uint64) float64 { return math.Float64frombits(u) }

// ErrMalformed is wrapped by every Decode error.
var ErrMalformed = errors.New("malformed OTLP traces request")

// DefaultMaxDepth bounds message nesting in Decode when maxDepth is 0.
const DefaultMaxDepth = 128

// ErrTooLarge is DecodeWithin's error for a request that would take
// more memory than it allows.
var ErrTooLarge = errors.New("OTLP traces request too large to decode within the memory allowed")

// decoder holds one Decode call's state.
type decoder struct {
	b     *Batch
	depth int   // messages still allowed below the current one
	limit int64 // bytes of spans, resources, attributes and events allowed; 0: any
	used  int64
}

// grow counts n items of size bytes against the limit.
func (d *decoder) grow(n int, size uintptr) error {
	d.used += int64(n) * int64(size)
	if d.limit > 0 && d.used > d.limit {
		return ErrTooLarge
	}
	return nil
}

func (d *decoder) fail(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// Decode appends the spans of req, the protobuf encoding of an OTLP
// ExportTraceServiceRequest, to b. The Batch's strings and bytes point
// into req, which must not change while b is in use. maxDepth bounds
// message nesting as proto.UnmarshalOptions.RecursionLimit does (0:
// DefaultMaxDepth). Fields the translation does not read (links, scopes,
// trace state, schema URLs, dropped counts, flags, unknown fields) are
// skipped without being parsed. As with protobuf-go, a known field sent
// with the wrong wire type is skipped like an unknown one, repeated
// scalar fields keep the last value, and strings must be UTF-8; unlike
// it, a message field sent twice keeps the last one instead of merging
// the two (no encoder does this). Errors wrap ErrMalformed.
//
// Decoding is linear in len(req): each byte is read once to find where
// its message ends and once more to decode it.
func (b *Batch) Decode(req []byte, maxDepth int) error {
	return b.DecodeWithin(req, maxDepth, 0)
}

// DecodeWithin is Decode that stops with ErrTooLarge (not wrapping
// ErrMalformed), leaving b to be Reset, as soon as the spans, resources,
// attributes and events it appends would take more than maxBytes bytes
// (0: no limit). The slices holding them may take up to twice that while
// they grow. It lets a caller reserve memory for a typical request and
// decode at once, instead of first counting the request's messages.
func (b *Batch) DecodeWithin(req []byte, maxDepth int, maxBytes int64) error {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	d := decoder{b: b, depth: maxDepth - 1, limit: maxBytes}
	b.Raw = req
	for len(req) > 0 {
		num, typ, v, rest, err := d.field(req)
		if err != nil {
			return err
		}
		req = rest
		if num == 1 && typ == protowire.BytesType {
			if err := d.resourceSpans(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// field reads one field of b: its number and type, its value when it
// is length-delimited (nil otherwise), and what follows it.
func (d *decoder) field(b []byte) (protowire.Number, protowire.Type, []byte, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil, d.fail(protowire.ParseError(n).Error())
	}
	b = b[n:]
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return 0, 0, nil, nil, d.fail(protowire.ParseError(m).Error())
		}
		return num, typ, v, b[m:], nil
	}
	m := protowire.ConsumeFieldValue(num, typ, b)
	if m < 0 {
		return 0, 0, nil, nil, d.fail(protowire.ParseError(m).Error())
	}
	return num, typ, b[:m], b[m:], nil
}

// enter goes one message deeper.
func (d *decoder) enter() error {
	if d.depth <= 0 {
		return d.fail("messages nested deeper than the recursion limit")
	}
	d.depth--
	return nil
}

func (d *decoder) leave() { d.depth++ }

func (d *decoder) str(v []byte, what string) (string, error) {
	if !utf8.Valid(v) {
		return "", d.fail(what + " is not valid UTF-8")
	}
	return aliasString(v), nil
}

func varint(v []byte) uint64 {
	x, _ := protowire.ConsumeVarint(v)
	return x
}

func fixed64(v []byte) uint64 {
	x, _ := protowire.ConsumeFixed64(v)
	return x
}

// count returns how many fields numbered num of type BytesType msg has
// at its top level (nested messages are skipped, not read).
func (d *decoder) count(msg []byte, num protowire.Number) (int, error) {
	n := 0
	for len(msg) > 0 {
		f, typ, _, rest, err := d.field(msg)
		if err != nil {
			return 0, err
		}
		if f == num && typ == protowire.BytesType {
			n++
		}
		msg = rest
	}
	return n, nil
}

// reserve adds n empty attributes to the batch and returns their range.
func (d *decoder) reserve(n int) (Range, error) {
	lo := len(d.b.kvs)
	if lo+n > math.MaxInt32 {
		return Range{}, d.fail("too many attributes")
	}
	if err := d.grow(n, unsafe.Sizeof(KeyValue{})); err != nil {
		return Range{}, err
	}
	d.b.kvs = extend(d.b.kvs, n)
	return Range{lo: int32(lo), n: int32(n)}, nil
}

func (d *decoder) resourceSpans(msg []byte) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	// The resource first, wherever it is in the message: its index goes
	// into every span.
	res := Resource{}
	var scopes int
	for rest := msg; len(rest) > 0; {
		num, typ, v, next, err := d.field(rest)
		if err != nil {
			return err
		}
		rest = next
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			res = Resource{Present: true, Raw: v}
		case 2:
			scopes++
		}
	}
	if res.Present {
		if err := d.enter(); err != nil {
			return err
		}
		n, err := d.count(res.Raw, 1)
		if err != nil {
			return err
		}
		if res.Attrs, err = d.reserve(n); err != nil {
			return err
		}
		if err := d.fillAttributes(res.Raw, 1, res.Attrs); err != nil {
			return err
		}
		d.leave()
	}
	if scopes == 0 {
		return nil // no spans to point at it
	}
	ri := int32(len(d.b.Resources))
	if err := d.grow(1, unsafe.Sizeof(Resource{})); err != nil {
		return err
	}
	d.b.Resources = append(d.b.Resources, res)
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		if num == 2 && typ == protowire.BytesType {
			if err := d.scopeSpans(v, ri); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *decoder) scopeSpans(msg []byte, res int32) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		if num == 2 && typ == protowire.BytesType {
			if err := d.span(v, res); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *decoder) span(msg []byte, res int32) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	sp := Span{Resource: res, Raw: msg}
	var attrs, events int
	for rest := msg; len(rest) > 0; {
		num, typ, _, next, err := d.field(rest)
		if err != nil {
			return err
		}
		rest = next
		if typ == protowire.BytesType {
			switch num {
			case 9:
				attrs++
			case 11:
				events++
			}
		}
	}
	var err error
	if sp.Attrs, err = d.reserve(attrs); err != nil {
		return err
	}
	elo := len(d.b.events)
	if err := d.grow(events, unsafe.Sizeof(Event{})); err != nil {
		return err
	}
	if err := d.grow(1, unsafe.Sizeof(Span{})); err != nil {
		return err
	}
	d.b.events = extend(d.b.events, events)
	sp.Events = Range{lo: int32(elo), n: int32(events)}
	ai, ei := sp.Attrs.lo, elo
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		switch {
		case typ == protowire.BytesType:
			switch num {
			case 1:
				sp.TraceID = v
			case 2:
				sp.SpanID = v
			case 3:
				if _, err := d.str(v, "trace_state"); err != nil {
					return err
				}
			case 4:
				sp.ParentSpanID = v
			case 5:
				if sp.Name, err = d.str(v, "span name"); err != nil {
					return err
				}
			case 9:
				if err := d.keyValue(v, ai); err != nil {
					return err
				}
				ai++
			case 11:
				if err := d.event(v, ei); err != nil {
					return err
				}
				ei++
			case 15:
				if err := d.status(v, &sp); err != nil {
					return err
				}
			}
		case num == 6 && typ == protowire.VarintType:
			sp.Kind = int32(varint(v))
		case num == 7 && typ == protowire.Fixed64Type:
			sp.StartTimeUnixNano = fixed64(v)
		case num == 8 && typ == protowire.Fixed64Type:
			sp.EndTimeUnixNano = fixed64(v)
		}
	}
	d.b.Spans = append(d.b.Spans, sp)
	return nil
}

func (d *decoder) status(msg []byte, sp *Span) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		switch {
		case num == 2 && typ == protowire.BytesType:
			if sp.StatusMessage, err = d.str(v, "status message"); err != nil {
				return err
			}
		case num == 3 && typ == protowire.VarintType:
			sp.StatusCode = int32(varint(v))
		}
	}
	return nil
}

func (d *decoder) event(msg []byte, at int) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	n, err := d.count(msg, 3)
	if err != nil {
		return err
	}
	var ev Event
	if ev.Attrs, err = d.reserve(n); err != nil {
		return err
	}
	ai := ev.Attrs.lo
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			ev.TimeUnixNano = fixed64(v)
		case num == 2 && typ == protowire.BytesType:
			if ev.Name, err = d.str(v, "event name"); err != nil {
				return err
			}
		case num == 3 && typ == protowire.BytesType:
			if err := d.keyValue(v, ai); err != nil {
				return err
			}
			ai++
		}
	}
	d.b.events[at] = ev
	return nil
}

// fillAttributes decodes the KeyValue fields numbered num of msg into the
// reserved range r.
func (d *decoder) fillAttributes(msg []byte, num protowire.Number, r Range) error {
	i := r.lo
	for len(msg) > 0 {
		f, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		if f == num && typ == protowire.BytesType {
			if err := d.keyValue(v, i); err != nil {
				return err
			}
			i++
		}
	}
	return nil
}

// keyValue decodes a KeyValue into the reserved attribute at.
func (d *decoder) keyValue(msg []byte, at int32) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	var kv KeyValue
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			if kv.Key, err = d.str(v, "attribute key"); err != nil {
				return err
			}
		case 2:
			if kv.Value.kind == KindNone {
				kv.Value.kind = KindEmpty
			}
			if err := d.anyValue(v, &kv.Value); err != nil {
				return err
			}
		}
	}
	d.b.kvs[at] = kv
	return nil
}

// anyValue decodes an AnyValue into *out (a field set later wins, as in
// a protobuf merge).
func (d *decoder) anyValue(msg []byte, out *Value) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, err := d.str(v, "string value")
			if err != nil {
				return err
			}
			*out = Value{kind: KindString, str: s}
		case num == 2 && typ == protowire.VarintType:
			var x uint64
			if varint(v) != 0 {
				x = 1
			}
			*out = Value{kind: KindBool, num: x}
		case num == 3 && typ == protowire.VarintType:
			*out = Value{kind: KindInt, num: varint(v)}
		case num == 4 && typ == protowire.Fixed64Type:
			*out = Value{kind: KindDouble, num: fixed64(v)}
		case num == 7 && typ == protowire.BytesType:
			*out = Value{kind: KindBytes, str: aliasString(v)}
		case (num == 5 || num == 6) && typ == protowire.BytesType:
			if err := d.list(v, num == 6, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// list decodes an ArrayValue or (kv) a KeyValueList into *out.
func (d *decoder) list(msg []byte, kv bool, out *Value) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	n, err := d.count(msg, 1)
	if err != nil {
		return err
	}
	r, err := d.reserve(n)
	if err != nil {
		return err
	}
	kind := KindArray
	if kv {
		kind = KindMap
	}
	i := r.lo
	for len(msg) > 0 {
		num, typ, v, rest, err := d.field(msg)
		if err != nil {
			return err
		}
		msg = rest
		if num != 1 || typ != protowire.BytesType {
			continue
		}
		if kv {
			if err := d.keyValue(v, i); err != nil {
				return err
			}
		} else {
			val := Value{kind: KindEmpty}
			if err := d.anyValue(v, &val); err != nil {
				return err
			}
			d.b.kvs[i] = KeyValue{Value: val}
		}
		i++
	}
	*out = Value{kind: kind, list: r, b: d.b}
	return nil
}
