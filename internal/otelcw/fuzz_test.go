package otelcw_test

import (
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/internal/otelcw"
)

// FuzzTranslate translates any decodable request twice (so cumulative
// deltas are taken too) and checks every point is one PutMetricData takes,
// and that every data point is accounted for.
func FuzzTranslate(fz *testing.F) {
	for _, r := range []*colmetricpb.ExportMetricsServiceRequest{
		mixed(3, t1),
		req(hist("lat", true, hdp(t1, []float64{0, 10, 20}, []uint64{0, 2, 1, 1}, f(50), f(2), f(40)))),
		req(expo("ed", true, edp(t1, 0, 1, 0, []uint64{1, 2}, 1, []uint64{1}))),
		req(sum("c", true, true, num(t1, 10)), sum("q", false, false, num(t1, -3))),
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			fz.Fatal(err)
		}
		fz.Add(b)
	}
	fz.Fuzz(func(t *testing.T, data []byte) {
		var r colmetricpb.ExportMetricsServiceRequest
		if proto.Unmarshal(data, &r) != nil {
			return
		}
		tr := newTranslator(t, func(c *otelcw.Config) { c.MaxBuckets = 300 })
		for range 2 {
			res, err := tr.Translate(&r, func(pts []cwmetric.Point) error {
				for _, p := range pts {
					check(t, p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Points+res.Baselines > res.DataPoints {
				t.Fatalf("%d points and %d baselines from %d data points", res.Points, res.Baselines, res.DataPoints)
			}
		}
	})
}

func check(t *testing.T, p cwmetric.Point) {
	t.Helper()
	if !cwmetric.ValidMetricName(p.Name) || !slices.Contains(cwmetric.Units, p.Unit) || len(p.Dims) > cwmetric.MaxDimensions {
		t.Fatalf("point %+v", p)
	}
	for i, d := range p.Dims {
		if !cwmetric.ValidDimensionName(d.Name) || !cwmetric.ValidDimensionValue(d.Value) || (i > 0 && p.Dims[i-1].Name >= d.Name) {
			t.Fatalf("dimensions %+v", p.Dims)
		}
	}
	fin := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if p.Stats != nil {
		s := p.Stats
		if len(p.Values) != 0 || !(s.Count > 0) || !fin(s.Sum) || !fin(s.Min) || !fin(s.Max) || s.Min > s.Max {
			t.Fatalf("statistic set %+v", *s)
		}
		return
	}
	if len(p.Values) == 0 || len(p.Values) > cwmetric.MaxValuesPerDatum || (p.Counts != nil && len(p.Counts) != len(p.Values)) {
		t.Fatalf("values %v counts %v", p.Values, p.Counts)
	}
	for i, v := range p.Values {
		if !fin(v) || (p.Counts != nil && !(p.Counts[i] > 0)) {
			t.Fatalf("values %v counts %v", p.Values, p.Counts)
		}
	}
}
