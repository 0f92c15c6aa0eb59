package otelcw

import (
	"strconv"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
)

// histPoint is what an explicit-bucket and an exponential histogram data
// point share: the fields the per-series bookkeeping reads.
type histPoint struct {
	label         string // "histogram" or "exponential histogram", for drop details
	problem       string // what checkHistogram or checkExponential found, "" if nothing
	count         uint64
	sum, min, max *float64 // nil when the point has none
	start, time   uint64
	attrs         []*commonKV
}

// beginHistogram drops a point with a problem or a sum, min or max that is
// not finite, finds the point's series (identify), and resets the
// request's scratch histogram to the point's count, sum, min and max. It
// returns a nil series when the point was dropped.
func (t *Translator) beginHistogram(r *request, res *Result, name, unit string, k kind, p *histPoint, cum bool) ([]cwmetric.Dim, *series, *hist) {
	if p.problem != "" {
		res.drop(BadHistogram, 1, p.detail(name, p.problem))
		return nil, nil, nil
	}
	if (p.sum != nil && !finite(*p.sum)) || (p.min != nil && !finite(*p.min)) || (p.max != nil && !finite(*p.max)) {
		res.drop(NonFinite, 1, p.detail(name, "a sum, min or max that is not finite"))
		return nil, nil, nil
	}
	dims, s := t.identify(r, res, name, unit, k, p.attrs)
	if s == nil {
		return nil, nil, nil
	}
	h := &r.hist
	*h = hist{vals: h.vals[:0], counts: h.counts[:0], count: p.count, sum: value(p.sum), hasSum: p.sum != nil,
		min: value(p.min), max: value(p.max), exact: !cum && p.min != nil && p.max != nil}
	return dims, s, h
}

// cumulativeHistogram is the per-series bookkeeping of a cumulative
// histogram point: cumulative decides, with wentDown, whether it is the
// series' baseline, a restart, stale or a delta. A stale point is
// dropped. For a delta, subtract takes the kept buckets off the point's
// and the kept count and sum come off h. keep then stores the point's
// buckets in s (false: over the bucket limit, dropped), and the point's
// start, time, count and sum become the series'. It returns whether the
// point is to be emitted: not when dropped, nor when it is a baseline
// (counted in res.Baselines).
func (t *Translator) cumulativeHistogram(res *Result, name string, p *histPoint, s *series, h *hist, wentDown func() bool, subtract func(), keep func() bool) bool {
	st := cumulative(s, p.start, p.time, wentDown)
	if st == stepStale {
		res.drop(Stale, 1, p.detail(name, "a point not newer than the last one"))
		return false
	}
	if st == stepDelta {
		subtract()
		h.count -= s.count
		h.hasSum = h.hasSum && s.hasSum
		h.sum -= s.sum
	}
	if !keep() {
		res.drop(SeriesLimit, 1, p.detail(name, "too many buckets kept (at most "+strconv.Itoa(t.cfg.MaxStoredBuckets)+")"))
		return false
	}
	s.has, s.start, s.time = true, p.start, p.time
	s.count, s.sum, s.hasSum = p.count, value(p.sum), p.sum != nil
	if st == stepBaseline {
		res.Baselines++
		return false
	}
	return true
}

// detail is a drop's detail, `<label> "<name>": <what>`, built without
// fmt so that the label costs no allocation (stale points are frequent
// when an exporter resends).
func (p *histPoint) detail(name, what string) string {
	return p.label + " " + strconv.Quote(cut(name)) + ": " + what
}

func value(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
