// Package logs forwards EMF documents, as the EMF receiver parsed them
// (emf.Document: it sends the line, doc.Raw, and takes the timestamp, log
// group and stream from the parse instead of parsing again), to CloudWatch Logs with
// PutLogEvents, the way the CloudWatch agent does, so CloudWatch extracts
// the metrics itself (and the documents stay queryable in Logs Insights).
// The log group and stream come from the document's _aws.LogGroupName and
// _aws.LogStreamName, or the configured defaults.
//
// Contract:
//   - ConsumeEMF is safe for concurrent use and never blocks on the
//     network; the document is copied.
//   - Events are batched per group/stream, sorted by time, at most 10,000
//     events and 1,048,576 bytes (message + 26 per event) per request and
//     within 24 hours; a batch is sealed when full or FlushInterval old.
//   - Missing groups/streams are created (ResourceNotFoundException →
//     CreateLogGroup/CreateLogStream → retry). Throttling, 5xx, timeouts
//     and connection errors are retried with backoff and jitter; sealed
//     batches live in the shared budget, oldest dropped first; every drop
//     is counted by reason as logs.dropped.<reason> (in events).
//   - Shutdown seals every batch and sends everything within ctx.
package logs
