// Package otlpsegments is the sidecar's OTLP consumer: it turns the spans
// of each OTLP trace export request into X-Ray segment documents (package
// xrayotel) and hands them to the same path X-Ray daemon traffic takes: the segments pipeline in AWS
// mode, the local view in local mode. Counters, the memory budget and
// the ECS metadata merge therefore apply to both alike. The documents are
// not parsed again as UDP datagrams are (xraydoc.Check): the translator
// says where their parts are (xrayotel.Layout), and a fuzz test holds its
// output to the check. Spans arrive as otlpspans (ConsumeSpans, the
// receiver's OTLP/HTTP protobuf path) or as the generated types
// (ConsumeTraces), which are turned into otlpspans first: one rule set.
//
// Answers (see the receiver's Consumer contract, package
// receiver/otlp):
//
//   - Spans that cannot be translated (bad IDs, too large) or whose
//     document would fail xraydoc.Check (no start time) are rejected for good, counted as
//     otlp.untranslated.<reason>, and reported as partial success with
//     the first error; the request's other spans are delivered.
//   - The documents of one request are handed to the Sink together. A
//     Sink that cannot take them without dropping queued data refuses
//     them all (otlp.ErrBudgetFull: 429 / RESOURCE_EXHAUSTED, so the SDK
//     resends later) rather than accepting and dropping; once stopping,
//     otlp.ErrShuttingDown (503 / UNAVAILABLE, resent).
//   - Metrics and logs are not this package's: the app hands them to
//     otlpmetrics and otlplogs. In the modes that cannot send them
//     (-emf-to-logs for metrics, local mode for logs) the app leaves them
//     here and they are refused as invalid (400 / INVALID_ARGUMENT, not
//     retried) with a message saying what to use instead, counted as
//     otlp.unsupported.data_points and otlp.unsupported.log_records.
//
// A Consumer holds no goroutines; it is safe for concurrent use.
package otlpsegments
