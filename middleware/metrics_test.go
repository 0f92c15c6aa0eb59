package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestHTTPMetrics(t *testing.T) {
	f := newFixture(t)
	sink := emftest.NewSink()
	metricOpts := []Option{WithServiceName("orders"), WithMetricsSink(sink), WithMetricsNamespace("Shop"), withMetricsMaxRoutes(2)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "missing":
			w.WriteHeader(404)
		case "busy":
			w.WriteHeader(429)
		case "broken":
			w.WriteHeader(500)
		}
	})
	mux.HandleFunc("GET /a", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /b", func(w http.ResponseWriter, r *http.Request) {})
	h := HTTP(append(f.opts(t), metricOpts...)...)(mux)
	for _, p := range []string{"/orders/1", "/orders/2", "/orders/missing", "/orders/busy", "/orders/broken", "/nowhere", "/a", "/b"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	req := httptest.NewRequest("BREW", "/orders/1", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if err := f.kit.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs := f.wait(t, 9)
	traceIDs := map[string]bool{}
	for _, s := range segs {
		traceIDs[s.TraceID] = true
	}

	docs, err := sink.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no EMF documents")
	}
	for _, raw := range sink.Documents() {
		if err := schematest.EMF(raw); err != nil {
			t.Fatalf("EMF schema: %v\n%s", err, raw)
		}
	}
	sum := func(name string) float64 {
		vals, err := sink.Values(name)
		if err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for _, v := range vals {
			total += v
		}
		return total
	}
	if got := sum("Requests"); got != 9 {
		t.Errorf("Requests = %v, want 9", got)
	}
	// 404, 429, the unmatched path's 404 and ServeMux's 405 for BREW.
	if got := sum("ClientErrors"); got != 4 {
		t.Errorf("ClientErrors = %v, want 4", got)
	}
	if got := sum("Faults"); got != 1 {
		t.Errorf("Faults = %v, want 1", got)
	}
	if got := sum("Throttles"); got != 1 {
		t.Errorf("Throttles = %v, want 1", got)
	}
	routes := map[string]bool{}
	methods := map[string]bool{}
	linked := false
	for _, d := range docs {
		routes[d["Route"].(string)] = true
		methods[d["Method"].(string)] = true
		if d["Service"] != "orders" {
			t.Errorf("Service dimension %v", d["Service"])
		}
		for k, v := range d {
			if s, ok := v.(string); ok && traceIDs[s] && k != "Route" {
				linked = true
			}
		}
	}
	for _, want := range []string{"GET /orders/{id}", "unmatched", "overflow"} {
		if !routes[want] {
			t.Errorf("no documents for route %q: %v", want, routes)
		}
	}
	if !methods["OTHER"] || methods["BREW"] {
		t.Errorf("unknown method not collapsed: %v", methods)
	}
	if !linked {
		t.Error("no document carries a trace ID of a request")
	}
}
