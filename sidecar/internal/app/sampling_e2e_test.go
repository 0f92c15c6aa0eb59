package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
)

// TestLocalModeTracesEverything: an application using Sidelight's
// middleware with its default sampling, pointed at a sidecar in local mode
// (AWS_XRAY_DAEMON_ADDRESS, as in ECS), traces every request: the
// middleware takes the sidecar's local sampling rule (sample everything)
// from its sampling API. With the SDKs' default (one a second, 5 % of the
// rest) a batch of 24 requests gave about 2 traces; the 500s and 404s of
// the ECS tutorial were lost.
func TestLocalModeTracesEverything(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	addrs := a.Addrs()
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", "tcp:"+addrs["xray_tcp"]+" udp:"+addrs["xray_udp"])
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(addrs["xray_udp"]))
	if err != nil {
		t.Fatal(err)
	}
	defer emitter.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "boom":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "1":
			w.Write([]byte(`{"id":"1"}`))
		default:
			http.NotFound(w, r)
		}
	})
	count := func(service, status string) int {
		resp, err := http.Get(addrs["ui"] + "api/traces?limit=1000&service=" + service + "&status=" + status)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var l struct{ Matched int }
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
		return l.Matched
	}
	// The rules arrive in the background, so the first requests may still
	// be decided by the default; each batch has its own service name, and
	// once the rules are in, a whole batch is traced.
	const batch = 24
	for k := range 5 {
		service := fmt.Sprintf("orders%d", k)
		srv := httptest.NewServer(middleware.HTTP(middleware.WithSegmentExporter(emitter), middleware.WithServiceName(service), middleware.WithoutMetrics())(mux))
		for i := range batch {
			id := []string{"1", "boom", "404"}[i%3]
			resp, err := http.Get(srv.URL + "/orders/" + id)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		srv.Close()
		if err := emitter.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Second)
		n := count(service, "")
		for n < batch && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			n = count(service, "")
		}
		t.Logf("batch %d: %d of %d requests traced", k, n, batch)
		if n == batch {
			if ok, fault, errs := count(service, "ok"), count(service, "fault"), count(service, "error"); ok != 8 || fault != 8 || errs != 8 {
				t.Errorf("statuses: %d ok, %d fault, %d error; want 8 of each", ok, fault, errs)
			}
			return
		}
	}
	t.Fatalf("no batch of %d requests was traced whole; local mode should trace every request", batch)
}
