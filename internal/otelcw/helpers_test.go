package otelcw_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/internal/otelcw"
)

const (
	t0 = uint64(1_700_000_000_000_000_000) // start time
	t1 = t0 + 60e9
	t2 = t1 + 60e9
	t3 = t2 + 60e9
)

var now = time.Unix(0, int64(t3)+1e9)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func req(metrics ...*metricspb.Metric) *colmetricpb.ExportMetricsServiceRequest {
	return &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource:     &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "cart"), str("host.name", "h1")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: metrics}}}}}
}

func num(tm uint64, v float64, attrs ...*commonpb.KeyValue) *metricspb.NumberDataPoint {
	return &metricspb.NumberDataPoint{StartTimeUnixNano: t0, TimeUnixNano: tm, Attributes: attrs,
		Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
}

func gauge(name, unit string, dps ...*metricspb.NumberDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: unit, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: dps}}}
}

func sum(name string, cumulative, monotonic bool, dps ...*metricspb.NumberDataPoint) *metricspb.Metric {
	tmp := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	if cumulative {
		tmp = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	}
	return &metricspb.Metric{Name: name, Unit: "{request}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
		AggregationTemporality: tmp, IsMonotonic: monotonic, DataPoints: dps}}}
}

func temporality(cumulative bool) metricspb.AggregationTemporality {
	if cumulative {
		return metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	}
	return metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
}

func hist(name string, cumulative bool, dps ...*metricspb.HistogramDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: "ms", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
		AggregationTemporality: temporality(cumulative), DataPoints: dps}}}
}

func hdp(tm uint64, bounds []float64, counts []uint64, sum, min, max *float64) *metricspb.HistogramDataPoint {
	var n uint64
	for _, c := range counts {
		n += c
	}
	return &metricspb.HistogramDataPoint{StartTimeUnixNano: t0, TimeUnixNano: tm, ExplicitBounds: bounds, BucketCounts: counts,
		Count: n, Sum: sum, Min: min, Max: max}
}

func expo(name string, cumulative bool, dps ...*metricspb.ExponentialHistogramDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: "s", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
		AggregationTemporality: temporality(cumulative), DataPoints: dps}}}
}

func edp(tm uint64, scale int32, zero uint64, posOff int32, pos []uint64, negOff int32, neg []uint64) *metricspb.ExponentialHistogramDataPoint {
	n := zero
	for _, c := range append(append([]uint64(nil), pos...), neg...) {
		n += c
	}
	return &metricspb.ExponentialHistogramDataPoint{StartTimeUnixNano: t0, TimeUnixNano: tm, Scale: scale, ZeroCount: zero, Count: n,
		Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: posOff, BucketCounts: pos},
		Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: negOff, BucketCounts: neg}}
}

func f(v float64) *float64 { return &v }

// render writes a point compactly for comparison.
func render(p cwmetric.Point) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", p.Name, p.Unit)
	for _, d := range p.Dims {
		fmt.Fprintf(&b, " %s=%s", d.Name, d.Value)
	}
	if p.Stats != nil {
		fmt.Fprintf(&b, " stats=%g/%g/%g/%g", p.Stats.Count, p.Stats.Sum, p.Stats.Min, p.Stats.Max)
	} else {
		fmt.Fprintf(&b, " v=%v", p.Values)
		if p.Counts != nil {
			fmt.Fprintf(&b, " c=%v", p.Counts)
		}
	}
	return b.String()
}

func newTranslator(t testing.TB, mod func(*otelcw.Config)) *otelcw.Translator {
	t.Helper()
	cfg := otelcw.Config{Namespace: "App", Now: func() time.Time { return now }}
	if mod != nil {
		mod(&cfg)
	}
	tr, err := otelcw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// run translates each request in turn and returns every point rendered,
// and the results.
func run(t testing.TB, tr *otelcw.Translator, reqs ...*colmetricpb.ExportMetricsServiceRequest) ([]string, []otelcw.Result) {
	t.Helper()
	var out []string
	var results []otelcw.Result
	for _, rq := range reqs {
		res, err := tr.Translate(rq, func(pts []cwmetric.Point) error {
			for _, p := range pts {
				if p.Namespace != "App" || p.Resolution != 60 {
					t.Errorf("point %+v", p)
				}
				out = append(out, render(p))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	return out, results
}
