// Package sender is the send side the sidecar's pipelines share: worker
// goroutines that take batches from a pipeline's queue and hand them to the
// pipeline's send function, backoff after failed requests, and a Shutdown
// that stops intake, drains the queue within a deadline and reports what
// it could not send.
//
// What a batch is, how it is sent, what is retried and how it is counted
// stay in each pipeline; a send function decides, for every entry it was
// given, to Release it on the queue (sent or dropped) or to hand it back
// with Retry.
package sender
