package otlphttp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

var rawNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func kv(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// rawSpanAt is a valid span numbered i starting at t, with pad bytes of
// attribute.
func rawSpanAt(i int, t time.Time, pad int) *tracepb.Span {
	return &tracepb.Span{
		TraceId: []byte{0x7f, byte(i >> 8), byte(i), 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, SpanId: []byte{1, 2, 3, 4, 5, 6, byte(i >> 8), byte(i)},
		Name: fmt.Sprintf("GET /items/%d", i), Kind: tracepb.Span_SPAN_KIND_SERVER,
		StartTimeUnixNano: uint64(t.UnixNano()), EndTimeUnixNano: uint64(t.Add(3 * time.Millisecond).UnixNano()),
		Attributes: []*commonpb.KeyValue{kv("http.request.method", "GET"), kv("url.path", "/items/"+strings.Repeat("x", pad))},
		Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
	}
}

func spansAt(n int, t time.Time, pad int) []*tracepb.Span {
	s := make([]*tracepb.Span, n)
	for i := range s {
		s[i] = rawSpanAt(i, t.Add(time.Duration(i)*time.Second), pad)
	}
	return s
}

// splitBoth splits req by the generated types and by its encoding and
// fails unless the parts, counts and reasons are the same.
func splitBoth(t testing.TB, lim Limits, req *coltracepb.ExportTraceServiceRequest) *splitter {
	t.Helper()
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var dec coltracepb.ExportTraceServiceRequest // as a receiver would hand it on
	if err := proto.Unmarshal(enc, &dec); err != nil {
		t.Fatal(err)
	}
	old := &splitter{lim: lim, now: rawNow}
	old.traces(&dec)
	raw := &splitter{lim: lim, now: rawNow}
	if err := raw.rawTraces(enc); err != nil {
		t.Fatalf("raw path refused a valid request: %v", err)
	}
	if old.items != raw.items || old.rejected != raw.rejected || old.why != raw.why || (old.err == nil) != (raw.err == nil) {
		t.Fatalf("old path took %d, rejected %d (%q, %v); raw path took %d, rejected %d (%q, %v)",
			old.items, old.rejected, old.why, old.err, raw.items, raw.rejected, raw.why, raw.err)
	}
	if len(old.parts) != len(raw.parts) {
		t.Fatalf("old path made %d parts, raw path %d", len(old.parts), len(raw.parts))
	}
	for i := range old.parts {
		o, r := old.parts[i], raw.parts[i]
		if o.Value.items != r.Value.items || o.Value.minT != r.Value.minT || o.Value.maxT != r.Value.maxT || o.Size != r.Size {
			t.Fatalf("part %d: old %d items [%d, %d] size %d; raw %d items [%d, %d] size %d", i,
				o.Value.items, o.Value.minT, o.Value.maxT, o.Size, r.Value.items, r.Value.minT, r.Value.maxT, r.Size)
		}
		var om, rm tracepb.ResourceSpans
		if err := proto.Unmarshal(o.Value.b, &om); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(r.Value.b, &rm); err != nil {
			t.Fatalf("part %d of the raw path does not decode: %v", i, err)
		}
		if !proto.Equal(&om, &rm) {
			t.Fatalf("part %d differs:\nold %v\nraw %v", i, &om, &rm)
		}
	}
	return raw
}

func TestRawTracesSplitLikeDecoded(t *testing.T) {
	res := func(name string) *resourcepb.Resource {
		return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", name)}}
	}
	scope := &commonpb.InstrumentationScope{Name: "net/http", Version: "1.2"}
	rs := func(r *resourcepb.Resource, ss ...*tracepb.ScopeSpans) *tracepb.ResourceSpans {
		return &tracepb.ResourceSpans{Resource: r, ScopeSpans: ss, SchemaUrl: "https://opentelemetry.io/schemas/1.26.0"}
	}
	badID := rawSpanAt(7, rawNow, 0)
	badID.SpanId = make([]byte, 8)
	old := rawSpanAt(8, rawNow.Add(-15*24*time.Hour), 0)
	ahead := rawSpanAt(9, rawNow.Add(-time.Minute), 0)
	ahead.EndTimeUnixNano = uint64(rawNow.Add(3 * time.Hour).UnixNano())
	withLinks := rawSpanAt(10, rawNow, 0)
	withLinks.TraceState = "k=v"
	withLinks.Links = []*tracepb.Span_Link{{TraceId: withLinks.TraceId, SpanId: []byte{8, 7, 6, 5, 4, 3, 2, 1}, TraceState: "a=b"}}
	bigScope := &commonpb.InstrumentationScope{Name: strings.Repeat("s", 17_000)}

	tests := []struct {
		name                 string
		lim                  Limits
		req                  *coltracepb.ExportTraceServiceRequest
		wantItems, wantParts int
		wantRejected         int64
	}{
		{"one part", XRayLimits, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: spansAt(20, rawNow, 10)})}}, 20, 1, 0},
		{"request bytes", Limits{MaxRequestBytes: 4096, MaxItems: 10_000}, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: spansAt(60, rawNow, 100)})}}, 60, 4, 0},
		{"span count", Limits{MaxRequestBytes: 1 << 20, MaxItems: 7}, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: spansAt(20, rawNow, 0)})}}, 20, 3, 0},
		{"part target items", XRayLimits, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: spansAt(2100, rawNow.Add(-time.Hour), 0)})}}, 2100, 3, 0},
		{"bytes per span", Limits{MaxRequestBytes: 1 << 20, MaxItems: 100, MaxItemBytes: 300}, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: []*tracepb.Span{rawSpanAt(1, rawNow, 0), rawSpanAt(2, rawNow, 400), rawSpanAt(3, rawNow, 0)}})}}, 2, 2, 1},
		{"span larger than a request", Limits{MaxRequestBytes: 1024, MaxItems: 100}, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: []*tracepb.Span{rawSpanAt(1, rawNow, 0), rawSpanAt(2, rawNow, 2000)}})}}, 1, 1, 1},
		{"resource and scope bytes", XRayLimits, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: bigScope, Spans: spansAt(3, rawNow, 0)}, &tracepb.ScopeSpans{Scope: scope, Spans: spansAt(2, rawNow, 0)})}}, 2, 1, 3},
		{"time window and IDs", XRayLimits, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: []*tracepb.Span{rawSpanAt(1, rawNow, 0), badID, old, rawSpanAt(2, rawNow, 0), ahead, withLinks}})}}, 3, 3, 3},
		{"time gap", XRayLimits, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: []*tracepb.Span{rawSpanAt(1, rawNow.Add(-13*24*time.Hour), 0), rawSpanAt(2, rawNow, 0)}})}}, 2, 2, 0},
		{"several resources and scopes", XRayLimits, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			rs(res("a"), &tracepb.ScopeSpans{Scope: scope, Spans: spansAt(3, rawNow, 0), SchemaUrl: "s"}, &tracepb.ScopeSpans{Spans: spansAt(2, rawNow, 0)}, &tracepb.ScopeSpans{Scope: scope}),
			{ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{}, Spans: spansAt(4, rawNow, 0)}}},
			{Resource: &resourcepb.Resource{}, ScopeSpans: []*tracepb.ScopeSpans{{Spans: spansAt(1, rawNow, 0)}}},
			rs(res("b")),
		}}, 10, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := splitBoth(t, tt.lim, tt.req)
			if sp.items != tt.wantItems || len(sp.parts) != tt.wantParts || sp.rejected != tt.wantRejected {
				t.Fatalf("took %d spans in %d parts, rejected %d (%s); want %d in %d, %d rejected",
					sp.items, len(sp.parts), sp.rejected, sp.why, tt.wantItems, tt.wantParts, tt.wantRejected)
			}
		})
	}
}

