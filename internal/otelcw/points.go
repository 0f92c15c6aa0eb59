package otelcw

import (
	"fmt"
	"math"
	"slices"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
)

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// number translates a gauge or sum data point.
func (t *Translator) number(r *request, res *Result, name, unit string, dp *metricspb.NumberDataPoint, k kind) {
	if dp.GetFlags()&noRecordedValue != 0 {
		res.drop(NoRecordedValue, 1, fmt.Sprintf("%q", cut(name)))
		return
	}
	var v float64
	switch x := dp.GetValue().(type) {
	case *metricspb.NumberDataPoint_AsDouble:
		v = x.AsDouble
	case *metricspb.NumberDataPoint_AsInt:
		v = float64(x.AsInt)
	default:
		res.drop(NoData, 1, fmt.Sprintf("a point of %q has no value", cut(name)))
		return
	}
	if !finite(v) {
		res.drop(NonFinite, 1, fmt.Sprintf("%q: %v", cut(name), v))
		return
	}
	if v < 0 && (k == kindMonotonicDelta || k == kindCounter) {
		res.drop(NegativeValue, 1, fmt.Sprintf("monotonic sum %q: %v", cut(name), v))
		return
	}
	dims, s := t.identify(r, res, name, unit, k, dp.GetAttributes())
	if s == nil {
		return
	}
	if k == kindCounter {
		switch cumulative(s, dp.GetStartTimeUnixNano(), dp.GetTimeUnixNano(), func() bool { return v < s.value }) {
		case stepBaseline:
			res.Baselines++
			s.has, s.start, s.time, s.value = true, dp.GetStartTimeUnixNano(), dp.GetTimeUnixNano(), v
			return
		case stepStale:
			res.drop(Stale, 1, fmt.Sprintf("counter %q: a point not newer than the last one", cut(name)))
			return
		case stepDelta:
			v, s.value = v-s.value, v
		case stepRestart:
			s.value = v
		}
		s.start, s.time = dp.GetStartTimeUnixNano(), dp.GetTimeUnixNano()
	}
	vals := r.floatsN(1)
	vals[0] = v
	r.emit(name, unit, dims, dp.GetTimeUnixNano(), vals, nil, nil)
}

// identify finds a point's dimensions and series, or counts why not.
func (t *Translator) identify(r *request, res *Result, name, unit string, k kind, attrs []*commonKV) ([]cwmetric.Dim, *series) {
	dims, reason, detail := r.pointDims(attrs)
	if reason != "" {
		res.drop(reason, 1, fmt.Sprintf("%q: %s", cut(name), detail))
		return nil, nil
	}
	s, reason := t.track(r, name, r.seriesKey(name, unit, k, dims))
	if reason != "" {
		res.drop(reason, 1, fmt.Sprintf("%q: %d series (at most %d in all, %d per metric)", cut(name), len(t.series), t.cfg.MaxSeries, t.cfg.MaxSetsPerMetric))
		return nil, nil
	}
	return dims, s
}

// hist is a histogram point ready to be emitted: its non-empty buckets'
// representative values, ascending, with their counts.
type hist struct {
	vals, counts []float64
	count        uint64
	sum          float64
	hasSum       bool
	min, max     float64
	exact        bool // min and max are the period's (delta temporality)
}

// add appends a bucket's representative value v with count c, merging
// it with the last when equal.
func (h *hist) add(v float64, c uint64) {
	if c == 0 {
		return
	}
	if n := len(h.vals); n > 0 && h.vals[n-1] == v {
		h.counts[n-1] += float64(c)
		return
	}
	h.vals = append(h.vals, v)
	h.counts = append(h.counts, float64(c))
}

// clamp narrows a bucket's bounds to the point's min and max, when known,
// and returns the representative value: the midpoint, or the finite
// bound of an open bucket.
func clamp(lo, hi float64, min, max *float64) float64 {
	if min != nil && *min > lo {
		lo = *min
	}
	if max != nil && *max < hi {
		hi = *max
	}
	switch {
	case !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
		return lo + (hi-lo)/2
	case !math.IsInf(lo, 0):
		return lo
	}
	return hi
}

