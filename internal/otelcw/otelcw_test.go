package otelcw_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/otelcw"
)

func withStart(dp *metricspb.NumberDataPoint, start uint64) *metricspb.NumberDataPoint {
	dp.StartTimeUnixNano = start
	return dp
}

func attr(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

// TestRules has one case per translation rule (see the package doc).
func TestRules(t *testing.T) {
	many := make([]*commonpb.KeyValue, 31)
	for i := range many {
		many[i] = str(fmt.Sprintf("k%d", i), "v")
	}
	wideBounds := make([]float64, 200)
	wideCounts := make([]uint64, 201)
	for i := range wideBounds {
		wideBounds[i] = float64(i + 1)
	}
	for i := range wideCounts {
		wideCounts[i] = 1
	}
	badCount := hdp(t1, []float64{10}, []uint64{1, 1}, nil, nil, nil)
	badCount.Count = 3
	flagged := num(t1, 1)
	flagged.Flags = 1
	intPoint := &metricspb.NumberDataPoint{TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 7}}
	for _, tc := range []struct {
		name      string
		reqs      []*colmetricpb.ExportMetricsServiceRequest
		want      []string
		drops     map[otelcw.Reason]int
		baselines int
	}{
		{name: "gauge: one value per point; service.name is Service; attributes are dimensions",
			reqs: reqs(gauge("cpu", "%", num(t1, 42.5, str("core", "0"))), gauge("mem", "By", intPoint)),
			want: []string{"cpu Percent Service=cart core=0 v=[42.5]", "mem Bytes Service=cart v=[7]"}},
		{name: "delta sum as is; a monotonic one refuses negative values",
			reqs:  reqs(sum("req", false, true, num(t1, 3), num(t1, -1)), sum("level", false, false, num(t1, -2))),
			want:  []string{"req Count Service=cart v=[3]", "level Count Service=cart v=[-2]"},
			drops: map[otelcw.Reason]int{otelcw.NegativeValue: 1}},
		{name: "cumulative counter: first point a baseline, then deltas; going down is a restart",
			reqs:      reqs(sum("c", true, true, num(t1, 10)), sum("c", true, true, num(t2, 15)), sum("c", true, true, num(t3, 4))),
			want:      []string{"c Count Service=cart v=[5]", "c Count Service=cart v=[4]"},
			baselines: 1},
		{name: "cumulative counter: a new start time is a restart",
			reqs:      reqs(sum("c", true, true, num(t1, 10)), sum("c", true, true, withStart(num(t3, 2), t2))),
			want:      []string{"c Count Service=cart v=[2]"},
			baselines: 1},
		{name: "cumulative counter: a point not newer than the baseline is stale",
			reqs:      reqs(sum("c", true, true, num(t1, 10)), sum("c", true, true, num(t1, 12))),
			drops:     map[otelcw.Reason]int{otelcw.Stale: 1},
			baselines: 1},
		{name: "cumulative up-down counter: its level, as a gauge",
			reqs: reqs(sum("q", true, false, num(t1, 5)), sum("q", true, false, num(t2, 3))),
			want: []string{"q Count Service=cart v=[5]", "q Count Service=cart v=[3]"}},
		{name: "histogram: bucket midpoints within min and max",
			reqs: reqs(hist("lat", false, hdp(t1, []float64{0, 10, 20}, []uint64{0, 2, 1, 1}, f(50), f(2), f(40)))),
			want: []string{"lat Milliseconds Service=cart v=[6 15 30] c=[2 1 1]"}},
		{name: "histogram: open buckets without min and max take their finite bound",
			reqs: reqs(hist("lat", false, hdp(t1, []float64{0, 10, 20}, []uint64{1, 0, 0, 1}, nil, nil, nil))),
			want: []string{"lat Milliseconds Service=cart v=[0 20] c=[1 1]"}},
		{name: "histogram: all values in one bucket, their mean keeps the sum",
			reqs: reqs(hist("lat", false, hdp(t1, []float64{0, 10, 20}, []uint64{0, 0, 3, 0}, f(51), nil, nil))),
			want: []string{"lat Milliseconds Service=cart v=[17] c=[3]"}},
		{name: "histogram: more than 150 values become a statistic set",
			reqs: reqs(hist("lat", false, hdp(t1, wideBounds, wideCounts, f(5000), f(0.5), f(250)))),
			want: []string{"lat Milliseconds Service=cart stats=201/5000/0.5/250"}},
		{name: "histogram: no buckets, the mean stands for the values",
			reqs: reqs(hist("lat", false, &metricspb.HistogramDataPoint{TimeUnixNano: t1, Count: 4, Sum: f(10)})),
			want: []string{"lat Milliseconds Service=cart v=[2.5] c=[4]"}},
		{name: "histogram: neither buckets nor a sum is refused",
			reqs:  reqs(hist("lat", false, &metricspb.HistogramDataPoint{TimeUnixNano: t1, Count: 4})),
			drops: map[otelcw.Reason]int{otelcw.BadHistogram: 1}},
		{name: "cumulative histogram: delta bucket by bucket after a baseline",
			reqs: reqs(hist("lat", true, hdp(t1, []float64{10}, []uint64{1, 1}, f(20), nil, nil)),
				hist("lat", true, hdp(t2, []float64{10}, []uint64{3, 1}, f(30), nil, nil))),
			want:      []string{"lat Milliseconds Service=cart v=[5] c=[2]"},
			baselines: 1},
		{name: "cumulative histogram: a bucket going down is a restart",
			reqs: reqs(hist("lat", true, hdp(t1, []float64{10}, []uint64{1, 1}, nil, nil, nil)),
				hist("lat", true, hdp(t2, []float64{10}, []uint64{0, 3}, nil, nil, nil))),
			want:      []string{"lat Milliseconds Service=cart v=[10] c=[3]"},
			baselines: 1},
		{name: "exponential histogram: buckets base^i..base^(i+1), negative mirrored, zero",
			reqs: reqs(expo("ed", false, edp(t1, 0, 1, 0, []uint64{1, 2}, 1, []uint64{1}))),
			want: []string{"ed Seconds Service=cart v=[-3 0 1.5 3] c=[1 1 1 2]"}},
		{name: "cumulative exponential histogram: the baseline brought to the new, coarser scale",
			reqs: reqs(expo("ed", true, edp(t1, 1, 0, 0, []uint64{1, 1, 1, 1}, 0, nil)),
				expo("ed", true, edp(t2, 0, 0, 0, []uint64{3, 3}, 0, nil))),
			want:      []string{"ed Seconds Service=cart v=[1.5 3] c=[1 1]"},
			baselines: 1},
		{name: "cumulative exponential histogram: buckets matched by index when the offset moves",
			reqs: reqs(expo("ed", true, edp(t1, 0, 0, 2, []uint64{1}, 0, nil)),
				expo("ed", true, edp(t2, 0, 0, 1, []uint64{1, 1}, 0, nil))),
			want:      []string{"ed Seconds Service=cart v=[3] c=[1]"},
			baselines: 1},
		{name: "cumulative exponential histogram: a finer scale is a restart",
			reqs: reqs(expo("ed", true, edp(t1, 0, 0, 0, []uint64{1}, 0, nil)),
				expo("ed", true, edp(t2, 1, 0, 0, []uint64{1, 1}, 0, nil))),
			want:      []string{"ed Seconds Service=cart v=[1.2071067811865475 1.7071067811865475] c=[1 1]"},
			baselines: 1},
		{name: "summary: dropped",
			reqs: reqs(&metricspb.Metric{Name: "s", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{
				DataPoints: []*metricspb.SummaryDataPoint{{Count: 1, Sum: 2}}}}}),
			drops: map[otelcw.Reason]int{otelcw.Summary: 1}},
		{name: "NaN and infinite values, no recorded value",
			reqs:  reqs(gauge("g", "", num(t1, math.NaN()), num(t1, math.Inf(-1)), flagged)),
			drops: map[otelcw.Reason]int{otelcw.NonFinite: 2, otelcw.NoRecordedValue: 1}},
		{name: "malformed histograms",
			reqs: reqs(hist("h", false, badCount, hdp(t1, []float64{10, 5}, []uint64{1, 1, 1}, nil, nil, nil),
				hdp(t1, []float64{10}, []uint64{1}, nil, nil, nil), hdp(t1, []float64{10}, []uint64{1, 1}, f(math.Inf(1)), nil, nil)),
				expo("e", false, edp(t1, 21, 1, 0, nil, 0, nil))),
			drops: map[otelcw.Reason]int{otelcw.BadHistogram: 4, otelcw.NonFinite: 1}},
		{name: "attribute values: booleans and numbers as text; a point's attribute overrides the resource's",
			reqs: reqs(gauge("g", "", num(t1, 1, attr("ok", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}),
				attr("n", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 3}}),
				attr("x", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}})), num(t1, 2, str("Service", "other")))),
			want: []string{"g None Service=cart n=3 ok=true x=1.5 v=[1]", "g None Service=other v=[2]"}},
		{name: "CloudWatch's dimension rules",
			reqs: reqs(gauge("g", "", num(t1, 1, attr("arr", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{}})),
				num(t1, 1, str("", "x")), num(t1, 1, str(":x", "v")), num(t1, 1, str("user", "José")), num(t1, 1, str("e", "")),
				num(t1, 1, many...), num(t1, 1, str("a", "1"), str("a", "2")))),
			drops: map[otelcw.Reason]int{otelcw.UnsupportedAttribute: 2, otelcw.BadDimensionName: 2, otelcw.BadDimensionValue: 1,
				otelcw.TooManyDimensions: 1, otelcw.DuplicateDimension: 1}},
		{name: "metric names, data and temporality",
			reqs: reqs(gauge("", "", num(t1, 1)), gauge(strings.Repeat("m", 256), "", num(t1, 1)), &metricspb.Metric{Name: "empty"},
				&metricspb.Metric{Name: "s", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: []*metricspb.NumberDataPoint{num(t1, 1)}}}}),
			drops: map[otelcw.Reason]int{otelcw.BadMetricName: 2, otelcw.NoData: 1, otelcw.BadTemporality: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, results := run(t, newTranslator(t, nil), tc.reqs...)
			if !slices.Equal(got, tc.want) {
				t.Errorf("points\n got %q\nwant %q", got, tc.want)
			}
			drops := map[otelcw.Reason]int{}
			baselines := 0
			for _, res := range results {
				for _, r := range otelcw.Reasons {
					if n := res.DroppedFor(r); n > 0 {
						drops[r] += n
					}
				}
				baselines += res.Baselines
				if res.Drops() > 0 && res.First == nil {
					t.Error("drops without an error")
				}
			}
			if tc.drops == nil {
				tc.drops = map[otelcw.Reason]int{}
			}
			if fmt.Sprint(drops) != fmt.Sprint(tc.drops) || baselines != tc.baselines {
				t.Errorf("drops %v, want %v; baselines %d, want %d", drops, tc.drops, baselines, tc.baselines)
			}
		})
	}
}

