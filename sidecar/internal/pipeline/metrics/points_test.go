package metrics_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/metrics"
)

const docMs = 1700000000000

// Points with counts and statistic sets are aggregated with EMF points of
// the same series into one datum.
func TestConsumePointsCountsAndStats(t *testing.T) {
	e := newEnv(t, 16<<20, nil)
	dims := []cwmetric.Dim{{Name: "Service", Value: "cart"}, {Name: "route", Value: "/a"}}
	pts := []cwmetric.Point{
		{Namespace: "ns", Name: "latency", Unit: "Milliseconds", Dims: dims, TimestampMs: docMs, Values: []float64{5, 15}, Counts: []float64{3, 1}},
		{Namespace: "ns", Name: "latency", Unit: "Milliseconds", Dims: []cwmetric.Dim{dims[1], dims[0]}, TimestampMs: docMs + 1, Values: []float64{5}},
		{Namespace: "ns", Name: "size", Unit: "Bytes", TimestampMs: docMs, Stats: &cwmetric.Stats{Count: 4, Sum: 40, Min: 1, Max: 20}},
		{Namespace: "ns", Name: "size", Unit: "Bytes", TimestampMs: docMs, Values: []float64{30}},
		{Namespace: "AWS/EC2", Name: "x", TimestampMs: docMs, Values: []float64{1}},
		{Namespace: "ns", Name: "bad", Dims: []cwmetric.Dim{{Name: "k", Value: "é"}}, TimestampMs: docMs, Values: []float64{1}},
	}
	dropped, err := e.p.ConsumePoints(pts)
	if err != nil || dropped != 2 {
		t.Fatalf("dropped %d, err %v", dropped, err)
	}
	e.shutdown(t)
	var got []string
	for _, r := range e.fake.Metrics() {
		for _, d := range r.MetricData {
			switch d.MetricName {
			case "latency":
				if !slices.Equal(d.Values, []float64{5, 15}) || !slices.Equal(d.Counts, []float64{4, 1}) || len(d.Dimensions) != 2 || d.Unit != "Milliseconds" {
					t.Errorf("latency %+v", d)
				}
			case "size":
				s := d.StatisticValues
				if s == nil || s.SampleCount != 5 || s.Sum != 70 || s.Minimum != 1 || s.Maximum != 30 || d.Unit != "Bytes" {
					t.Errorf("size %+v %+v", d, s)
				}
			}
			got = append(got, d.MetricName)
		}
	}
	if slices.Sort(got); !slices.Equal(got, []string{"latency", "size"}) {
		t.Fatalf("datums %v", got)
	}
	if e.counters.Get("metrics.dropped.reserved_namespace") != 1 || e.counters.Get("metrics.dropped.bad_dimension_value") != 1 {
		t.Fatalf("counters %v", e.counters.Snapshot())
	}
}

// When the budget cannot hold a request's aggregates, ConsumePoints
// refuses it whole and keeps nothing of it; once Shutdown began, it says
// so.
func TestConsumePointsAllOrNone(t *testing.T) {
	e := newEnv(t, 64<<10, nil)
	var pts []cwmetric.Point
	for i := range 40 {
		pts = append(pts, cwmetric.Point{Namespace: "ns", Name: "m", TimestampMs: docMs,
			Dims: []cwmetric.Dim{{Name: "id", Value: string(rune('A'+i%26)) + string(rune('a'+i/26))}}, Values: []float64{float64(i)}})
	}
	taken := 0
	for range 100 {
		_, err := e.p.ConsumePoints(pts)
		if errors.Is(err, metrics.ErrBudgetFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		taken++
		for i := range pts { // new series each time
			pts[i].Name += "x"
		}
	}
	if taken == 0 || taken == 100 {
		t.Fatalf("%d requests taken before the budget was full", taken)
	}
	e.shutdown(t)
	n := 0
	for _, r := range e.fake.Metrics() {
		n += len(r.MetricData)
	}
	if n != taken*len(pts) || e.counters.Get("metrics.dropped.budget_full") != 0 || e.counters.Get("metrics.refused_budget_full") != 1 {
		t.Fatalf("%d datums delivered for %d requests taken; counters %v", n, taken, e.counters.Snapshot())
	}
	if _, err := e.p.ConsumePoints(pts[:1]); !errors.Is(err, metrics.ErrStopped) {
		t.Fatalf("after shutdown: %v", err)
	}
}

// ConsumePoints is linear in its points: allocations at n and 4n.
func TestConsumePointsLinear(t *testing.T) {
	e := newEnv(t, 256<<20, nil)
	defer e.shutdown(t)
	run := 0
	measure := func(n int) float64 {
		pts := make([]cwmetric.Point, n)
		return testing.AllocsPerRun(2, func() {
			run++
			for i := range pts {
				pts[i] = cwmetric.Point{Namespace: "ns", Name: "m", TimestampMs: docMs, Values: []float64{1, 2, 3}, Counts: []float64{1, 1, 2},
					Dims: []cwmetric.Dim{{Name: "run", Value: string(rune('a' + run%26))}, {Name: "id", Value: string(rune(0x21+i%90)) + string(rune(0x21+i/90%90))}}}
			}
			if _, err := e.p.ConsumePoints(pts); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := measure(400), measure(1600)
	if b > 4.6*a {
		t.Fatalf("allocations %v at n=400, %v at n=1600: more than linear", a, b)
	}
	t.Logf("allocations %v at n=400, %v at n=1600 (%.2fx)", a, b, b/a)
}

// A call whose aggregates could need more than half the pipeline's share
// of the budget is never refused (a resend could not fit either): it is
// taken point by point, and what does not fit is dropped, counted and
// reported.
func TestConsumePointsTooLargeForOneHold(t *testing.T) {
	e := newEnv(t, 64<<10, nil)
	var pts []cwmetric.Point
	for i := range 400 {
		pts = append(pts, cwmetric.Point{Namespace: "ns", Name: "m", TimestampMs: docMs,
			Dims: []cwmetric.Dim{{Name: "id", Value: fmt.Sprint(i)}}, Values: []float64{1}})
	}
	dropped, err := e.p.ConsumePoints(pts)
	if err != nil || dropped == 0 || dropped == len(pts) || uint64(dropped) != e.counters.Get("metrics.dropped.budget_full") {
		t.Fatalf("dropped %d, err %v; counters %v", dropped, err, e.counters.Snapshot())
	}
	e.shutdown(t)
	n := 0
	for _, r := range e.fake.Metrics() {
		n += len(r.MetricData)
	}
	if n+dropped != len(pts) {
		t.Fatalf("%d delivered + %d dropped != %d", n, dropped, len(pts))
	}
}
