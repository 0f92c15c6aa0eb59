package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestHTTPRecordsCORSVerdicts(t *testing.T) {
	f := newFixture(t)
	sink := emftest.NewSink()
	metricOpts := []Option{WithServiceName("api"), WithMetricsSink(sink), WithMetricsNamespace("Shop")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Vary", "Origin")
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		// The error path forgets the CORS headers: the browser blocks it.
		http.Error(w, "db down", http.StatusInternalServerError)
	})
	h := HTTP(append(f.opts(t), metricOpts...)...)(mux)
	for _, p := range []string{"/ok", "/broken", "/broken"} {
		req := httptest.NewRequest("GET", "http://api.example.com"+p, nil)
		req.Header.Set("Origin", "http://app.example.com")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// No Origin: no verdict at all.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://api.example.com/broken", nil))
	if err := f.kit.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs := f.wait(t, 4)
	verdicts := map[string]int{}
	for _, s := range segs {
		v, _ := s.Annotations["cors_verdict"].(string)
		verdicts[v]++
		if v == "blocked" {
			if s.Annotations["cors_code"] != "missing-allow-origin" || s.Annotations["cors_origin"] != "http://app.example.com" || s.Annotations["cors_preflight"] != false {
				t.Errorf("blocked annotations %v", s.Annotations)
			}
			if s.Annotations["cors_reason"] == "" {
				t.Error("no reason")
			}
		}
	}
	if verdicts["allowed"] != 1 || verdicts["blocked"] != 2 || verdicts[""] != 1 {
		t.Errorf("verdicts %v", verdicts)
	}
	blocked, err := sink.Values("CORSBlocked")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocked) != 1 || blocked[0] != 2 {
		t.Fatalf("CORSBlocked values %v, want [2]", blocked)
	}
	docs, _ := sink.Decoded()
	found := false
	for i, d := range docs {
		if _, ok := d["CORSBlocked"]; ok {
			found = true
			if d["Route"] != "GET /broken" || d["Reason"] != "missing-allow-origin" || d["Service"] != "api" {
				t.Errorf("CORSBlocked dimensions %v", d)
			}
			if err := schematest.EMF(sink.Documents()[i]); err != nil {
				t.Error(err)
			}
		}
	}
	if !found {
		t.Error("no CORSBlocked document")
	}
}
