package red

import (
	"context"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// FuzzObserve feeds arbitrary request data to Observe: every flush must
// produce valid EMF documents whose Requests add up to what was observed.
func FuzzObserve(f *testing.F) {
	f.Add("GET /orders/{id}", "GET", 200, int64(time.Millisecond), "1-5759e988-bd862e3fe1be46a994272793")
	f.Add("", "brew", 999, int64(-1), "")
	f.Add("\x00\xff ü\"\\", "DELETE", 429, int64(1<<62), "\n")
	f.Fuzz(func(t *testing.T, route, method string, status int, d int64, trace string) {
		sink := emftest.NewSink()
		r, err := New(Config{Service: "s", Namespace: "N", Sink: sink, Tick: make(chan time.Time), MaxRoutes: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Shutdown(context.Background())
		r.Observe(route, method, status, time.Duration(d), tid(trace))
		r.Observe(route+"x", method, status, time.Duration(d), tid(trace))
		if err := r.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for _, doc := range sink.Documents() {
			if err := schematest.EMF(doc); err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
		}
		v, err := sink.Values("Requests")
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			total += x
		}
		if total != 2 {
			t.Fatalf("Requests sum %v, want 2", total)
		}
	})
}
