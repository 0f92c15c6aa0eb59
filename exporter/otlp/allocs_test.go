package otlp

import (
	"context"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/allocs"
	"strconv"
	"strings"
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

// TestEncodeLinear: encoding a segment with 4n annotations and metadata
// entries allocates about four times what n take (a fresh encoder each
// time, so the bytes measure the buffers the work fills). Buffers grow by
// doubling, which can add up to a factor of two either way; work
// quadratic in the entries would show 16 times.
func TestEncodeLinear(t *testing.T) {
	build := func(n int) *xray.Segment {
		s := serverSegment()
		for i := range n {
			k := strconv.Itoa(i * 7919 % (n + 1))
			s.Annotations = append(s.Annotations, xray.StringAttr("k"+k, "v"))
			s.Metadata = append(s.Metadata, xray.Metadata{Key: "m" + k, JSON: []byte(`{"a":[1,2,{"b":"c"}]}`)},
				xray.Metadata{Namespace: "ns" + k, Key: "x", JSON: []byte(`[true]`)})
		}
		return s
	}
	rc := newResourceCache(nil)
	measure := func(n int) uint64 {
		seg := build(n)
		return allocs.Bytes(5, func() {
			var e encoder
			if err := e.encode(seg, rc); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := measure(500), measure(2000)
	if large > 8*small {
		t.Fatalf("500 entries: %d bytes, 2000 entries: %d bytes (more than 8x)", small, large)
	}
}

// TestDeepMetadataJSON: JSON nested past encoding/json's limit is left out
// and counted, not a crash; within it, other namespaces keep it all.
func TestDeepMetadataJSON(t *testing.T) {
	seg := serverSegment()
	seg.Metadata = []xray.Metadata{
		{Namespace: "deep", Key: "ok", JSON: []byte(strings.Repeat("[", 9999) + strings.Repeat("]", 9999))},
		{Namespace: "deep", Key: "bad", JSON: []byte(strings.Repeat("[", 10002) + strings.Repeat("]", 10002))},
	}
	_, spans, bad, err := encodeBad(t, seg)
	if err != nil || bad != 1 {
		t.Fatalf("err %v, %d bad values", err, bad)
	}
	found := false
	for _, kv := range spans[0].Attributes {
		if kv.Key == "aws.xray.metadata.deep" {
			found = strings.Count(kv.Value.GetStringValue(), "[") == 9999
		}
	}
	if !found {
		t.Fatal("the namespace lost its deep value")
	}
}
