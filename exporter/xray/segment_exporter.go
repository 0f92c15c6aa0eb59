package xray

import "context"

// SegmentExporter sends finished segments somewhere: the X-Ray daemon
// ([Emitter]), an OpenTelemetry collector (package exporter/otlp), or
// memory for tests (package xraytest). The middleware and
// [NewSpanProcessor] call it for every sampled segment as it ends.
//
// The contract, which every implementation keeps:
//
//   - ExportSegment reads seg only during the call: it encodes seg on the
//     caller's goroutine into a buffer of its own and never blocks on the
//     network (a full queue drops and counts, or costs one non-blocking
//     write). The caller keeps ownership of seg and may reuse it as soon as
//     ExportSegment returns.
//   - ForceFlush returns once every segment exported before the call has
//     been handed to the network (or recorded), or when ctx ends, with
//     ctx's error.
//   - Shutdown flushes what is queued, honouring ctx's deadline, releases
//     the exporter's sockets and goroutines, and is safe to call more than
//     once. After Shutdown, ExportSegment drops the segment and counts the
//     drop.
//
// All three are safe for concurrent use.
type SegmentExporter interface {
	ExportSegment(seg *Segment)
	ForceFlush(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// A SyncSegmentExporter can also send a segment on the caller's goroutine,
// bypassing its queue. The Lambda middleware uses it for the subsegment of
// an invocation, which must be on its way before the invocation returns
// anyway (Lambda freezes the process afterwards): sending it at once costs
// one system call, where queueing it costs waking the background sender
// and waiting for it in ForceFlush.
type SyncSegmentExporter interface {
	SegmentExporter
	// ExportSegmentSync is ExportSegment, except that seg has been handed
	// to the network (or dropped and counted) when it returns, without
	// involving the exporter's background goroutine. The ownership rules
	// of ExportSegment apply. It returns an error when the segment could
	// not be sent (it is also counted in the exporter's statistics).
	ExportSegmentSync(ctx context.Context, seg *Segment) error
}

var (
	_ SegmentExporter     = (*Emitter)(nil)
	_ SyncSegmentExporter = (*Emitter)(nil)
)
