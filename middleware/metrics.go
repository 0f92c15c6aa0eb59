package middleware

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/middleware/internal/red"
)

// MetricNames renames the HTTP request metrics (WithMetricNames); an empty
// name keeps the default and "-" switches that metric off.
type MetricNames = red.Names

// WithoutMetrics switches metrics off: the request metrics of HTTP and
// the per-invocation metrics of Lambda (AddMetric then does nothing). The
// other metrics options switch them on again, the last option given
// winning.
func WithoutMetrics() Option {
	return optionFunc(func(c *config) { c.metrics.off, c.metrics.set = true, true })
}

// WithMetricsSink sends the EMF documents of HTTP and Lambda metrics to s.
// The caller owns s (Kit.Shutdown flushes the metrics into it but does not
// shut it down). By default Lambda writes to standard output, which Lambda
// forwards to CloudWatch Logs, and HTTP follows the environment as emf.New
// does (stdout locally, the CloudWatch agent or the Sidelight sidecar on
// ECS and EC2).
func WithMetricsSink(s emf.Sink) Option {
	return optionFunc(func(c *config) { c.metrics.sink, c.metrics.set, c.metrics.off = s, true, false })
}

// WithMetricsNamespace sets the CloudWatch namespace of HTTP and Lambda
// metrics. The default is AWS_EMF_NAMESPACE, else
// POWERTOOLS_METRICS_NAMESPACE, else emf.DefaultNamespace.
func WithMetricsNamespace(ns string) Option {
	return optionFunc(func(c *config) { c.metrics.namespace, c.metrics.set, c.metrics.off = ns, true, false })
}

// WithMetricsInterval sets how often HTTP writes the request metrics it
// aggregated (default 10 s). Lambda writes one document per invocation.
func WithMetricsInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.metrics.interval, c.metrics.set, c.metrics.off = d, true, false })
}

// WithMetricNames renames or switches off HTTP request metrics.
func WithMetricNames(n MetricNames) Option {
	return optionFunc(func(c *config) { c.metrics.names, c.metrics.set, c.metrics.off = n, true, false })
}

// withMetricsMaxRoutes caps distinct routes (tests).
func withMetricsMaxRoutes(n int) Option {
	return optionFunc(func(c *config) { c.metrics.maxRoutes = n })
}

// httpMetrics records request rate, errors and duration (RED) for one HTTP
// middleware and writes them as CloudWatch Embedded Metric Format
// documents: Latency (ms), Requests, ClientErrors (4xx), Faults (5xx) and
// Throttles (429) per Service, Route, Method and StatusClass, with the
// trace IDs of the slowest and of a failed request as properties, and
// CORSBlocked per Service, Route and Reason. Nothing is made or started
// until the first request is recorded: then the recorder and its writer
// goroutines start, owned by the kit.
type httpMetrics struct {
	cfg *config

	once  sync.Once
	rec   *red.Recorder // nil until the first request, and when it failed
	cors  *corsCounts
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex // orders start and shutdown
	ended bool
}

func newHTTPMetrics(cfg *config) *httpMetrics {
	m := &httpMetrics{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	cfg.kit.add(m)
	return m
}

// start makes the recorder and starts writing; it runs once, with the
// first request.
func (m *httpMetrics) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return
	}
	c, ms := m.cfg, &m.cfg.metrics
	rec, err := red.New(red.Config{
		Namespace: ms.namespace, Service: c.serviceName, Sink: ms.sink, Interval: ms.interval,
		MaxRoutes: ms.maxRoutes, Names: ms.names, Logger: c.logger,
	})
	if err != nil {
		c.logger.Error("sidelight: request metrics are off", "error", err)
		return
	}
	opts := []emf.Option{emf.WithServiceName(c.serviceName), emf.WithLogger(c.logger)}
	if ms.namespace != "" {
		opts = append(opts, emf.WithNamespace(ms.namespace))
	}
	if ms.sink != nil {
		opts = append(opts, emf.WithSink(ms.sink))
	}
	l, err := emf.New(opts...)
	if err != nil {
		_ = rec.Shutdown(context.Background())
		c.logger.Error("sidelight: request metrics are off", "error", err)
		return
	}
	interval := ms.interval
	if interval <= 0 {
		interval = red.DefaultInterval
	}
	m.cors = newCORSCounts(c.serviceName, l, ms.maxRoutes)
	m.rec = rec
	go m.run(interval)
}

// run writes the CORS counts every interval; the RED recorder keeps its
// own schedule.
func (m *httpMetrics) run(interval time.Duration) {
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

func (m *httpMetrics) started() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rec != nil
}

func (m *httpMetrics) flush(ctx context.Context) error {
	if !m.started() {
		return nil
	}
	return errors.Join(m.rec.Flush(ctx), m.cors.flush(ctx))
}

func (m *httpMetrics) shutdown(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return nil
	}
	m.ended = true
	if m.rec == nil {
		return nil
	}
	close(m.stop)
	<-m.done
	return errors.Join(m.cors.flush(ctx), m.cors.logger.Shutdown(ctx), m.rec.Shutdown(ctx))
}

// recorder returns the recorder, starting it with the first request; nil
// when metrics could not start or the kit was shut down.
func (m *httpMetrics) recorder() *red.Recorder {
	m.once.Do(m.start)
	if m.rec == nil {
		return nil
	}
	return m.rec
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration, st *state) {
	rec := m.recorder()
	if rec == nil {
		return
	}
	var traceID trace.TraceID // zero: the request was not sampled
	if st.sc.IsSampled() {
		traceID = st.sc.TraceID()
	}
	rec.Observe(route, method, status, d, traceID)
}
