package otelcw

import (
	"fmt"
	"math"
	"slices"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
)

// OTLP's exponential histogram scales.
const (
	minScale = -10
	maxScale = 20
)

// exponential translates an exponential histogram data point.
func (t *Translator) exponential(r *request, res *Result, name, unit string, dp *metricspb.ExponentialHistogramDataPoint, cum bool) {
	if dp.GetFlags()&noRecordedValue != 0 {
		res.drop(NoRecordedValue, 1, fmt.Sprintf("%q", cut(name)))
		return
	}
	pos, neg := dp.GetPositive(), dp.GetNegative()
	if n := len(pos.GetBucketCounts()) + len(neg.GetBucketCounts()); n > t.cfg.MaxBuckets {
		res.drop(TooManyBuckets, 1, fmt.Sprintf("exponential histogram %q: %d buckets (at most %d)", cut(name), n, t.cfg.MaxBuckets))
		return
	}
	p := histPoint{label: "exponential histogram", problem: checkExponential(dp), count: dp.GetCount(), sum: dp.Sum, min: dp.Min, max: dp.Max,
		start: dp.GetStartTimeUnixNano(), time: dp.GetTimeUnixNano(), attrs: dp.GetAttributes()}
	k := kindExponential
	if cum {
		k = kindCumulativeExponential
	}
	dims, s, h := t.beginHistogram(r, res, name, unit, k, &p, cum)
	if s == nil {
		return
	}
	scale, zero := dp.GetScale(), dp.GetZeroCount()
	posOff, posC := pos.GetOffset(), pos.GetBucketCounts()
	negOff, negC := neg.GetOffset(), neg.GetBucketCounts()
	if cum {
		var dPos, dNeg []uint64
		wentDown := func() bool {
			if scale > s.scale || dp.GetCount() < s.count || zero < s.zero {
				return true
			}
			var down bool
			dPos, down = r.subtract(posOff, posC, s.posOff, s.buckets, s.scale-scale)
			if down {
				return true
			}
			dNeg, down = r.subtract(negOff, negC, s.negOff, s.neg, s.scale-scale)
			return down
		}
		subtract := func() {
			posC, negC = dPos, dNeg
			zero -= s.zero
		}
		keep := func() bool {
			if !t.keep(s, nil, slices.Clone(pos.GetBucketCounts()), slices.Clone(neg.GetBucketCounts())) {
				return false
			}
			s.scale, s.zero, s.posOff, s.negOff = scale, dp.GetZeroCount(), posOff, negOff
			return true
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
	width := math.Ldexp(1, -int(scale)) // log2 of the base
	bound := func(idx int64) float64 { return math.Exp2(float64(idx) * width) }
	// Ascending: negative buckets from the largest magnitude, zero, then
	// positive ones.
	for i := len(negC) - 1; i >= 0; i-- {
		idx := int64(negOff) + int64(i)
		h.add(clamp(-bound(idx+1), -bound(idx), mn, mx), negC[i])
	}
	h.add(clamp(0, 0, nil, nil), zero)
	for i, c := range posC {
		idx := int64(posOff) + int64(i)
		h.add(clamp(bound(idx), bound(idx+1), mn, mx), c)
	}
	r.emitHistogram(res, name, unit, dims, dp.GetTimeUnixNano(), h)
}

// subtract returns cur (offset curOff) minus prev (offset prevOff, at a
// scale shift steps finer), bucket by bucket at cur's scale, or reports
// that some bucket went down (or vanished): a restart.
func (r *request) subtract(curOff int32, cur []uint64, prevOff int32, prev []uint64, shift int32) ([]uint64, bool) {
	out := r.u64N(len(cur))
	copy(out, cur)
	for j, c := range prev {
		if c == 0 {
			continue
		}
		k := (int64(prevOff)+int64(j))>>shift - int64(curOff)
		if k < 0 || k >= int64(len(out)) || out[k] < c {
			return nil, true
		}
		out[k] -= c
	}
	return out, false
}

// checkExponential names what is wrong with an exponential histogram's
// shape.
func checkExponential(dp *metricspb.ExponentialHistogramDataPoint) string {
	if dp.GetScale() < minScale || dp.GetScale() > maxScale {
		return fmt.Sprintf("scale %d outside %d..%d", dp.GetScale(), minScale, maxScale)
	}
	n := dp.GetZeroCount()
	for _, b := range []*metricspb.ExponentialHistogramDataPoint_Buckets{dp.GetPositive(), dp.GetNegative()} {
		for _, c := range b.GetBucketCounts() {
			if n+c < n {
				return "bucket counts overflow"
			}
			n += c
		}
		if int64(b.GetOffset())+int64(len(b.GetBucketCounts())) > math.MaxInt32 {
			return "bucket indexes overflow"
		}
	}
	if n != dp.GetCount() {
		return fmt.Sprintf("bucket counts add up to %d, count is %d", n, dp.GetCount())
	}
	return ""
}
