package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	awsprop "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/allocs"
)

const (
	w3cTrace   = "5759e988bd862e3fe1be46a994272793"
	xrayTrace  = "1-5759e988-bd862e3fe1be46a994272793"
	otherXRay  = "1-6a1b2c3d-0123456789abcdef01234567"
	w3cParent  = "53995c3f42cd8ad8"
	xrayParent = "1a2b3c4d5e6f7081"
	testState  = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
)

// capture is a downstream service that keeps the trace headers of the
// last request it got.
type capture struct {
	srv    *httptest.Server
	header http.Header
}

func newCapture(t *testing.T) *capture {
	c := &capture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.header = r.Header.Clone()
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// Incoming W3C and X-Ray headers, alone, together, agreeing and not, by
// the default order and by others: the segment continues the trace the
// order picks, its sampling decision is followed, and the call the handler
// makes carries both headers for that trace, with tracestate only when it
// belongs to it.
func TestHTTPReadsTraceparent(t *testing.T) {
	tp := func(trace, parent, flags string) string { return "00-" + trace + "-" + parent + "-" + flags }
	tests := []struct {
		name       string
		xray, tp   string
		tracestate string
		order      []TraceHeader
		wantTrace  string // "" means: a new trace
		wantParent string
		sampled    bool
		wantState  string
	}{
		{name: "w3c only", tp: tp(w3cTrace, w3cParent, "01"), tracestate: testState, wantTrace: xrayTrace, wantParent: w3cParent, sampled: true, wantState: testState},
		{name: "w3c not sampled", tp: tp(w3cTrace, w3cParent, "00"), wantTrace: xrayTrace, sampled: false},
		{name: "xray only", xray: "Root=" + xrayTrace + ";Parent=" + xrayParent + ";Sampled=1", wantTrace: xrayTrace, wantParent: xrayParent, sampled: true},
		{name: "both agree", xray: "Root=" + xrayTrace + ";Parent=" + xrayParent + ";Sampled=1", tp: tp(w3cTrace, w3cParent, "01"), tracestate: testState, wantTrace: xrayTrace, wantParent: xrayParent, sampled: true, wantState: testState},
		{name: "xray root only takes w3c parent and flag", xray: "Root=" + xrayTrace, tp: tp(w3cTrace, w3cParent, "01"), wantTrace: xrayTrace, wantParent: w3cParent, sampled: true},
		{name: "disagree default prefers xray", xray: "Root=" + otherXRay + ";Parent=" + xrayParent + ";Sampled=1", tp: tp(w3cTrace, w3cParent, "01"), tracestate: testState, wantTrace: otherXRay, wantParent: xrayParent, sampled: true},
		{name: "disagree w3c first", xray: "Root=" + otherXRay + ";Parent=" + xrayParent + ";Sampled=1", tp: tp(w3cTrace, w3cParent, "01"), tracestate: testState, order: []TraceHeader{W3CHeader, XRayHeader}, wantTrace: xrayTrace, wantParent: w3cParent, sampled: true, wantState: testState},
		{name: "malformed xray falls back to w3c", xray: "Root=garbage", tp: tp(w3cTrace, w3cParent, "01"), wantTrace: xrayTrace, wantParent: w3cParent, sampled: true},
		{name: "w3c only order ignores xray", xray: "Root=" + xrayTrace + ";Parent=" + xrayParent + ";Sampled=1", order: []TraceHeader{W3CHeader}, sampled: true},
		{name: "xray only order ignores w3c", tp: tp(w3cTrace, w3cParent, "01"), order: []TraceHeader{XRayHeader}, sampled: true},
		{name: "invalid tracestate dropped", tp: tp(w3cTrace, w3cParent, "01"), tracestate: "a=1,a=2", wantTrace: xrayTrace, wantParent: w3cParent, sampled: true},
		{name: "malformed w3c", tp: "00-" + strings.ToUpper(w3cTrace) + "-" + w3cParent + "-01", sampled: true},
	}
	t.Setenv("OTEL_PROPAGATORS", "") // the default order
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			down := newCapture(t)
			client := &http.Client{Transport: Transport(nil, WithSegmentExporter(f.emitter))}
			var seen trace.SpanContext
			opts := f.opts(t)
			if tt.order != nil {
				opts = append(opts, WithTraceHeaderOrder(tt.order...))
			}
			h := HTTP(opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = trace.SpanContextFromContext(r.Context())
				req, _ := http.NewRequestWithContext(r.Context(), "GET", down.srv.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if tt.xray != "" {
				req.Header.Set("X-Amzn-Trace-Id", tt.xray)
			}
			if tt.tp != "" {
				req.Header.Set("traceparent", tt.tp)
			}
			if tt.tracestate != "" {
				req.Header.Set("tracestate", tt.tracestate)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)

			gotTrace := xray.FormatTraceID(seen.TraceID())
			if tt.wantTrace != "" && gotTrace != tt.wantTrace {
				t.Errorf("handler's span context trace %s, want %s", gotTrace, tt.wantTrace)
			}
			if tt.wantTrace == "" && (gotTrace == xrayTrace || gotTrace == otherXRay) {
				t.Errorf("want a new trace, got %s", gotTrace)
			}
			if seen.IsSampled() != tt.sampled {
				t.Errorf("sampled = %v, want %v", seen.IsSampled(), tt.sampled)
			}
			if got := seen.TraceState().String(); got != tt.wantState {
				t.Errorf("span context tracestate %q, want %q", got, tt.wantState)
			}

			// Downstream: both headers, same trace, same parent, same decision.
			xh, err := xray.ParseHeader(down.header.Get("X-Amzn-Trace-Id"))
			if err != nil {
				t.Fatalf("downstream X-Amzn-Trace-Id %q: %v", down.header.Get("X-Amzn-Trace-Id"), err)
			}
			p, err := xray.ParseTraceparent(down.header.Get("Traceparent"))
			if err != nil {
				t.Fatalf("downstream traceparent %q: %v", down.header.Get("Traceparent"), err)
			}
			if xh.TraceID != seen.TraceID() || p.TraceID != seen.TraceID() || xh.ParentID != p.ParentID || p.Sampled != tt.sampled || (xh.Sampled == xray.Sampled) != tt.sampled {
				t.Errorf("downstream got %q and %q for trace %s", down.header.Get("X-Amzn-Trace-Id"), down.header.Get("Traceparent"), gotTrace)
			}
			if got := down.header.Get("Tracestate"); got != tt.wantState {
				t.Errorf("downstream tracestate %q, want %q", got, tt.wantState)
			}

			if !tt.sampled {
				_ = f.emitter.ForceFlush(context.Background())
				if docs, _ := f.daemon.Documents(); len(docs) != 0 {
					t.Fatalf("unsampled request sent %d documents", len(docs))
				}
				return
			}
			seg := f.wait(t, 1)[0]
			if seg.TraceID != gotTrace || seg.ParentID != tt.wantParent {
				t.Errorf("segment trace %s parent %q, want %s %q", seg.TraceID, seg.ParentID, gotTrace, tt.wantParent)
			}
			if len(seg.Subsegments) != 1 || seg.Subsegments[0].ID != xh.ParentID.String() {
				t.Errorf("downstream parent %s is not the remote subsegment: %s", xh.ParentID, pretty(seg))
			}
		})
	}
}

