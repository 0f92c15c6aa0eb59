package otlp

import (
	"context"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"testing"
	"time"
)

// TestExportSegmentAllocations shows the request path's cost in steady
// state: encoding a middleware segment and queueing it allocates nothing
// once the pooled buffers and the queue have grown.
func TestExportSegmentAllocations(t *testing.T) {
	c := newCollector(t)
	x := newTestExporter(t, c, WithBatchTimeout(time.Hour), WithMaxBatchSize(1<<20), WithQueueSize(1<<20, 1<<30))
	seg := serverSegment()
	seg.Annotations = append(seg.Annotations, xray.StringAttr("tenant", "t-1"))
	for range 300 {
		x.ExportSegment(seg)
	}
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 300 { // both queue buffers have now held 300 segments
		x.ExportSegment(seg)
	}
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() { x.ExportSegment(seg) })
	limit := 0.1
	if raceEnabled {
		limit = 4 // an encoder and its buffers, when the pool dropped them
	}
	if allocs > limit {
		t.Fatalf("ExportSegment allocates %.2f times per segment", allocs)
	}
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Exported != 801 || st.Dropped() != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func BenchmarkExportSegment(b *testing.B) {
	c := newCollector(b)
	x := newTestExporter(b, c, WithBatchTimeout(time.Hour))
	seg := serverSegment()
	b.ReportAllocs()
	for b.Loop() {
		x.ExportSegment(seg)
	}
	b.StopTimer()
	_ = x.Shutdown(context.Background())
}

func BenchmarkEncodeSegment(b *testing.B) {
	seg := serverSegment()
	rc := newResourceCache(nil)
	var e encoder
	b.ReportAllocs()
	for b.Loop() {
		_ = e.encode(seg, rc)
	}
}
