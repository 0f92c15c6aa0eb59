package otelcw_test

import (
	"fmt"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/internal/otelcw"
)

// A delta histogram becomes one point of values and counts; the
// resource's service.name is its Service dimension.
func ExampleTranslator_Translate() {
	tr, err := otelcw.New(otelcw.Config{Namespace: "Shop"})
	if err != nil {
		panic(err)
	}
	sum := 95.0
	req := &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "cart"}}}}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
			Name: "http.server.request.duration", Unit: "ms",
			Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
				DataPoints: []*metricspb.HistogramDataPoint{{TimeUnixNano: 1_700_000_000_000_000_000,
					ExplicitBounds: []float64{10, 50, 100}, BucketCounts: []uint64{0, 1, 1, 0}, Count: 2, Sum: &sum}}}}}}}}}}}
	res, _ := tr.Translate(req, func(pts []cwmetric.Point) error {
		for _, p := range pts {
			fmt.Println(p.Namespace, p.Name, p.Unit, p.Dims, p.Values, p.Counts)
		}
		return nil
	})
	fmt.Println(res.DataPoints, "data point,", res.Points, "point,", res.Drops(), "dropped")
	// Output:
	// Shop http.server.request.duration Milliseconds [{Service cart}] [30 75] [1 1]
	// 1 data point, 1 point, 0 dropped
}
