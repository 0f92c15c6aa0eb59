package xray

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestExportSegmentSyncSendsWithoutSender: ExportSegmentSync writes the
// datagram before it returns, starts no goroutine, and counts what it
// sent; ForceFlush then has nothing to wait for.
func TestExportSegmentSyncSendsWithoutSender(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	before := goleak.IgnoreCurrent()
	s := getSegment()
	defer putSegment(s)
	s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, testID, t0, t0.Add(time.Millisecond)
	if err := e.ExportSegmentSync(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	// The datagram is in the daemon's socket already: read it without
	// flushing.
	docs := receive(t, conn, 1)
	if !strings.Contains(string(docs[0]), `"name":"svc"`) {
		t.Fatalf("document %s", docs[0])
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("ExportSegmentSync started a goroutine: %v", err)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Segments != 1 || st.Datagrams != 1 || st.Direct != 0 || st.Dropped() != 0 {
		t.Fatalf("stats %+v", st)
	}
	if e.started.Load() {
		t.Fatal("the sender started")
	}
}

// TestExportSegmentSyncAfterShutdown: a segment given after Shutdown is
// refused with an error and counted.
func TestExportSegmentSyncAfterShutdown(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := getSegment()
	defer putSegment(s)
	s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, testID, t0, t0.Add(time.Millisecond)
	if err := e.ExportSegmentSync(context.Background(), s); !errors.Is(err, errClosed) {
		t.Fatalf("err %v, want errClosed", err)
	}
	if st := e.Stats(); st.DroppedClosed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestForceFlushWaitsOnlyForQueued: once the sender has written all it
// was given, ForceFlush returns without a round trip to it (a lingering
// sender would otherwise be asked); while datagrams are queued it still
// waits for them.
func TestForceFlushWaitsOnlyForQueued(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	e.linger = time.Hour // the sender would hold a lone datagram for an hour
	s := getSegment()
	defer putSegment(s)
	s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, testID, t0, t0.Add(time.Millisecond)
	e.ExportSegment(s)
	if e.queued.Load() != 1 {
		t.Fatalf("queued %d, want 1", e.queued.Load())
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	receive(t, conn, 1)
	if n := e.queued.Load(); n != 0 {
		t.Fatalf("queued %d after the flush, want 0", n)
	}
	// Nothing queued: ForceFlush does not ask the sender, so even a
	// context that has ended finds nothing to wait for (asking the sender
	// would race the ended context and lose about every other time).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		if err := e.ForceFlush(ctx); err != nil {
			t.Fatalf("ForceFlush with nothing queued: %v", err)
		}
	}
}
