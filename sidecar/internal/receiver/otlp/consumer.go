package otlp

import (
	"context"
	"errors"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
)

// Consumer takes decoded OTLP export requests, one method per signal. The
// receiver calls it from many goroutines at once (one per HTTP request or
// gRPC call), so it must be safe for concurrent use, and it must not block
// on the network: the client is waiting for the answer.
//
// Ownership: req is the Consumer's from the call on. The receiver
// allocates a new request for every call and never reads or reuses it
// after the method returns, so the Consumer may keep it (or parts of it)
// without copying. When the method returns an error the client is told to
// resend (or not, for Invalid), so the Consumer must not also deliver it.
//
// Result: rejected is how many items (spans, data points or log records)
// the Consumer refused for good out of an otherwise accepted request, and
// msg says why; the client gets them as partial success and does not
// resend. A non-nil error refuses the whole request and nothing of it may
// be kept; classify it with the errors below:
//
//   - ErrBudgetFull (or an error wrapping it): memory budget full,
//     overloaded. HTTP 429 with Retry-After; gRPC RESOURCE_EXHAUSTED with
//     RetryInfo. The client retries later.
//   - ErrShuttingDown: HTTP 503 with Retry-After; gRPC UNAVAILABLE with
//     RetryInfo. The client retries (against the next instance).
//   - Invalid(err): the data is wrong and will stay wrong. HTTP 400; gRPC
//     INVALID_ARGUMENT. The client drops it.
//
// Any other error is treated as transient (HTTP 503, gRPC UNAVAILABLE, both
// retryable) and counted as otlp.refused.consumer_error: resending is never
// a loss, while an unclassified error answered as permanent would be.
type Consumer interface {
	ConsumeTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (rejected int64, msg string, err error)
	ConsumeMetrics(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (rejected int64, msg string, err error)
	ConsumeLogs(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (rejected int64, msg string, err error)
}

// SpanConsumer is implemented by a Consumer that takes traces as
// otlpspans: the receiver then decodes OTLP/HTTP protobuf traces requests
// with otlpspans.Decode into a Batch it reuses, instead of into the
// generated types, and calls ConsumeSpans instead of ConsumeTraces (JSON
// and gRPC requests still arrive by ConsumeTraces). Unlike a request, b
// and everything it points to (the request's bytes) are only valid during
// the call: the Consumer copies what it keeps. Results are as for
// ConsumeTraces; b.Raw is the request's protobuf, for a Consumer that
// needs the generated types after all.
type SpanConsumer interface {
	ConsumeSpans(ctx context.Context, b *otlpspans.Batch) (rejected int64, msg string, err error)
}

// ErrBudgetFull is what a Consumer returns (possibly wrapped) when it has
// no room for the request: the client is asked to retry later.
var ErrBudgetFull = errors.New("otlp: memory budget full, retry later")

// ErrShuttingDown is what a Consumer returns (possibly wrapped) once it no
// longer takes data because the sidecar is stopping: the client is asked
// to retry.
var ErrShuttingDown = errors.New("otlp: shutting down, retry later")

// Invalid marks err as permanent: the request is malformed and resending
// it cannot succeed. Invalid(nil) is nil.
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return &invalidError{err}
}

type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

// outcome is how the receiver answers a refused request.
type outcome uint8

const (
	outOverloaded  outcome = iota // 429 / RESOURCE_EXHAUSTED + RetryInfo
	outUnavailable                // 503 / UNAVAILABLE + RetryInfo
	outInvalid                    // 400 / INVALID_ARGUMENT
)

// classify maps a Consumer error to an outcome and the counter reason.
func classify(err error) (outcome, Reason) {
	var inv *invalidError
	switch {
	case errors.Is(err, ErrBudgetFull):
		return outOverloaded, ReasonBudgetFull
	case errors.Is(err, ErrShuttingDown):
		return outUnavailable, ReasonShuttingDown
	case errors.As(err, &inv):
		return outInvalid, ReasonInvalid
	default:
		return outUnavailable, ReasonConsumerError
	}
}
