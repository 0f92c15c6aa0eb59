package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
)

// TestXRayOutageDoesNotStarveMetrics (issue 12, item 3): X-Ray answers
// 503 to every request, so retried segments fill the memory budget (twice
// over); CloudWatch is healthy. Every metric value still arrives, and
// every segment is accounted for: sent, or dropped and counted by reason.
// Before the budget was shared out, a queue could only drop its own
// entries, and every metric was dropped as budget_full.
func TestXRayOutageDoesNotStarveMetrics(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.Fail(fakeaws.XRay, 100_000, fakeaws.Fault503) // down for the whole test
	c := testConfig()
	c.MemoryBudget = 1 << 20
	c.MetricsFlush = time.Second
	a := startAWS(t, fake, c, nil)
	cs := a.Counters()

	const segments = 6000 // about 2 MB with the queue's per-entry overhead
	sendSegments(t, a.Addrs()["xray_udp"], segments)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitFor := func(what string, cond func() bool) { t.Helper(); waitCounters(t, ctx, a, what, cond) }
	waitFor("segments read and the budget full", func() bool {
		return cs.Get("segments.received") == segments && cs.Get("segments.dropped.budget_full") > 0 &&
			cs.Get("segments.retried.server_error") > 0
	})

	prod := emfgen.NewProducer("ns", 3)
	prod.TimestampMs = time.Now().UnixMilli() // CloudWatch takes only recent datapoints
	sendEMFLines(t, a.Addrs()["emf_tcp"], prod, 1000)
	waitFor("metrics delivered", func() bool {
		if cs.Get("metrics.dropped.budget_full") > 0 {
			t.Fatalf("metrics dropped for lack of budget while X-Ray is down: %v", cs.Snapshot())
		}
		got, _ := emfgen.Received(fake.Metrics())
		return emfgen.Diff(prod.Want, got) == ""
	})

	// Stop with X-Ray still down: what is queued is dropped at shutdown.
	sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer scancel()
	if err := a.Shutdown(sctx); err == nil {
		t.Fatal("shutdown reported nothing left while X-Ray was down")
	}
	var dropped uint64
	for _, name := range cs.Names() {
		if strings.HasPrefix(name, "segments.dropped.") {
			dropped += cs.Get(name)
		}
		if strings.HasPrefix(name, "metrics.dropped.") && cs.Get(name) != 0 {
			t.Errorf("%s = %d", name, cs.Get(name))
		}
	}
	if sent := cs.Get("segments.sent"); sent != 0 || dropped != segments || cs.Get("segments.dropped.shutdown") == 0 {
		t.Fatalf("%d segments received, %d sent, %d dropped: %v", segments, sent, dropped, cs.Snapshot())
	}
}
