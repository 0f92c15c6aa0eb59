package middleware

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/middleware/internal/red"
)

// Metrics records request rate, errors and duration (RED) for the HTTP
// middleware and writes them as CloudWatch Embedded Metric Format
// documents: Latency (ms), Requests, ClientErrors (4xx), Faults (5xx) and
// Throttles (429) per Service, Route, Method and StatusClass, with the trace
// IDs of the slowest and of a failed request as properties, so a metric
// points at a trace. Requests are aggregated in memory and written every
// interval (10 s by default) and on Flush and Shutdown; recording a request
// does not allocate.
//
// Cardinality is bounded: unknown methods are recorded as OTHER, requests
// no route matched as "unmatched", and routes beyond the cap as "overflow".
type Metrics struct {
	rec  *red.Recorder
	cors *corsCounts

	stop     chan struct{}
	done     chan struct{}
	shutdown sync.Once
}

// MetricNames renames the metrics; an empty name keeps the default and "-"
// switches that metric off.
type MetricNames = red.Names

// MetricsConfig configures NewMetrics. Only Service is required.
type MetricsConfig struct {
	// Service is the value of the Service dimension.
	Service string
	// Namespace is the CloudWatch namespace (default AWS_EMF_NAMESPACE,
	// then POWERTOOLS_METRICS_NAMESPACE, then "aws-embedded-metrics").
	Namespace string
	// Sink receives the documents; the default follows the environment as
	// emf.New does (stdout in Lambda and locally, the CloudWatch agent or
	// the Sidelight sidecar on ECS and EC2).
	Sink emf.Sink
	// Interval between writes (default 10 s).
	Interval time.Duration
	// MaxRoutes caps distinct routes (default 100).
	MaxRoutes int
	// Names renames or switches off metrics.
	Names MetricNames
	// Logger receives write errors (default: discarded).
	Logger *slog.Logger
}

// NewMetrics starts a metrics recorder. Share one per service and call
// Shutdown when the service stops, so the last interval is written.
func NewMetrics(c MetricsConfig) (*Metrics, error) {
	rec, err := red.New(red.Config{
		Namespace: c.Namespace, Service: c.Service, Sink: c.Sink, Interval: c.Interval,
		MaxRoutes: c.MaxRoutes, Names: c.Names, Logger: c.Logger,
	})
	if err != nil {
		return nil, err
	}
	opts := []emf.Option{emf.WithServiceName(c.Service)}
	if c.Namespace != "" {
		opts = append(opts, emf.WithNamespace(c.Namespace))
	}
	if c.Sink != nil {
		opts = append(opts, emf.WithSink(c.Sink))
	}
	if c.Logger != nil {
		opts = append(opts, emf.WithLogger(c.Logger))
	}
	l, err := emf.New(opts...)
	if err != nil {
		_ = rec.Shutdown(context.Background())
		return nil, err
	}
	interval := c.Interval
	if interval <= 0 {
		interval = red.DefaultInterval
	}
	m := &Metrics{rec: rec, cors: newCORSCounts(c.Service, l, c.MaxRoutes), stop: make(chan struct{}), done: make(chan struct{})}
	go m.run(interval)
	return m, nil
}

// run writes the CORS counts every interval; the RED recorder keeps its
// own schedule.
func (m *Metrics) run(interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = m.cors.flush(context.Background())
		case <-m.stop:
			return
		}
	}
}

// Flush writes what has been recorded so far.
func (m *Metrics) Flush(ctx context.Context) error {
	return errors.Join(m.rec.Flush(ctx), m.cors.flush(ctx))
}

// Shutdown writes what is left and stops the recorder.
func (m *Metrics) Shutdown(ctx context.Context) error {
	var err error
	m.shutdown.Do(func() {
		close(m.stop)
		<-m.done
		err = errors.Join(m.cors.flush(ctx), m.cors.logger.Shutdown(ctx), m.rec.Shutdown(ctx))
	})
	return err
}

// WithMetrics sends the HTTP middleware's request metrics to m. Without
// it, HTTP starts a recorder of its own for the service name, with the
// default sink and interval; pass your own to flush it at shutdown.
func WithMetrics(m *Metrics) Option {
	return optionFunc(func(c *config) { c.metrics = metricsConfig{recorder: m, set: true} })
}

// WithoutMetrics switches request metrics off.
func WithoutMetrics() Option {
	return optionFunc(func(c *config) { c.metrics = metricsConfig{set: true} })
}

type metricsConfig struct {
	recorder *Metrics
	set      bool // WithMetrics or WithoutMetrics was given
}

func defaultMetricsConfig() metricsConfig { return metricsConfig{} }

// resolve starts the default recorder when none was chosen.
func (m *metricsConfig) resolve(cfg *config) {
	if m.set {
		return
	}
	m.set = true
	rec, err := NewMetrics(MetricsConfig{Service: cfg.serviceName, Logger: cfg.logger})
	if err != nil {
		cfg.logger.Error("sidelight: request metrics are off", "error", err)
		return
	}
	m.recorder = rec
}

func (m *metricsConfig) observe(route, method string, status int, d time.Duration, st *state) {
	if m.recorder == nil {
		return
	}
	var traceID trace.TraceID // zero: the request was not sampled
	if st.sc.IsSampled() {
		traceID = st.sc.TraceID()
	}
	m.recorder.rec.Observe(route, method, status, d, traceID)
}
