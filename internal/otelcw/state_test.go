package otelcw_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/internal/otelcw"
)

func points(n int, name string, tm uint64) []*metricspb.NumberDataPoint {
	dps := make([]*metricspb.NumberDataPoint, n)
	for i := range dps {
		dps[i] = num(tm, float64(i), str("id", fmt.Sprint(i)))
	}
	return dps
}

// A metric keeps at most MaxSetsPerMetric dimension sets and the
// Translator MaxSeries series; a series not seen for StaleAfter is
// forgotten, making room again.
func TestCardinalityAndSeriesLimits(t *testing.T) {
	clock := now
	tr := newTranslator(t, func(c *otelcw.Config) {
		c.MaxSetsPerMetric, c.MaxSeries, c.StaleAfter = 3, 5, time.Minute
		c.Now = func() time.Time { return clock }
	})
	_, res := run(t, tr, req(gauge("a", "", points(4, "a", t1)...)))
	if res[0].Points != 3 || res[0].DroppedFor(otelcw.CardinalityLimit) != 1 {
		t.Fatalf("%+v", res[0])
	}
	_, res = run(t, tr, req(gauge("b", "", points(3, "b", t1)...)))
	if res[0].Points != 2 || res[0].DroppedFor(otelcw.SeriesLimit) != 1 {
		t.Fatalf("%+v", res[0])
	}
	// Known series still pass.
	if _, res = run(t, tr, req(gauge("a", "", points(3, "a", t2)...))); res[0].Points != 3 {
		t.Fatalf("%+v", res[0])
	}
	clock = clock.Add(2 * time.Minute)
	if _, res = run(t, tr, req(gauge("c", "", points(3, "c", t2)...))); res[0].Points != 3 || res[0].Drops() != 0 {
		t.Fatalf("after the series went stale: %+v", res[0])
	}
}

// When delivery is refused, the baselines the request moved are restored:
// the resent request gives the same deltas, so nothing is lost or
// counted twice.
func TestRefusedDeliveryKeepsBaselines(t *testing.T) {
	tr := newTranslator(t, nil)
	counter := func(tm uint64, v float64, id string) *colmetricpb.ExportMetricsServiceRequest {
		return req(sum("c", true, true, num(tm, v, str("id", id))),
			hist("h", true, hdp(tm, []float64{10}, []uint64{uint64(v), 1}, nil, nil, nil)),
			expo("e", true, edp(tm, 0, 0, 0, []uint64{uint64(v)}, 0, nil)))
	}
	run(t, tr, counter(t1, 10, "a"))
	refuse := errors.New("budget full")
	var seen []string
	for range 3 {
		_, err := tr.Translate(counter(t2, 15, "a"), func(pts []cwmetric.Point) error {
			seen = seen[:0]
			for _, p := range pts {
				seen = append(seen, render(p))
			}
			return refuse
		})
		if !errors.Is(err, refuse) {
			t.Fatal(err)
		}
	}
	// A new series created by a refused request is forgotten too: its
	// first accepted point is its baseline.
	if _, err := tr.Translate(counter(t2, 3, "b"), func([]cwmetric.Point) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatal(err)
	}
	got, res := run(t, tr, counter(t2, 15, "a"))
	if !slices.Equal(got, seen) || len(got) != 3 || got[0] != "c Count Service=cart id=a v=[5]" {
		t.Fatalf("after refusals %q, refused %q", got, seen)
	}
	if _, res = run(t, tr, counter(t3, 5, "b")); res[0].Baselines != 1 || res[0].Points != 2 {
		t.Fatalf("%+v", res[0])
	}
}

// The stored buckets of cumulative histograms are bounded.
func TestStoredBucketsBounded(t *testing.T) {
	tr := newTranslator(t, func(c *otelcw.Config) { c.MaxBuckets, c.MaxStoredBuckets = 10, 15 })
	mk := func(id string) *metricspb.HistogramDataPoint {
		dp := hdp(t1, []float64{1, 2, 3}, []uint64{1, 1, 1, 1}, nil, nil, nil)
		dp.Attributes = []*commonpb.KeyValue{str("id", id)}
		return dp
	}
	_, res := run(t, tr, req(hist("h", true, mk("1"), mk("2"), mk("3"))))
	if res[0].Baselines != 2 || res[0].DroppedFor(otelcw.SeriesLimit) != 1 {
		t.Fatalf("%+v", res[0])
	}
}