// OpenTelemetry's own propagators read what Transport writes: the contrib
// X-Ray propagator and W3C TraceContext find the same trace, parent and
// decision, and TraceContext the tracestate.
func TestOutgoingHeadersReadByOpenTelemetryPropagators(t *testing.T) {
	f := newFixture(t)
	down := newCapture(t)
	client := &http.Client{Transport: Transport(nil, WithSegmentExporter(f.emitter))}
	h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", down.srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("traceparent", "00-"+w3cTrace+"-"+w3cParent+"-01")
	req.Header.Set("tracestate", testState)
	h.ServeHTTP(httptest.NewRecorder(), req)
	seg := f.wait(t, 1)[0]
	if len(seg.Subsegments) != 1 {
		t.Fatalf("want one remote subsegment: %s", pretty(seg))
	}
	carrier := propagation.HeaderCarrier(down.header)
	for _, prop := range []struct {
		name  string
		p     propagation.TextMapPropagator
		state string
	}{
		{"contrib xray", awsprop.Propagator{}, ""},
		{"tracecontext", propagation.TraceContext{}, testState},
	} {
		sc := trace.SpanContextFromContext(prop.p.Extract(context.Background(), carrier))
		if !sc.IsValid() || sc.TraceID().String() != w3cTrace || sc.SpanID().String() != seg.Subsegments[0].ID || !sc.IsSampled() || !sc.IsRemote() {
			t.Errorf("%s read %v from %v", prop.name, sc, down.header)
		}
		if got := sc.TraceState().String(); got != prop.state {
			t.Errorf("%s read tracestate %q, want %q", prop.name, got, prop.state)
		}
	}
}

