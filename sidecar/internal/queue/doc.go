// Package queue provides the sidecar's bounded queues: a byte Budget shared
// by every queue, and a FIFO Queue that, when the budget is exhausted,
// drops its own oldest entries to make room (counting each drop). Nothing
// in the sidecar queues data outside these, so its memory for telemetry
// waiting to be sent is bounded by the budget.
package queue