// TestRawTracesRefusesWhatUnmarshalRefuses: strings the receiver's flat
// decoder skips are still checked, and nothing is queued.
func TestRawTracesRefusesWhatUnmarshalRefuses(t *testing.T) {
	bad := "\xff\xfe"
	for name, mutate := range map[string]func(*tracepb.ResourceSpans){
		"scope name":  func(rs *tracepb.ResourceSpans) { rs.ScopeSpans[0].Scope.Name = bad },
		"trace state": func(rs *tracepb.ResourceSpans) { rs.ScopeSpans[0].Spans[1].TraceState = bad },
		"link trace state": func(rs *tracepb.ResourceSpans) {
			rs.ScopeSpans[0].Spans[1].Links = []*tracepb.Span_Link{{TraceState: bad}}
		},
		"scope schema URL":   func(rs *tracepb.ResourceSpans) { rs.ScopeSpans[0].SchemaUrl = bad },
		"resource schema":    func(rs *tracepb.ResourceSpans) { rs.SchemaUrl = bad },
		"resource attribute": func(rs *tracepb.ResourceSpans) { rs.Resource.Attributes[0].Key = bad },
	} {
		t.Run(name, func(t *testing.T) {
			rs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "a")}},
				ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "s"}, Spans: spansAt(2, rawNow, 0)}}}
			mutate(rs)
			enc, err := proto.MarshalOptions{}.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{rs}})
			if err == nil {
				err = proto.Unmarshal(enc, new(coltracepb.ExportTraceServiceRequest))
			}
			if err == nil {
				t.Fatal("proto accepts the request; the test needs a bad one")
			}
			enc, _ = proto.MarshalOptions{AllowPartial: true}.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{rs}})
			sp := &splitter{lim: XRayLimits, now: rawNow}
			if err := sp.rawTraces(enc); !errors.Is(err, ErrMalformed) || len(sp.parts) != 0 {
				t.Fatalf("err %v, %d parts; want ErrMalformed and none", err, len(sp.parts))
			}
		})
	}
	sp := &splitter{lim: XRayLimits, now: rawNow}
	if err := sp.rawTraces([]byte{0x0a, 0x05, 0x12}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated request: err %v", err)
	}
}

