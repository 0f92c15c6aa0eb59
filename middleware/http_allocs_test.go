package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// lastSegment is an exporter that keeps what the tests below read of the
// last segment, without allocating.
type lastSegment struct {
	url, name string
	n         int
}

func (l *lastSegment) ExportSegment(s *xray.Segment) {
	l.url, l.name = s.HTTP.URL, s.Name
	l.n++
}
func (l *lastSegment) ForceFlush(context.Context) error { return nil }
func (l *lastSegment) Shutdown(context.Context) error   { return nil }

// realisticRequest is issue 14's request: a load balancer's trace header
// with Sampled=1, X-Forwarded-For and a browser's user agent.
func realisticRequest(path string) *http.Request {
	r := httptest.NewRequest("GET", "http://api.example.com"+path, nil)
	r.Header.Set("X-Amzn-Trace-Id", "Root=1-655b1e80-0102030405060708090a0b0c;Parent=53995c3f42cd8ad8;Sampled=1")
	r.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	r.RemoteAddr = "10.0.0.1:41234"
	return r
}

func allocsKit(t *testing.T, exp xray.SegmentExporter) *Kit {
	t.Helper()
	k, err := New(WithSegmentExporter(exp), WithServiceName("allocs"), WithSamplingRules(always(t)), WithoutMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	return k
}

// reusableWriter is a ResponseWriter that allocates nothing per request.
type reusableWriter struct{ h http.Header }

func (w *reusableWriter) Header() http.Header         { return w.h }
func (w *reusableWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *reusableWriter) WriteHeader(int)             {}

// A traced request costs two allocations over the bare handler: the
// request's state (which also holds the response's trace header and the
// segment's URL, and answers for the OpenTelemetry span) and the request
// copy that carries it. It cost five before the trace header, the URL and
// the context value of trace.ContextWithSpan had allocations of their own.
func TestHTTPAllocationsOverBareHandler(t *testing.T) {
	exp := &lastSegment{}
	k := allocsKit(t, exp)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"42"}`)
	})
	traced := k.HTTP()(mux)
	req := realisticRequest("/users/42")
	w := &reusableWriter{h: make(http.Header)}
	count := func(h http.Handler) float64 {
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			h.ServeHTTP(w, req)
		})
	}
	bare, with := count(mux), count(traced)
	if exp.n == 0 || exp.url != "http://api.example.com/users/42" {
		t.Fatalf("%d segments exported, last URL %q", exp.n, exp.url)
	}
	if over := with - bare; over > 2 {
		t.Errorf("%v allocations over the bare handler's %v, want at most 2", over, bare)
	}
}

// The response header and the URL share the state's room; each request has
// its own, so what an earlier request was given stays as it was, and a URL
// too long for the room is allocated on its own.
func TestHTTPTextOfEachRequestStaysItsOwn(t *testing.T) {
	exp := &lastSegment{}
	k := allocsKit(t, exp)
	var spans []trace.Span
	h := k.HTTP()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spans = append(spans, trace.SpanFromContext(r.Context()))
	}))
	type seen struct{ url, header string }
	var got []seen
	paths := []string{"/a", "/" + strings.Repeat("long/", 60), "/b"}
	for _, p := range paths {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, realisticRequest(p))
		got = append(got, seen{exp.url, rec.Header().Get(xray.HeaderName)})
	}
	const wantHeader = "Root=1-655b1e80-0102030405060708090a0b0c;Parent=53995c3f42cd8ad8;Sampled=1"
	for i, p := range paths {
		if want := "http://api.example.com" + p; got[i].url != want {
			t.Errorf("request %d: URL %q, want %q", i, got[i].url, want)
		}
		if got[i].header != wantHeader {
			t.Errorf("request %d: response header %q, want %q", i, got[i].header, wantHeader)
		}
	}
	// The handler's context answers for the request's span.
	for i, s := range spans {
		st, ok := s.(*state)
		if !ok {
			t.Fatalf("request %d: span from context is a %T, want the request state", i, s)
		}
		if sc := s.SpanContext(); sc.TraceID().String() != "655b1e800102030405060708090a0b0c" || !sc.IsSampled() || !sc.Equal(st.sc) {
			t.Errorf("request %d: span context %v", i, sc)
		}
	}
}

// spanKey is learnt from OpenTelemetry's own lookup; a context that sets
// another span above the state's still wins, as with trace.ContextWithSpan.
func TestStateAnswersForTheSpan(t *testing.T) {
	if spanKey == nil {
		t.Fatal("the key trace.SpanFromContext looks spans up by was not learnt")
	}
	st := newState(context.Background(), newConfig(nil), trace.TraceID{1}, trace.SpanID{2}, true, xray.Header{})
	if got := trace.SpanFromContext(st); got != trace.Span(st) {
		t.Fatalf("SpanFromContext = %T", got)
	}
	child := trace.ContextWithSpanContext(st, trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{3}}))
	if got := trace.SpanContextFromContext(child).SpanID(); got != (trace.SpanID{3}) {
		t.Fatalf("span set above the state: found %v", got)
	}
	if s, ok := stateFrom(child); !ok || s != st {
		t.Fatal("state not found below a span set above it")
	}
}