func reqs(ms ...*metricspb.Metric) []*colmetricpb.ExportMetricsServiceRequest {
	// Each metric in a request of its own, in order: cumulative cases rely
	// on it.
	var out []*colmetricpb.ExportMetricsServiceRequest
	for _, m := range ms {
		out = append(out, req(m))
	}
	return out
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]string{
		"s": "Seconds", "ms": "Milliseconds", "us": "Microseconds", "By": "Bytes", "KiBy": "Kilobytes", "MBy": "Megabytes",
		"bit": "Bits", "By/s": "Bytes/Second", "Mbit/s": "Megabits/Second", "%": "Percent", "1": "None", "": "None",
		"{request}": "Count", "{packet}/s": "Count/Second", "{a}{b}": "None", "ns": "None", "h": "None",
	} {
		if got := otelcw.Unit(in); got != want {
			t.Errorf("Unit(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, ns := range []string{"", "AWS/EC2", ":x", "naïve", strings.Repeat("n", 256)} {
		if _, err := otelcw.New(otelcw.Config{Namespace: ns}); err == nil {
			t.Errorf("namespace %q accepted", ns)
		}
	}
	if _, err := otelcw.New(otelcw.Config{Namespace: "App", ResourceDimensions: []string{":bad"}}); err == nil {
		t.Error("bad resource dimension accepted")
	}
}
