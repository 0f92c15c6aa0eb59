package otlp

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Consumer that keeps what it is given. answer, when set,
// decides each call's result (calls count from 1); a refused request is
// not kept. gate, when set, makes calls wait for it to close (or for
// their context to end, answered ErrShuttingDown), after signalling
// entered.
type recorder struct {
	calls   atomic.Int64
	answer  func(call int64) (int64, string, error)
	gate    chan struct{}
	entered chan struct{}
	lag     time.Duration // how long a gated call takes to notice its context end
	active  atomic.Int64  // calls not yet returned

	mu      sync.Mutex
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
	logs    []*collogspb.ExportLogsServiceRequest
}

func (c *recorder) result(ctx context.Context) (int64, string, error) {
	call := c.calls.Add(1)
	c.active.Add(1)
	defer c.active.Add(-1)
	if c.gate != nil {
		if c.entered != nil {
			c.entered <- struct{}{}
		}
		select {
		case <-c.gate:
		case <-ctx.Done():
			time.Sleep(c.lag)
			return 0, "", ErrShuttingDown
		}
	}
	if c.answer != nil {
		return c.answer(call)
	}
	return 0, "", nil
}

func (c *recorder) ConsumeTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (int64, string, error) {
	n, msg, err := c.result(ctx)
	if err == nil {
		c.mu.Lock()
		c.traces = append(c.traces, req)
		c.mu.Unlock()
	}
	return n, msg, err
}

func (c *recorder) ConsumeMetrics(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (int64, string, error) {
	n, msg, err := c.result(ctx)
	if err == nil {
		c.mu.Lock()
		c.metrics = append(c.metrics, req)
		c.mu.Unlock()
	}
	return n, msg, err
}

func (c *recorder) ConsumeLogs(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (int64, string, error) {
	n, msg, err := c.result(ctx)
	if err == nil {
		c.mu.Lock()
		c.logs = append(c.logs, req)
		c.mu.Unlock()
	}
	return n, msg, err
}

func (c *recorder) spans() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, r := range c.traces {
		for _, rs := range r.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				out = append(out, ss.GetSpans()...)
			}
		}
	}
	return out
}

// start runs a Receiver on free loopback ports, shut down at cleanup.
func start(t *testing.T, cfg Config) (*Receiver, *status.Counters) {
	t.Helper()
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	if cfg.Consumer == nil {
		cfg.Consumer = &recorder{}
	}
	if cfg.Counters == nil {
		cfg.Counters = status.NewCounters()
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return r, cfg.Counters
}

// strAttr is a string attribute.
func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// traceRequest is a request with n spans, each with attrs attributes.
func traceRequest(n, attrs int) *coltracepb.ExportTraceServiceRequest {
	ss := &tracepb.ScopeSpans{}
	for i := range n {
		sp := &tracepb.Span{
			TraceId: []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c},
			SpanId:  []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, byte(i)},
			Name:    "op",
		}
		for j := range attrs {
			sp.Attributes = append(sp.Attributes, strAttr("k", string(rune('a'+j%26))))
		}
		ss.Spans = append(ss.Spans, sp)
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}}
}

func statusCounters() *status.Counters { return status.NewCounters() }
