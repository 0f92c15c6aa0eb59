package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Reason labels an outcome; the set is fixed so it can name counters.
type Reason string

// Outcomes.
const (
	Throttled   Reason = "throttled"
	ServerError Reason = "server_error"
	Timeout     Reason = "timeout"
	Network     Reason = "network"
	ClientError Reason = "client_error"
	Canceled    Reason = "canceled"
)

// Reasons lists every reason.
var Reasons = []Reason{Throttled, ServerError, Timeout, Network, ClientError, Canceled}

var throttleCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottled": true, "RequestThrottledException": true, "TooManyRequestsException": true,
	"RequestLimitExceeded": true, "SlowDown": true, "PriorRequestNotComplete": true,
	"ProvisionedThroughputExceededException": true, "RequestLimitExceededException": true,
}

// IsThrottleCode reports whether an AWS error code means throttling.
func IsThrottleCode(code string) bool { return throttleCodes[code] }

// Classify says whether err is worth retrying and why it happened.
// Throttling, 5xx, timeouts and connection errors are retryable; other
// API errors (validation, access denied) are permanent. Canceled is
// retryable: the data stays queued for whoever drains it.
func Classify(err error) (retryable bool, reason Reason) {
	if err == nil {
		return false, ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && throttleCodes[ae.ErrorCode()] {
		return true, Throttled
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		code := re.HTTPStatusCode()
		switch {
		case code == 429:
			return true, Throttled
		case code >= 500:
			return true, ServerError
		case code == 408:
			return true, Timeout
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return true, Timeout
		}
		if code != 0 {
			return false, ClientError
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return true, Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return true, Timeout
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return true, Timeout
		}
		return true, Network
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return true, Network
	}
	if ae != nil {
		if ae.ErrorFault() == smithy.FaultServer {
			return true, ServerError
		}
		return false, ClientError
	}
	return false, ClientError
}

// Backoff computes retry delays: attempt n (from 1) waits a random
// duration in [d/2, d] with d = min(Max, Base·2^(n-1)).
type Backoff struct {
	Base, Max time.Duration
}

// DefaultBackoff starts at 100 ms and caps at 10 s.
var DefaultBackoff = Backoff{Base: 100 * time.Millisecond, Max: 10 * time.Second}

// Delay returns the wait before retry attempt n.
func (b Backoff) Delay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits for d or until done is closed; it reports whether the full
// wait happened.
func Sleep(d time.Duration, done <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// Every lets an event through at most once per interval (for log lines
// about failures that may repeat for every request). The zero value lets
// the first event through. It is safe for concurrent use.
type Every struct {
	last atomic.Int64 // unix nanoseconds of the last event let through
}

// Allow reports whether an event at now may be logged, given interval.
func (e *Every) Allow(now time.Time, interval time.Duration) bool {
	last := e.last.Load()
	if last != 0 && now.UnixNano()-last < int64(interval) {
		return false
	}
	return e.last.CompareAndSwap(last, now.UnixNano())
}
