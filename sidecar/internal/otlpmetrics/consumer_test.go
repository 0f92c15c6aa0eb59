package otlpmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/internal/otelcw"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlpmetrics"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/otlp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

type sink struct {
	got   []string
	err   error
	drop  int
	calls int
}

func (s *sink) AddPoints(pts []cwmetric.Point) (int, error) {
	s.calls++
	if s.err != nil {
		return 0, s.err
	}
	for _, p := range pts {
		s.got = append(s.got, fmt.Sprintf("%s %s %v", p.Namespace, p.Name, p.Values))
	}
	return min(s.drop, len(pts)), nil
}

func counter(v float64, more ...*metricspb.NumberDataPoint) *colmetricpb.ExportMetricsServiceRequest {
	dps := append([]*metricspb.NumberDataPoint{{StartTimeUnixNano: 1, TimeUnixNano: uint64(v) * 1e9,
		Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}}, more...)
	return &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "cart"}}}}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "requests", Unit: "{request}",
			Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true, DataPoints: dps,
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE}}}}}}}}}
}

func newConsumer(t *testing.T, s otlpmetrics.Sink) (*otlpmetrics.Consumer, *status.Counters) {
	t.Helper()
	tr, err := otelcw.New(otelcw.Config{Namespace: "App"})
	if err != nil {
		t.Fatal(err)
	}
	cs := status.NewCounters()
	c, err := otlpmetrics.New(otlpmetrics.Config{Translator: tr, Sink: s, Counters: cs})
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

// A refused request moves no baseline: resent, it gives the same delta.
func TestRefusalThenResend(t *testing.T) {
	s := &sink{}
	c, cs := newConsumer(t, s)
	ctx := context.Background()
	if rej, _, err := c.ConsumeMetrics(ctx, counter(10)); rej != 0 || err != nil || s.calls != 0 {
		t.Fatalf("baseline: rejected %d, err %v, %d calls", rej, err, s.calls)
	}
	for _, want := range []error{otlp.ErrBudgetFull, otlp.ErrShuttingDown} {
		s.err = fmt.Errorf("%w: test", want)
		if _, _, err := c.ConsumeMetrics(ctx, counter(15)); !errors.Is(err, want) {
			t.Fatalf("err %v, want %v", err, want)
		}
	}
	s.err = nil
	if rej, _, err := c.ConsumeMetrics(ctx, counter(15)); rej != 0 || err != nil {
		t.Fatalf("rejected %d, err %v", rej, err)
	}
	if fmt.Sprint(s.got) != "[App requests [5]]" || cs.Get("otlp.metrics.baselines") != 1 || cs.Get("otlp.metrics.points") != 1 {
		t.Fatalf("got %v; counters %v", s.got, cs.Snapshot())
	}
}

// Untranslatable points and the Sink's drops are rejected, counted and
// explained; the others are delivered.
func TestPartialSuccess(t *testing.T) {
	s := &sink{drop: 1}
	c, cs := newConsumer(t, s)
	ctx := context.Background()
	c.ConsumeMetrics(ctx, counter(10))
	nan := &metricspb.NumberDataPoint{TimeUnixNano: 30e9, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: math.NaN()}}
	rej, msg, err := c.ConsumeMetrics(ctx, counter(20, nan))
	if err != nil || rej != 2 || !strings.Contains(msg, "1 of 2 data points") || !strings.Contains(msg, "non_finite") ||
		!strings.Contains(msg, "1 data points dropped") {
		t.Fatalf("rejected %d %q, err %v", rej, msg, err)
	}
	if cs.Get("otlp.metrics.untranslated.non_finite") != 1 || cs.Get("otlp.metrics.data_points") != 3 {
		t.Fatalf("counters %v", cs.Snapshot())
	}
}

func TestNewNeedsSinkAndCounters(t *testing.T) {
	if _, err := otlpmetrics.New(otlpmetrics.Config{Counters: status.NewCounters()}); err == nil {
		t.Fatal("no Sink accepted")
	}
	if _, err := otlpmetrics.New(otlpmetrics.Config{Sink: &sink{}}); err == nil {
		t.Fatal("no Counters accepted")
	}
	t.Setenv("AWS_EMF_NAMESPACE", "")
	t.Setenv("POWERTOOLS_METRICS_NAMESPACE", "Power")
	if otlpmetrics.DefaultNamespace() != "Power" {
		t.Fatal(otlpmetrics.DefaultNamespace())
	}
}
