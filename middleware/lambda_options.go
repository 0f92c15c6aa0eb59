package middleware

import (
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
)

// DefaultTimeoutMargin is how long before an invocation's deadline the
// Lambda middleware reports that it is about to time out.
const DefaultTimeoutMargin = 200 * time.Millisecond

// lambdaConfig holds the options that only Lambda reads. Lambda options
// carry them beside the shared config, so the shared Option type serves
// every entry point.
type lambdaConfig struct {
	margin       time.Duration
	emfSink      emf.Sink
	emfNamespace string
	emfOff       bool
}

func defaultLambdaConfig() lambdaConfig {
	return lambdaConfig{margin: DefaultTimeoutMargin}
}

// lambdaOption is an Option that only Lambda and LambdaHandler read; the
// other entry points ignore it.
type lambdaOption func(*lambdaConfig)

func (lambdaOption) apply(*config)                 {}
func (f lambdaOption) applyLambda(c *lambdaConfig) { f(c) }

// WithTimeoutMargin sets how long before the invocation's deadline (the
// moment Lambda stops the function) the middleware records that the
// invocation is about to time out: a Timeout metric and a faulted
// subsegment, flushed at once so they arrive before the function is
// stopped. The default is DefaultTimeoutMargin; zero or less turns the
// report off. When an invocation starts with less time left than the
// margin, the report comes halfway to the deadline.
func WithTimeoutMargin(d time.Duration) Option {
	return lambdaOption(func(c *lambdaConfig) { c.margin = d })
}

// WithEMFSink sends the Lambda middleware's EMF documents to s instead of
// standard output (which Lambda forwards to CloudWatch Logs). The caller
// owns s.
func WithEMFSink(s emf.Sink) Option {
	return lambdaOption(func(c *lambdaConfig) { c.emfSink = s })
}

// WithEMFNamespace sets the CloudWatch namespace of the Lambda metrics.
// The default is AWS_EMF_NAMESPACE, else POWERTOOLS_METRICS_NAMESPACE,
// else emf.DefaultNamespace.
func WithEMFNamespace(ns string) Option {
	return lambdaOption(func(c *lambdaConfig) { c.emfNamespace = ns })
}

// WithoutEMF turns the Lambda middleware's metrics off; AddMetric then
// does nothing.
func WithoutEMF() Option {
	return lambdaOption(func(c *lambdaConfig) { c.emfOff = true })
}
