package otelcw

import "time"

// kind is how a series' points are read.
type kind uint8

const (
	kindGauge          kind = iota + 1 // as is: gauges, up-down counters, delta sums
	kindDelta                          // a delta sum that may go down
	kindMonotonicDelta                 // a delta sum that may not be negative
	kindCounter                        // a cumulative monotonic sum
	kindHistogram
	kindCumulativeHistogram
	kindExponential
	kindCumulativeExponential
)

// series is what the Translator remembers of one series: when it was
// last seen (to forget it) and, for cumulative ones, the last point.
type series struct {
	key, metric string
	seen        time.Time
	gen         uint64 // the request that last changed it

	has         bool // a baseline is kept
	start, time uint64
	value       float64 // sum
	count       uint64  // histograms
	sum         float64
	hasSum      bool
	bounds      []float64
	buckets     []uint64 // explicit; exponential positive
	scale       int32
	zero        uint64
	posOff      int32
	negOff      int32
	neg         []uint64
}

// stored is how many buckets s keeps.
func (s *series) stored() int { return len(s.bounds) + len(s.buckets) + len(s.neg) }

// undo restores a series a refused request changed.
type undo struct {
	s       *series
	old     series
	created bool
}

// track returns the series of key, remembering it if it is new, or why it
// cannot be. The series may be changed: its state before is logged.
func (t *Translator) track(r *request, metric string, key []byte) (*series, Reason) {
	if s, ok := t.series[string(key)]; ok {
		t.touch(s, r.now)
		return s, ""
	}
	if len(t.series) >= t.cfg.MaxSeries || t.perMetric[metric] >= t.cfg.MaxSetsPerMetric {
		t.sweep(r.now)
	}
	if len(t.series) >= t.cfg.MaxSeries {
		return nil, SeriesLimit
	}
	if t.perMetric[metric] >= t.cfg.MaxSetsPerMetric {
		return nil, CardinalityLimit
	}
	s := &series{key: string(key), metric: metric, seen: r.now, gen: t.gen}
	t.series[s.key] = s
	t.perMetric[metric]++
	t.undo = append(t.undo, undo{s: s, created: true})
	return s, ""
}

func (t *Translator) touch(s *series, now time.Time) {
	if s.gen != t.gen {
		t.undo = append(t.undo, undo{s: s, old: *s})
		s.gen = t.gen
	}
	s.seen = now
}

// keep replaces s's baseline buckets, within the bound on stored buckets.
func (t *Translator) keep(s *series, bounds []float64, buckets, neg []uint64) bool {
	n := len(bounds) + len(buckets) + len(neg)
	if t.buckets-s.stored()+n > t.cfg.MaxStoredBuckets {
		return false
	}
	t.buckets += n - s.stored()
	s.bounds, s.buckets, s.neg = bounds, buckets, neg
	return true
}

// sweep forgets the series not seen for StaleAfter, at most every
// StaleAfter/8, so that a full table costs one pass per such period.
func (t *Translator) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < t.cfg.StaleAfter/8 {
		return
	}
	t.lastSweep = now
	for k, s := range t.series {
		if s.gen != t.gen && now.Sub(s.seen) > t.cfg.StaleAfter {
			t.forget(k, s)
		}
	}
}

func (t *Translator) forget(k string, s *series) {
	delete(t.series, k)
	if t.perMetric[s.metric]--; t.perMetric[s.metric] <= 0 {
		delete(t.perMetric, s.metric)
	}
	t.buckets -= s.stored()
}

// rollback undoes what the current request changed.
func (t *Translator) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if u.created {
			t.forget(u.s.key, u.s)
			continue
		}
		t.buckets += u.old.stored() - u.s.stored()
		*u.s = u.old
	}
	t.undo = t.undo[:0]
}

// step is what a cumulative point means against its series' baseline.
type step uint8

const (
	stepBaseline step = iota // the first point: remember it, no value
	stepDelta                // the difference from the baseline
	stepRestart              // the whole point: it counts from a restart
	stepStale                // not newer than the baseline: drop it
)

// cumulative decides a cumulative point's step; wentDown reports whether
// the point went below the baseline (checked only when needed).
func cumulative(s *series, start, time uint64, wentDown func() bool) step {
	switch {
	case !s.has:
		return stepBaseline
	case start != 0 && start != s.start:
		return stepRestart
	case time <= s.time:
		return stepStale
	case wentDown():
		return stepRestart
	}
	return stepDelta
}
