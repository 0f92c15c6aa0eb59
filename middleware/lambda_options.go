package middleware

import "time"

// DefaultTimeoutMargin is how long before an invocation's deadline the
// Lambda middleware reports that it is about to time out.
const DefaultTimeoutMargin = 200 * time.Millisecond

// WithTimeoutMargin sets how long before the invocation's deadline (the
// moment Lambda stops the function) the Lambda middleware records that the
// invocation is about to time out: a Timeout metric and a faulted
// subsegment, flushed at once so they arrive before the function is
// stopped. The default is DefaultTimeoutMargin; zero or less turns the
// report off. When an invocation starts with less time left than the
// margin, the report comes halfway to the deadline.
func WithTimeoutMargin(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeoutMargin = d })
}