// Parsing both trace headers of a realistic request: no allocation.
func TestIncomingTraceDoesNotAllocate(t *testing.T) {
	t.Setenv("OTEL_PROPAGATORS", "")
	cfg := newConfig(nil)
	h := realisticTraceHeaders()
	n := testing.AllocsPerRun(100, func() {
		if _, _, ok := cfg.incomingTrace(h); !ok {
			t.Fatal("no trace")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

// BenchmarkIncomingTrace parses the X-Amzn-Trace-Id, traceparent and
// tracestate of a request that carries all three.
//
//	go test -run '^$' -bench IncomingTrace -benchmem ./middleware
func BenchmarkIncomingTrace(b *testing.B) {
	cfg := newConfig(nil)
	h := realisticTraceHeaders()
	b.ReportAllocs()
	for b.Loop() {
		cfg.incomingTrace(h)
	}
}

func realisticTraceHeaders() http.Header {
	h := http.Header{}
	h.Set("X-Amzn-Trace-Id", "Root="+xrayTrace+";Parent="+xrayParent+";Sampled=1;Lineage=a87bd80c:1|68fd508a:5")
	h.Set("traceparent", "00-"+w3cTrace+"-"+w3cParent+"-01")
	h.Set("tracestate", testState)
	return h
}

func TestWithTraceHeaderOrderIgnoresUnknown(t *testing.T) {
	t.Setenv("OTEL_PROPAGATORS", "")
	c := newConfig([]Option{WithTraceHeaderOrder(TraceHeader(9), W3CHeader, W3CHeader)})
	if len(c.headerOrder) != 1 || c.headerOrder[0] != W3CHeader {
		t.Errorf("order %v, want [tracecontext]", c.headerOrder)
	}
	c = newConfig([]Option{WithTraceHeaderOrder()})
	if c.headerOrder != nil {
		t.Errorf("empty order gave %v, want the default", c.headerOrder)
	}
}

func TestTraceHeaderOrderFromEnv(t *testing.T) {
	x, w := XRayHeader, W3CHeader
	tests := []struct {
		env  string
		want []TraceHeader
	}{
		{"", nil},
		{"baggage,b3", nil},
		{"tracecontext,baggage", []TraceHeader{w, x}},
		{"xray", []TraceHeader{x, w}},
		{"tracecontext,xray", []TraceHeader{x, w}},
		{"xray, TraceContext", []TraceHeader{w, x}},
		{"tracecontext,xray-lambda,baggage", []TraceHeader{x, w}},
		{"xray,tracecontext,xray", []TraceHeader{x, w}},
	}
	for _, tt := range tests {
		got := traceHeaderOrderFromEnv(tt.env)
		if len(got) != len(tt.want) || (len(got) > 0 && (got[0] != tt.want[0] || got[1] != tt.want[1])) {
			t.Errorf("OTEL_PROPAGATORS=%q: order %v, want %v", tt.env, got, tt.want)
		}
	}
	t.Setenv("OTEL_PROPAGATORS", "xray,tracecontext")
	if c := newConfig(nil); len(c.headerOrder) != 2 || c.headerOrder[0] != W3CHeader {
		t.Errorf("config order %v under OTEL_PROPAGATORS=xray,tracecontext", c.headerOrder)
	}
	if c := newConfig([]Option{WithTraceHeaderOrder(XRayHeader)}); len(c.headerOrder) != 1 || c.headerOrder[0] != XRayHeader {
		t.Errorf("the option must win over OTEL_PROPAGATORS: %v", c.headerOrder)
	}
}

// The work of reading the trace headers grows at most linearly with what
// a client sends, and what is kept stays bounded: many tracestate lines,
// counted in bytes allocated at n and 4n.
func TestIncomingTraceLinear(t *testing.T) {
	t.Setenv("OTEL_PROPAGATORS", "")
	cfg := newConfig(nil)
	work := func(lines int) (uint64, int) {
		h := realisticTraceHeaders()
		for i := range lines {
			h.Add("tracestate", "k"+strings.Repeat("x", i%7)+"=v")
		}
		kept := 0
		b := allocs.Bytes(5, func() {
			_, ts, ok := cfg.incomingTrace(h)
			if !ok {
				t.Fatal("no trace")
			}
			kept = len(ts)
		})
		return b, kept
	}
	const n = 2000
	bN, keptN := work(n)
	b4N, kept4N := work(4 * n)
	t.Logf("bytes allocated: %d at n=%d, %d at 4n; kept %d and %d bytes", bN, n, b4N, keptN, kept4N)
	if b4N > 4*bN+2048 {
		t.Fatalf("allocated %d bytes at n but %d at 4n: super-linear", bN, b4N)
	}
	if keptN > xray.MaxTracestateLength || kept4N > xray.MaxTracestateLength {
		t.Fatalf("kept %d and %d bytes of tracestate", keptN, kept4N)
	}
}

// FuzzIncomingTrace reads arbitrary trace headers: the trace followed is
// valid and is the one a header named, and the tracestate is bounded.
func FuzzIncomingTrace(f *testing.F) {
	f.Add("Root="+xrayTrace+";Parent="+xrayParent+";Sampled=1", "00-"+w3cTrace+"-"+w3cParent+"-01", testState, false)
	f.Add("Root="+otherXRay, "00-"+w3cTrace+"-"+w3cParent+"-00", "a=1,,b=2", true)
	f.Add("", "cc-"+w3cTrace+"-"+w3cParent+"-01-x", "", false)
	cfgX := newConfig(nil)
	cfgW := newConfig([]Option{WithTraceHeaderOrder(W3CHeader, XRayHeader)})
	f.Fuzz(func(t *testing.T, xh, tp, ts string, w3cFirst bool) {
		h := http.Header{}
		h.Set("X-Amzn-Trace-Id", xh)
		h.Set("Traceparent", tp)
		h.Set("Tracestate", ts)
		cfg := cfgX
		if w3cFirst {
			cfg = cfgW
		}
		got, state, ok := cfg.incomingTrace(h)
		x, xerr := xray.ParseHeader(xh)
		p, perr := xray.ParseTraceparent(tp)
		if ok != (xerr == nil || perr == nil) {
			t.Fatalf("ok = %v with header errors %v, %v", ok, xerr, perr)
		}
		if !ok {
			if got != (xray.Header{}) || state != "" {
				t.Fatalf("no trace, yet %+v %q", got, state)
			}
			return
		}
		if !got.TraceID.IsValid() || (got.TraceID != x.TraceID && got.TraceID != p.TraceID) {
			t.Fatalf("followed trace %s, headers name %s and %s", got.TraceID, x.TraceID, p.TraceID)
		}
		if len(state) > xray.MaxTracestateLength || (state != "" && (perr != nil || p.TraceID != got.TraceID)) {
			t.Fatalf("tracestate %q passed on for trace %s (traceparent %q)", state, got.TraceID, tp)
		}
	})
}
