package corscheck

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func benchEvaluate(b *testing.B, req, resp http.Header, method string, status int, wantOK bool) {
	r := httptest.NewRequest(method, "http://api.example/items", nil)
	r.Header = req
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, ok := Evaluate(r, status, resp); ok != wantOK {
			b.Fatalf("ok = %v", ok)
		}
	}
}

// BenchmarkNoOrigin is the cost on requests that carry no Origin: the case
// of every same-origin GET, server-to-server call and health check.
func BenchmarkNoOrigin(b *testing.B) {
	req := h("Accept", "application/json", "User-Agent", "bench", "Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	benchEvaluate(b, req, h("Content-Type", "application/json"), "GET", 200, false)
}

func BenchmarkAllowed(b *testing.B) {
	benchEvaluate(b, actual("Accept", "application/json"), h("Content-Type", "application/json", "Access-Control-Allow-Origin", page, "Vary", "Origin"), "GET", 200, true)
}

func BenchmarkBlocked(b *testing.B) {
	benchEvaluate(b, actual("Accept", "application/json"), h("Content-Type", "application/json"), "GET", 502, true)
}

func BenchmarkPreflightAllowed(b *testing.B) {
	req := preflight("PUT", "authorization,content-type,traceparent,x-amzn-trace-id")
	resp := h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Methods", "GET, PUT, DELETE",
		"Access-Control-Allow-Headers", "Authorization, Content-Type, Traceparent, X-Amzn-Trace-Id", "Access-Control-Max-Age", "600", "Vary", "Origin")
	benchEvaluate(b, req, resp, "OPTIONS", 204, true)
}

func BenchmarkPreflightBlocked(b *testing.B) {
	req := preflight("PUT", "content-type,traceparent")
	resp := h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Methods", "GET, PUT", "Access-Control-Allow-Headers", "Content-Type", "Vary", "Origin")
	benchEvaluate(b, req, resp, "OPTIONS", 204, true)
}

func BenchmarkEventAllowed(b *testing.B) {
	e := &Event{
		Method:          "GET",
		RequestHeaders:  map[string]string{"origin": page, "host": "api.example", "accept": "*/*", "sec-fetch-mode": "cors", "sec-fetch-site": "cross-site"},
		Status:          200,
		ResponseHeaders: map[string]string{"content-type": "application/json", "access-control-allow-origin": page, "vary": "Origin"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if v, ok := EvaluateEvent(e); !ok || v.Outcome != Allowed {
			b.Fatal(v)
		}
	}
}
