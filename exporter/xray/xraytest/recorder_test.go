package xraytest

import (
	"context"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

func TestRecorderKeepsTheContract(t *testing.T) {
	r := NewRecorder()
	now := time.Now()
	seg := &xray.Segment{Name: "a", TraceID: xray.NewTraceID(now), ID: xray.NewSpanID(), Start: now, End: now}
	seg.Subsegments = append(seg.Subsegments, &xray.Segment{Name: "sub", ID: xray.NewSpanID(), Start: now, End: now})
	r.ExportSegment(seg)
	// The caller reuses the segment at once: the record does not change.
	seg.Reset()
	seg.Name = "b"
	r.ExportSegment(seg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	docs, err := r.WaitFor(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if docs[0].Name != "a" || len(docs[0].Subsegments) != 1 || docs[0].Subsegments[0].Name != "sub" || docs[1].Name != "b" {
		t.Fatalf("recorded %+v", docs)
	}
	if err := r.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	r.ExportSegment(seg)
	if len(r.Segments()) != 2 || r.Dropped() != 1 {
		t.Fatalf("after Shutdown: %d segments, %d dropped", len(r.Segments()), r.Dropped())
	}
	r.Reset()
	if len(r.Segments()) != 0 {
		t.Fatal("Reset kept segments")
	}
}
