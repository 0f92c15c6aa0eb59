// Package segments is the sidecar's trace pipeline: it queues validated
// X-Ray segment documents in the shared memory budget and sends them with
// PutTraceSegments in batches of at most 50, from a fixed set of worker
// goroutines.
//
// Contract:
//   - ConsumeSegment never blocks and copies the document; when the budget
//     is full the oldest queued segments are dropped (counted as
//     segments.dropped.budget_full).
//   - Throttling, 5xx, timeouts and connection errors are retried with
//     exponential backoff and jitter, as are UnprocessedTraceSegments whose
//     error code is retryable; other failures drop the batch, counted by
//     reason. Retried data stays in the queue, so the budget bounds it.
//   - Start starts the workers; Shutdown stops accepting, sends everything
//     queued (with retries) and returns when the queue is empty or ctx
//     ends, in which case in-flight requests are cancelled and what is
//     left is counted as segments.dropped.shutdown.
package segments
