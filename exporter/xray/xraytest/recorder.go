package xraytest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// Recorder is an xray.SegmentExporter that keeps every finished segment in
// memory, decoded from the document the X-Ray exporter would send, so
// tests assert on exactly what would reach X-Ray. It keeps the exporter
// contract: ExportSegment encodes the segment during the call and keeps
// nothing of it; after Shutdown it drops segments and counts them.
// It starts no goroutine. The zero value is not usable; call NewRecorder.
type Recorder struct {
	store
	closed  atomic.Bool
	dropped atomic.Uint64
	bufMu   sync.Mutex
	buf     []byte
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	r := &Recorder{}
	r.init()
	return r
}

var _ xray.SegmentExporter = (*Recorder)(nil)

// ExportSegment encodes seg with xray.AppendDocument and records the
// decoded document. A document that does not decode is kept as an error,
// returned by Documents and WaitFor.
func (r *Recorder) ExportSegment(seg *xray.Segment) {
	if r.closed.Load() {
		r.dropped.Add(1)
		return
	}
	r.bufMu.Lock()
	r.buf = xray.AppendDocument(r.buf[:0], seg)
	var doc Segment
	err := json.Unmarshal(r.buf, &doc)
	doc.Raw = append([]byte(nil), r.buf...)
	r.bufMu.Unlock()
	if err != nil {
		err = fmt.Errorf("xraytest: document is not JSON: %w", err)
	}
	r.add1(doc, err)
}

// Segments returns the segments recorded so far, in the order they ended.
func (r *Recorder) Segments() []Segment {
	docs, _ := r.Documents()
	return docs
}

// Dropped counts the segments given to ExportSegment after Shutdown.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// ForceFlush returns at once: segments are recorded during ExportSegment.
func (r *Recorder) ForceFlush(ctx context.Context) error { return ctx.Err() }

// Shutdown makes later ExportSegment calls drop their segment; what was
// recorded stays readable.
func (r *Recorder) Shutdown(context.Context) error {
	r.closed.Store(true)
	return nil
}
