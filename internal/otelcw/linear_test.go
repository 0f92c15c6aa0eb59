package otelcw_test

import (
	"fmt"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
)

// mixed builds a request of n series of every kind, and hostile points:
// one with n attributes and histograms with n buckets.
func mixed(n int, tm uint64) *colmetricpb.ExportMetricsServiceRequest {
	var ms []*metricspb.Metric
	for i := range n {
		id := str("id", fmt.Sprint(i))
		h := hdp(tm, []float64{1, 2, 3}, []uint64{1, 2, 3, 4}, f(10), nil, nil)
		h.Attributes = []*commonpb.KeyValue{id}
		e := edp(tm, 2, 1, -2, []uint64{1, 2, 3}, 0, []uint64{1})
		e.Attributes = h.Attributes
		ms = append(ms, gauge(fmt.Sprint("g", i), "ms", num(tm, 1, id)), sum("c", true, true, num(tm, float64(i), id)),
			hist("h", true, h), expo("e", false, e))
	}
	wide := make([]*commonpb.KeyValue, n)
	buckets := make([]uint64, n)
	for i := range wide {
		wide[i] = str(fmt.Sprint("k", i), "v")
		buckets[i] = 1
	}
	ms = append(ms, gauge("wide", "", num(tm, 1, wide...)), expo("big", false, edp(tm, 20, 0, 5, buckets, -5, buckets)))
	return req(ms...)
}

// Translating is linear in the request: allocations at n and 4n.
func TestLinear(t *testing.T) {
	measure := func(n int) float64 {
		r1, r2 := mixed(n, t1), mixed(n, t2)
		return testing.AllocsPerRun(3, func() {
			tr := newTranslator(t, nil)
			for _, r := range []*colmetricpb.ExportMetricsServiceRequest{r1, r2} {
				if _, err := tr.Translate(r, func([]cwmetric.Point) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	a, b := measure(200), measure(800)
	if b > 4.6*a {
		t.Fatalf("allocations %v at n=200, %v at n=800: more than linear", a, b)
	}
	t.Logf("allocations %v at n=200, %v at n=800 (%.2fx)", a, b, b/a)
}

// BenchmarkTranslate: requests of 100 series of each kind (400 data
// points, and the two hostile ones). Past the first round the cumulative
// points are stale (the cost of a resend); the others are translated in
// full.
func BenchmarkTranslate(b *testing.B) {
	tr := newTranslator(b, nil)
	r1, r2 := mixed(100, t1), mixed(100, t2)
	deliver := func([]cwmetric.Point) error { return nil }
	if _, err := tr.Translate(r1, deliver); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := r2
		if i%2 == 1 {
			r = r1
		}
		if _, err := tr.Translate(r, deliver); err != nil {
			b.Fatal(err)
		}
	}
}