// FuzzRawTraces: on any request proto accepts, the raw path makes the
// parts the generated-types path makes, under limits small enough to
// split; on any bytes it returns an error or parts, never panics.
func FuzzRawTraces(f *testing.F) {
	for _, req := range []*coltracepb.ExportTraceServiceRequest{
		{ResourceSpans: []*tracepb.ResourceSpans{{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "a")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "s"}, Spans: spansAt(5, rawNow, 30)}}}}},
		{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spansAt(2, rawNow.Add(-20*24*time.Hour), 0)}, {Spans: spansAt(3, rawNow, 0)}}}, {}}},
	} {
		b, _ := proto.Marshal(req)
		f.Add(b, uint16(2000), uint8(3), uint16(250), uint16(100))
	}
	f.Fuzz(func(t *testing.T, b []byte, reqBytes uint16, items uint8, itemBytes, rsBytes uint16) {
		lim := XRayLimits
		lim.MaxRequestBytes = 1024 + int(reqBytes)
		lim.MaxItems = 1 + int(items)
		lim.MaxItemBytes = int(itemBytes)
		lim.MaxResourceScopeBytes = int(rsBytes)
		any := &splitter{lim: lim, now: rawNow}
		_ = any.rawTraces(b) // must not panic
		var req coltracepb.ExportTraceServiceRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		sp := splitBoth(t, lim, &req)
		if n := sp.items + int(sp.rejected); n != countSpans(&req) {
			t.Fatalf("%d spans taken or rejected of %d", n, countSpans(&req))
		}
	})
}

func countSpans(req *coltracepb.ExportTraceServiceRequest) int {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n
}

// TestRawSplitLinear: the raw path's allocations grow linearly.
func TestRawSplitLinear(t *testing.T) {
	allocs := func(n int) float64 {
		enc, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spansAt(n, rawNow.Add(-3*time.Hour), 0)}}}}})
		return testing.AllocsPerRun(5, func() {
			sp := &splitter{lim: XRayLimits, now: rawNow}
			if err := sp.rawTraces(enc); err != nil || sp.items != n {
				t.Fatalf("%d of %d spans taken (%v)", sp.items, n, err)
			}
		})
	}
	a, b := allocs(2000), allocs(8000)
	if b > 4.5*a {
		t.Fatalf("%v allocations for 2,000 spans, %v for 8,000", a, b)
	}
}
