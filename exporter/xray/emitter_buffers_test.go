package xray

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestEmitterReusesBuffersAcrossGC checks that a busy emitter encodes into
// the buffers it has written before, even after garbage collections (which
// empty a sync.Pool): a burst of segments costs no new buffers.
func TestEmitterReusesBuffersAcrossGC(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	seg := &Segment{Name: "svc", TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(time.Millisecond)}
	const burst = 32
	round := func() {
		for range burst {
			e.ExportSegment(seg)
		}
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	round() // the buffers now exist
	allocs := testing.AllocsPerRun(10, func() {
		runtime.GC()
		runtime.GC()
		round()
	})
	// ForceFlush makes its acknowledgement channel; a buffer per segment
	// would be 32 more.
	if allocs > burst/4 {
		t.Fatalf("%.1f allocations for a burst of %d segments after a GC, want at most %d", allocs, burst, burst/4)
	}
	if got := receive(t, conn, 11*burst); len(got) != 11*burst {
		t.Fatalf("received %d documents", len(got))
	}
}

// TestSenderKeepsUpWithOneProcessor checks that with GOMAXPROCS 1 a caller
// exporting segment after segment lets the sender write each batch as it
// fills, instead of queueing thousands of datagrams until the scheduler
// preempts it (every 10 ms): the queue stays near two batches on average.
// The best of three attempts counts, so that a machine that stalls the
// sender's thread for a while does not fail it; without the yield every
// attempt queues thousands.
func TestSenderKeepsUpWithOneProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	conn := listen(t)
	_ = conn.SetReadBuffer(64 << 20)
	seg := &Segment{Name: "svc", TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(time.Millisecond)}
	const n = 50000
	best, bestMost := -1, 0
	for attempt := 0; attempt < 3 && (best < 0 || best > 16*maxBatch); attempt++ {
		e := newTestEmitter(t, conn, WithQueueSize(1<<16))
		sum, most := 0, 0
		for range n {
			e.ExportSegment(seg)
			q := len(e.queue)
			sum += q
			most = max(most, q)
		}
		if mean := sum / n; best < 0 || mean < best {
			best, bestMost = mean, most
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := e.Stats(); st.Datagrams+st.Dropped() != n {
			t.Fatalf("stats %+v: want %d datagrams", st, n)
		}
	}
	if best > 16*maxBatch {
		t.Fatalf("%d datagrams queued on average (at most %d), want at most %d", best, bestMost, 16*maxBatch)
	}
}
