// Package retry classifies AWS API errors as retryable or permanent and
// computes exponential backoff with jitter. The sidecar's pipelines own
// their retries (the SDK clients are built with retries off), so every
// retry is counted and bounded by the memory budget.
package retry
