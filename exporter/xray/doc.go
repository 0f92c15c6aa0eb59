// Package xray turns traced work into AWS X-Ray segment documents and sends
// them to the X-Ray daemon (or the Sidelight sidecar) over the daemon's UDP
// protocol.
//
// The pieces, from the request path outwards:
//
//   - [Segment] is a lean, reusable record of one unit of work. Its IDs are
//     OpenTelemetry [trace.TraceID] and [trace.SpanID] values, so a segment and
//     an OpenTelemetry span can share one trace.
//   - [AppendDocument] encodes a segment as an X-Ray segment document by
//     appending to a byte slice: no reflection, no intermediate maps.
//   - [SegmentExporter] is what sends finished segments, with a written
//     contract on who owns a segment; [Emitter] is the one for the X-Ray
//     daemon. It encodes on the caller's goroutine into a pooled buffer and
//     hands the datagram to one background sender (started with the first
//     segment), which writes batches with a single system call.
//     ExportSegment never blocks: when the bounded queue is full, the
//     caller writes its datagram itself with one non-blocking UDP write, or,
//     with [WithDropWhenFull], drops it and counts the drop in [Stats].
//     Package xraytest records segments in memory for tests.
//   - [Header] parses and writes the X-Amzn-Trace-Id header without
//     allocating; [ParseTraceparent], [AppendTraceparent] and
//     [BoundTracestate] do the same for W3C Trace Context. Both formats
//     carry the same 128-bit trace ID, and [NewTraceID] keeps the Unix time
//     in its first four bytes, so IDs it makes are valid in both.
//   - [NewSpanProcessor] sends spans made with the OpenTelemetry SDK as
//     subsegments through any SegmentExporter.
//
// The daemon address comes from AWS_XRAY_DAEMON_ADDRESS ("host:port", or
// "tcp:host:port udp:host:port"), defaulting to 127.0.0.1:2000.
package xray
