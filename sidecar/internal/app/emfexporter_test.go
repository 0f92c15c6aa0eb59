package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
)

// TestOwnEMFExporterThroughSidecar: metrics from Sidelight's own EMF
// logger, sent with its agent sink over TCP (as the middleware does in
// ECS), arrive in PutMetricData with every value and count.
func TestOwnEMFExporterThroughSidecar(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	a := startAWS(t, fake, testConfig(), nil)
	sink, err := emf.NewAgentSink("tcp://" + a.Addrs()["emf_tcp"])
	if err != nil {
		t.Fatal(err)
	}
	l, err := emf.New(emf.WithSink(sink), emf.WithNamespace("Shop"),
		emf.WithDefaultDimensions(emf.Dimension{Name: "Service", Value: "orders"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 500 {
		if err := l.PutMetric("Latency", float64(i%50), emf.Milliseconds); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for a.Counters().Get("emf.accepted") < 500 {
		select {
		case <-ctx.Done():
			t.Fatalf("EMF not all read: %v", a.Counters().Snapshot())
		case <-time.After(10 * time.Millisecond): // polling the sidecar's counters
		}
	}
	shutdown(t, a)
	got, stats := emfgen.Received(fake.Metrics())
	if len(stats) != 0 {
		t.Fatalf("statistic sets %v", stats)
	}
	seen := 0
	for id, vals := range got {
		if !strings.HasPrefix(id, "Shop|Latency|Milliseconds|60|") {
			t.Fatalf("unexpected metric %s", id)
		}
		seen++
		if len(vals) != 50 {
			t.Fatalf("%s: %d distinct values", id, len(vals))
		}
		for v, n := range vals {
			if n != 10 {
				t.Fatalf("%s: value %v counted %v times, want 10", id, v, n)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no Latency metric delivered")
	}
}
