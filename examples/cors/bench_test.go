package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// BenchmarkAPI measures a request through the example's API handler
// (middleware.HTTP around the scenario routes, every request traced), with
// and without CORS verdicts, for an allowed cross-origin request, a blocked
// one and one without Origin: the price of keeping the check on.
func BenchmarkAPI(b *testing.B) {
	// A daemon that reads and discards, so that decoding segments does not
	// count against the handler.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 1<<16)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	defer func() { pc.Close(); <-read }()
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(pc.LocalAddr().String()), xray.WithDropWhenFull())
	if err != nil {
		b.Fatal(err)
	}
	defer emitter.Shutdown(context.Background())
	kit, err := middleware.New(middleware.WithSegmentExporter(emitter), middleware.WithMetricsSink(emftest.NewSink()), middleware.WithMetricsNamespace("Bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer kit.Shutdown(context.Background())
	rules, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		b.Fatal(err)
	}
	checker, err := corscheck.New(corscheck.WithNeededResponseHeaders(corsscenarios.NeededHeader))
	if err != nil {
		b.Fatal(err)
	}
	const origin = "http://127.0.0.1:8091"
	api := corsscenarios.New(corsscenarios.Config{AllowedOrigins: []string{origin}})
	base := []middleware.Option{middleware.WithKit(kit), middleware.WithSamplingRules(rules), middleware.WithServiceName(apiService)}
	handlers := map[string]http.Handler{
		"verdicts":    middleware.HTTP(append(base, middleware.WithCORSChecker(checker))...)(api),
		"no-verdicts": middleware.HTTP(append(base, middleware.WithoutCORSVerdicts())...)(api),
	}
	for _, mode := range []string{"verdicts", "no-verdicts"} {
		for _, c := range []struct{ name, path, origin string }{
			{"allowed", "/s1/fixed", origin},
			{"blocked", "/s1/broken", origin},
			{"no-origin", "/s1/fixed", ""},
		} {
			b.Run(mode+"/"+c.name, func(b *testing.B) {
				h := handlers[mode]
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8090"+c.path, nil)
				if c.origin != "" {
					req.Header.Set("Origin", c.origin)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}
