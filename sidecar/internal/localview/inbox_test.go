package localview

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// The inbox never waits on the store: with the store's lock held (a view
// that has fallen behind), every Add returns at once, what fits in the
// queue is stored once the store is free, and the rest is dropped and
// counted.
func TestInboxNeverBlocks(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var dropped, rejected atomic.Uint64
	in := s.NewInbox(InboxConfig{MaxDocs: 3, Dropped: &dropped, Rejected: &rejected})
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var g ids
	s.mu.Lock() // the view is busy
	returned := make(chan int)
	go func() {
		ok := 0
		for i := range 10 {
			_, d := okTrace(t, &g, t0, "svc", time.Duration(i+1)*time.Millisecond)
			if in.AddSegment(d) {
				ok++
			}
		}
		if in.AddEMF([]byte(`not json`)) {
			ok++
		}
		returned <- ok
	}()
	var accepted int
	select {
	case accepted = <-returned:
	case <-time.After(10 * time.Second):
		s.mu.Unlock()
		t.Fatal("Add blocked while the store was busy")
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The goroutine may have taken one document before it blocked on the
	// lock, so 3 or 4 were queued.
	st := s.Stats()
	if accepted < 3 || accepted > 4 || int(dropped.Load()) != 11-accepted || st.InboxDropped != dropped.Load() {
		t.Fatalf("accepted %d, dropped %d (stats %d) of 11", accepted, dropped.Load(), st.InboxDropped)
	}
	stored := st.Segments + st.MetricRejected
	if int(stored) != accepted || rejected.Load() != st.MetricRejected {
		t.Errorf("stored %d of %d accepted (rejected %d, stats %+v)", stored, accepted, rejected.Load(), st)
	}
	_, d := okTrace(t, &g, t0, "late", time.Millisecond)
	if in.AddSegment(d) {
		t.Error("accepted a document after Shutdown")
	}
}

// The inbox is bounded in bytes as well as documents.
func TestInboxBytesBounded(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	in := s.NewInbox(InboxConfig{MaxBytes: 1000})
	defer in.Shutdown(context.Background())
	big := make([]byte, 600)
	if !in.AddEMF(big) || in.AddEMF(big) {
		t.Error("want the first 600-byte document queued and the second dropped")
	}
	if st := s.Stats(); st.InboxDropped != 1 {
		t.Errorf("dropped %d, want 1", st.InboxDropped)
	}
}