// emitHistogram emits h as Values/Counts or, beyond 150 values, as a
// statistic set.
func (r *request) emitHistogram(res *Result, name, unit string, dims []cwmetric.Dim, timeNs uint64, h *hist) {
	if h.count == 0 {
		return
	}
	if len(h.vals) == 0 {
		res.drop(BadHistogram, 1, fmt.Sprintf("histogram %q: neither buckets nor a sum", cut(name)))
		return
	}
	for _, v := range h.vals {
		if !finite(v) {
			res.drop(NonFinite, 1, fmt.Sprintf("histogram %q: a bucket's value is %v", cut(name), v))
			return
		}
	}
	if len(h.vals) == 1 && h.hasSum && finite(h.sum/float64(h.count)) {
		// Every value in one bucket: their mean lies in it too, and keeps
		// the sum exact.
		h.vals[0] = h.sum / float64(h.count)
	}
	if len(h.vals) <= cwmetric.MaxValuesPerDatum {
		vals, counts := r.floatsN(len(h.vals)), r.floatsN(len(h.vals))
		copy(vals, h.vals)
		copy(counts, h.counts)
		r.emit(name, unit, dims, timeNs, vals, counts, nil)
		return
	}
	st := cwmetric.Stats{Count: float64(h.count), Sum: h.sum, Min: h.min, Max: h.max}
	if !h.hasSum {
		st.Sum = 0
		for i, v := range h.vals {
			st.Sum += v * h.counts[i]
		}
	}
	if !h.exact {
		st.Min, st.Max = h.vals[0], h.vals[len(h.vals)-1]
	}
	if !finite(st.Sum) {
		res.drop(NonFinite, 1, fmt.Sprintf("histogram %q: sum %v", cut(name), st.Sum))
		return
	}
	r.emit(name, unit, dims, timeNs, nil, nil, r.statSet(st))
}

// histogram translates an explicit-bucket histogram data point.
func (t *Translator) histogram(r *request, res *Result, name, unit string, dp *metricspb.HistogramDataPoint, cum bool) {
	if dp.GetFlags()&noRecordedValue != 0 {
		res.drop(NoRecordedValue, 1, fmt.Sprintf("%q", cut(name)))
		return
	}
	bounds, counts := dp.GetExplicitBounds(), dp.GetBucketCounts()
	if len(counts) > t.cfg.MaxBuckets {
		res.drop(TooManyBuckets, 1, fmt.Sprintf("histogram %q: %d buckets (at most %d)", cut(name), len(counts), t.cfg.MaxBuckets))
		return
	}
	p := histPoint{label: "histogram", problem: checkHistogram(dp), count: dp.GetCount(), sum: dp.Sum, min: dp.Min, max: dp.Max,
		start: dp.GetStartTimeUnixNano(), time: dp.GetTimeUnixNano(), attrs: dp.GetAttributes()}
	k := kindHistogram
	if cum {
		k = kindCumulativeHistogram
	}
	dims, s, h := t.beginHistogram(r, res, name, unit, k, &p, cum)
	if s == nil {
		return
	}
	delta := counts
	if cum {
		same := slices.Equal(bounds, s.bounds)
		wentDown := func() bool {
			if !same || dp.GetCount() < s.count || len(counts) != len(s.buckets) {
				return true
			}
			for i, c := range counts {
				if c < s.buckets[i] {
					return true
				}
			}
			return false
		}
		subtract := func() {
			delta = r.u64N(len(counts))
			for i, c := range counts {
				delta[i] = c - s.buckets[i]
			}
		}
		keep := func() bool {
			kb := s.bounds
			if !same {
				kb = slices.Clone(bounds)
			}
			return t.keep(s, kb, slices.Clone(counts), nil)
		}
		if !t.cumulativeHistogram(res, name, &p, s, h, wentDown, subtract, keep) {
			return
		}
	}
	var mn, mx *float64
	if dp.Min != nil {
		mn = dp.Min
	}
	if dp.Max != nil {
		mx = dp.Max
	}
	if len(delta) == 0 {
		// No buckets: the mean stands for every value.
		if h.count > 0 && h.hasSum {
			h.add(h.sum/float64(h.count), h.count)
		}
	}
	for i, c := range delta {
		lo, hi := math.Inf(-1), math.Inf(1)
		if i > 0 {
			lo = bounds[i-1]
		}
		if i < len(bounds) {
			hi = bounds[i]
		}
		h.add(clamp(lo, hi, mn, mx), c)
	}
	r.emitHistogram(res, name, unit, dims, dp.GetTimeUnixNano(), h)
}

// checkHistogram names what is wrong with an explicit histogram's shape.
func checkHistogram(dp *metricspb.HistogramDataPoint) string {
	bounds, counts := dp.GetExplicitBounds(), dp.GetBucketCounts()
	if len(counts) == 0 {
		return ""
	}
	if len(counts) != len(bounds)+1 {
		return fmt.Sprintf("%d bucket counts for %d bounds", len(counts), len(bounds))
	}
	for i, b := range bounds {
		if !finite(b) || (i > 0 && b <= bounds[i-1]) {
			return "bounds not finite and increasing"
		}
	}
	var n uint64
	for _, c := range counts {
		if n+c < n {
			return "bucket counts overflow"
		}
		n += c
	}
	if n != dp.GetCount() {
		return fmt.Sprintf("bucket counts add up to %d, count is %d", n, dp.GetCount())
	}
	return ""
}
