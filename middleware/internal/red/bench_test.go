package red

import (
	"context"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
)

var benchRoutes = []string{"GET /orders/{id}", "POST /orders", "GET /health", "DELETE /orders/{id}"}

func benchRecorder(b *testing.B) *Recorder {
	r, err := New(Config{Service: "checkout", Namespace: "Sidelight", Sink: emftest.NewSink(), Tick: make(chan time.Time)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	for _, rt := range benchRoutes {
		r.Observe(rt, "GET", 200, time.Millisecond, tid(""))
	}
	return r
}

// BenchmarkObserve is the per-request cost the HTTP middleware pays.
func BenchmarkObserve(b *testing.B) {
	r := benchRecorder(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Observe(benchRoutes[i&3], "GET", 200, time.Duration(i&1023)*time.Microsecond, tid("1-5759e988-bd862e3fe1be46a994272793"))
		i++
	}
}

// BenchmarkObserveParallel is Observe from every core at once, spread over
// four routes.
func BenchmarkObserveParallel(b *testing.B) {
	r := benchRecorder(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Observe(benchRoutes[i&3], "GET", 200, time.Duration(i&1023)*time.Microsecond, tid("1-5759e988-bd862e3fe1be46a994272793"))
			i++
		}
	})
}
