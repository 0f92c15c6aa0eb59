package otlphttp

import (
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "soon": 0,
		"Mon, 07 Dec 2026 12:00:10 GMT": 10 * time.Second,
		"Mon, 07 Dec 2026 11:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

// FuzzAnswer: any answer body or Retry-After value is read without a
// panic, and a rejected count is never negative after the cap.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte{0x0a, 0x04, 0x08, 0x02, 0x12, 0x00}, "5")
	f.Add([]byte("plain text"), "Mon, 07 Dec 2026 12:00:10 GMT")
	f.Fuzz(func(t *testing.T, body []byte, ra string) {
		for _, sig := range []Signal{Traces, Metrics, Logs} {
			_, _ = partialSuccess(sig, body)
		}
		_ = errorMessage(body)
		if d := parseRetryAfter(ra, time.Now()); d < 0 {
			t.Fatalf("negative Retry-After %s", d)
		}
	})
}

// TestSplitLinear: splitting 4n spans allocates about 4 times what n
// spans do (one pass, parts encoded once).
func TestSplitLinear(t *testing.T) {
	allocs := func(n int) float64 {
		spans := make([]*tracepb.Span, n)
		for i := range spans {
			spans[i] = &tracepb.Span{TraceId: []byte("0123456789abcdef"), SpanId: []byte("01234567"), Name: "op", StartTimeUnixNano: 1}
		}
		ss := &tracepb.ScopeSpans{Spans: spans}
		return testing.AllocsPerRun(5, func() {
			sp := &splitter{lim: XRayLimits, now: time.Unix(0, 1)}
			sp.spans(nil, "", ss)
			if sp.items != n {
				t.Fatalf("%d of %d spans taken", sp.items, n)
			}
		})
	}
	a, b := allocs(5000), allocs(20000)
	if b > 4.5*a {
		t.Fatalf("%v allocations for 5,000 spans, %v for 20,000", a, b)
	}
}
