package xray

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// An emitter that was never given a segment runs no goroutine, and one
// that was leaves none after Shutdown.
func TestEmitterStartsSenderWithFirstSegment(t *testing.T) {
	conn := listen(t)
	e, err := NewEmitter(WithDaemonAddress(conn.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(); err != nil {
		t.Fatalf("NewEmitter started a goroutine: %v", err)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatalf("ForceFlush before any segment: %v", err)
	}
	seg := &Segment{Name: "a", TraceID: NewTraceID(time.Now()), ID: NewSpanID(), Start: time.Now(), End: time.Now()}
	e.ExportSegment(seg)
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	receive(t, conn, 1)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(); err != nil {
		t.Fatalf("after Shutdown: %v", err)
	}
}

// Shutdown of an emitter that never sent returns at once and later
// segments are dropped and counted.
func TestEmitterShutdownUnstartedThenDrops(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.ExportSegment(&Segment{Name: "late", TraceID: NewTraceID(time.Now()), ID: NewSpanID(), Start: time.Now()})
	if st := e.Stats(); st.DroppedClosed != 1 || st.Segments != 0 {
		t.Fatalf("stats after Shutdown = %+v, want one DroppedClosed", st)
	}
	if err := goleak.Find(); err != nil {
		t.Fatal(err)
	}
}

// ExportSegment reads the segment only during the call: the caller's
// segment, subsegments included, is unchanged afterwards, even when the
// emitter split it into several documents.
func TestExportSegmentLeavesSegmentToCaller(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn, withMaxDatagram(600))
	now := time.Now()
	seg := &Segment{Name: "parent", TraceID: NewTraceID(now), ID: NewSpanID(), Start: now, End: now}
	for i := range 3 {
		seg.Subsegments = append(seg.Subsegments, &Segment{Name: "child" + strings.Repeat("x", 200) + string(rune('a'+i)), ID: NewSpanID(), Start: now, End: now})
	}
	e.ExportSegment(seg)
	if len(seg.Subsegments) != 3 {
		t.Fatalf("subsegments after export = %d", len(seg.Subsegments))
	}
	for _, sub := range seg.Subsegments {
		if sub.Independent || sub.TraceID.IsValid() || sub.ParentID.IsValid() {
			t.Fatalf("subsegment changed by the export: %+v", sub)
		}
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if docs := receive(t, conn, 4); len(docs) != 4 {
		t.Fatalf("documents = %d, want 4 (split)", len(docs))
	}
	// Reusing the segment right away sends the new content.
	seg.Reset()
	seg.Name, seg.TraceID, seg.ID, seg.Start = "again", NewTraceID(now), NewSpanID(), now
	e.ExportSegment(seg)
	_ = e.ForceFlush(context.Background())
	if docs := receive(t, conn, 1); !strings.Contains(string(docs[0]), `"name":"again"`) {
		t.Fatalf("reused segment sent as %s", docs[0])
	}
}

func TestServiceVersionOnSegmentsOnly(t *testing.T) {
	now := time.Now()
	seg := &Segment{Name: "svc", ServiceVersion: "1.2.3", TraceID: NewTraceID(now), ID: NewSpanID(), Start: now, End: now}
	sub := &Segment{Name: "sub", ServiceVersion: "1.2.3", ID: NewSpanID(), Start: now, End: now}
	seg.Subsegments = append(seg.Subsegments, sub)
	doc := string(AppendDocument(nil, seg))
	if strings.Count(doc, `"service":{"version":"1.2.3"}`) != 1 {
		t.Fatalf("document = %s, want one service block", doc)
	}
}

// A flush (what every Lambda invocation waits for) and a shutdown cut the
// sender's linger short instead of waiting it out: with an hour's linger
// both still return and deliver. Before, the sender slept the whole linger
// first, so each Lambda invocation waited for it (about 1.2 ms each).
func TestFlushAndShutdownCutLingerShort(t *testing.T) {
	for _, end := range []string{"flush", "shutdown"} {
		t.Run(end, func(t *testing.T) {
			conn := listen(t)
			e, err := NewEmitter(WithDaemonAddress(conn.LocalAddr().String()))
			if err != nil {
				t.Fatal(err)
			}
			e.linger = time.Hour
			seg := &Segment{Name: "a", TraceID: NewTraceID(time.Now()), ID: NewSpanID(), Start: time.Now(), End: time.Now()}
			e.ExportSegment(seg)
			// A generous deadline: only a sender stuck in its linger
			// misses it.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if end == "flush" {
				if err := e.ForceFlush(ctx); err != nil {
					t.Fatalf("ForceFlush during the linger: %v", err)
				}
				receive(t, conn, 1)
			}
			if err := e.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown during the linger: %v", err)
			}
			if end == "shutdown" {
				receive(t, conn, 1)
			}
		})
	}
}
