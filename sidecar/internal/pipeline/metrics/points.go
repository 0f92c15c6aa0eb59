package metrics

import (
	"errors"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// Errors of ConsumePoints: the points were not taken, and none of them
// was kept.
var (
	// ErrBudgetFull: the memory budget has no room for the points'
	// aggregates now; the sender of the points should retry later.
	ErrBudgetFull = errors.New("metrics: memory budget full")
	// ErrStopped: the pipeline is shutting down.
	ErrStopped = errors.New("metrics: pipeline stopped")
)

// ConsumePoints aggregates points that were parsed elsewhere (OTLP
// metrics, translated by package otelcw) on the same path as EMF points.
// Unlike ConsumeEMF, whose senders cannot be asked to resend, it takes all
// the points or none: when the budget cannot hold the aggregates they may
// need, it returns ErrBudgetFull and keeps nothing, and once Shutdown has
// begun it returns ErrStopped. Points CloudWatch would refuse (values out
// of range, bad dimensions, reserved namespace, timestamps out of range)
// are dropped and counted as for EMF; dropped says how many. pts is only
// read during the call. Safe for concurrent use; it does not block on the
// network.
func (p *Pipeline) ConsumePoints(pts []cwmetric.Point) (dropped int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Checked under p.mu: seal takes p.mu after intake stopped, so points
	// taken here are flushed by it.
	if p.s.Stopped() {
		return 0, ErrStopped
	}
	p.nowMs = p.cfg.Now().UnixMilli()
	need := p.need(pts)
	var prepaid int64
	whole := need <= p.cfg.Budget.Share()/2
	if whole {
		// Hold the most the points can add, all at once, so that either
		// all of them are taken or the request is refused.
		if !p.q.Hold(need) {
			p.requestFlush()
			p.refusedFull.Add(1)
			return 0, ErrBudgetFull
		}
		prepaid = need
		defer func() { p.q.Unhold(prepaid) }()
	}
	// A request too large to be held at once (half the pipeline's share) is
	// taken point by point; what does not fit is dropped, counted and
	// reported.
	for i := range pts {
		pt := p.emfPoint(&pts[i])
		var pp *int64
		if whole {
			pp = &prepaid
		}
		if p.add(pt, pts[i].Counts, pts[i].Stats, pp) != "" {
			dropped++
		}
	}
	p.pointsIn.Add(uint64(len(pts)))
	return dropped, nil
}

// need returns the most bytes pts can add to the aggregates: a new
// aggregate for each point whose series is not aggregated yet (twice for
// two points of one new series), plus one value's overhead for each value
// that can be new. The caller holds p.mu.
func (p *Pipeline) need(pts []cwmetric.Point) int64 {
	var n int64
	for i := range pts {
		pt := p.emfPoint(&pts[i])
		key, problem := p.seriesKey(pt)
		if problem != "" {
			continue
		}
		vals := int64(min(len(pt.Values), p.cfg.MaxDistinctValues))
		if pts[i].Stats != nil {
			vals = 0
		}
		switch s := p.agg[string(key)]; {
		case s == nil:
			n += int64(len(key)*2+seriesOverhead) + vals*valueOverhead
		case s.counts != nil:
			n += min(vals, int64(max(0, p.cfg.MaxDistinctValues-len(s.counts)))) * valueOverhead
		}
	}
	return n
}

// emfPoint views pt as the aggregation takes it, in buffers reused from
// call to call (valid until the next one). The caller holds p.mu.
func (p *Pipeline) emfPoint(pt *cwmetric.Point) *emfdoc.Point {
	b := p.textBuf[:0]
	b = append(b, pt.Namespace...)
	b = append(b, pt.Name...)
	for _, d := range pt.Dims {
		b = append(b, d.Name...)
		b = append(b, d.Value...)
	}
	p.textBuf = b
	cut := func(s string) []byte {
		v := b[:len(s):len(s)]
		b = b[len(s):]
		return v
	}
	p.dimBuf = p.dimBuf[:0]
	out := &p.pointBuf
	*out = emfdoc.Point{Namespace: cut(pt.Namespace), Name: cut(pt.Name), Unit: pt.Unit, Resolution: pt.Resolution,
		Values: pt.Values, TimestampMs: pt.TimestampMs}
	for _, d := range pt.Dims {
		p.dimBuf = append(p.dimBuf, emfdoc.Dim{Name: cut(d.Name), Value: cut(d.Value)})
	}
	out.Dims = p.dimBuf
	if out.Resolution != 1 {
		out.Resolution = 60
	}
	if out.Unit == "" {
		out.Unit = "None"
	}
	return out
}
