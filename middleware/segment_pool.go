package middleware

import (
	"sync"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// The middleware's segments come from a pool: exporters read a segment
// only during ExportSegment (see xray.SegmentExporter), so the middleware
// puts it back right after.
var segmentPool = sync.Pool{New: func() any { return new(xray.Segment) }}

func getSegment() *xray.Segment { return segmentPool.Get().(*xray.Segment) }

// putSegment clears s and its subsegments and returns them to the pool.
func putSegment(s *xray.Segment) {
	if s == nil {
		return
	}
	for _, sub := range s.Subsegments {
		putSegment(sub)
	}
	if cap(s.Annotations) > 64 || cap(s.Metadata) > 64 || cap(s.Subsegments) > 64 {
		return // let unusually large segments go to the garbage collector
	}
	s.Reset()
	segmentPool.Put(s)
}
