package localview

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/compare"
)

// The compare page and /api/compare judge a rollout: the segments of one
// service, split into a baseline and a candidate by version, by time
// window, or both, are compared route by route with package compare.
//
// One request is one segment of the service (not an independent
// subsegment, not in progress): its route and version as versions.go
// reads them, its latency from its start to its end, and its status: the
// response status, raised to 500 when the segment is marked as a fault
// and to 400 when marked as an error or throttle without a 4xx or 5xx
// status, 200 when it has neither.
//
// The computation is one pass over the stored segments under the read
// lock, then package compare's sort per route: with the store's bounds
// (MaxTraces) it stays well within a page load.

// compareQuery is a parsed /api/compare query.
type compareQuery struct {
	service             string
	baseline, candidate sideQuery
	minRequests         int
	alpha               float64
	hasMin, hasAlpha    bool
}

// sideQuery selects one side's segments: a version, a window on the
// segment's start, or both.
type sideQuery struct {
	version      string
	since, until timeBound
	sinceText    string
	untilText    string
}

// maxQueryValue bounds the text of a version or service in a query.
const maxQueryValue = 1024

func parseCompareQuery(v url.Values) (compareQuery, error) {
	q := compareQuery{service: v.Get("service")}
	if q.service == "" {
		return q, errors.New("service is required: the service whose versions to compare")
	}
	for _, name := range []string{"service", "baseline", "candidate"} {
		if len(v.Get(name)) > maxQueryValue {
			return q, fmt.Errorf("%s is over %d bytes", name, maxQueryValue)
		}
	}
	var err error
	side := func(prefix string, sq *sideQuery) error {
		sq.version = v.Get(prefix)
		sq.sinceText, sq.untilText = v.Get(prefix+"_since"), v.Get(prefix+"_until")
		if sq.since, err = parseTimeBound(prefix+"_since", sq.sinceText); err != nil {
			return err
		}
		if sq.until, err = parseTimeBound(prefix+"_until", sq.untilText); err != nil {
			return err
		}
		return nil
	}
	if err := side("baseline", &q.baseline); err != nil {
		return q, err
	}
	if err := side("candidate", &q.candidate); err != nil {
		return q, err
	}
	b, c := q.baseline, q.candidate
	if b.version == "" && c.version == "" && !b.since.set && !b.until.set && !c.since.set && !c.until.set {
		return q, errors.New("name two versions (baseline, candidate) or two time windows (baseline_since/until, candidate_since/until)")
	}
	if b.version == c.version && b.sinceText == c.sinceText && b.untilText == c.untilText {
		return q, errors.New("baseline and candidate select the same requests: give them different versions or windows")
	}
	if s := v.Get("min_requests"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 || n > 1_000_000 {
			return q, fmt.Errorf("min_requests %q is not a whole number from 2 to 1000000", truncate(s))
		}
		q.minRequests, q.hasMin = n, true
	}
	if s := v.Get("alpha"); s != "" {
		a, err := strconv.ParseFloat(s, 64)
		if err != nil || !(a > 0 && a < 1) {
			return q, fmt.Errorf("alpha %q is not a number between 0 and 1", truncate(s))
		}
		q.alpha, q.hasAlpha = a, true
	}
	return q, nil
}

// label names a side in the report.
func (sq sideQuery) label() string {
	l := sq.version
	if sq.sinceText != "" || sq.untilText != "" {
		if l != "" {
			l += " "
		}
		l += "[" + sq.sinceText + " … " + sq.untilText + "]"
	}
	return l
}

// sideResult describes the requests one side selected.
type sideResult struct {
	Version string `json:"version,omitempty"`
	Since   string `json:"since,omitempty"`
	Until   string `json:"until,omitempty"`
	// Requests selected, and dropped by package compare (too many routes).
	Requests int `json:"requests"`
	Dropped  int `json:"dropped"`
	// First and Last are the start times (epoch seconds) of the earliest
	// and latest request; SpanSeconds is the time between them (at least
	// one second), over which the request rates are taken.
	First       float64 `json:"first,omitempty"`
	Last        float64 `json:"last,omitempty"`
	SpanSeconds float64 `json:"span_seconds"`
}

// comparedRoute is a route's verdict with the request rate of each side.
type comparedRoute struct {
	compare.Route
	BaselineRate  float64 `json:"baseline_rps"`
	CandidateRate float64 `json:"candidate_rps"`
}

// compareResult is what /api/compare returns: package compare's report
// with request rates per route, the sides' selections, the overall verdict
// and the service's deployment markers.
type compareResult struct {
	compare.Report
	Routes []comparedRoute `json:"routes"`

	Service string `json:"service"`
	// Verdict is fail when any route fails, pass when at least one route
	// passes and none fails, and not_enough_data otherwise.
	Verdict         compare.Verdict `json:"verdict"`
	MinRequests     int             `json:"min_requests"`
	BaselineSide    sideResult      `json:"baseline_side"`
	CandidateSide   sideResult      `json:"candidate_side"`
	SegmentsScanned int             `json:"segments_scanned"`
	Deployments     []Deployment    `json:"deployments"`
}

// requestStatus is the status a segment counts with (see the top of this
// file).
func requestStatus(d *docInfo) int {
	st := d.status
	switch {
	case d.flags&flagFault != 0 && st < 500:
		st = 500
	case d.flags&flagThrottle != 0 && st < 400:
		st = 429
	case d.flags&flagError != 0 && st < 400:
		st = 400
	case st == 0:
		st = 200
	}
	return st
}

// selects reports whether segment d belongs to the side.
func (sq *sideQuery) selects(d *docInfo, since, until float64) bool {
	if sq.version != "" && d.version != sq.version {
		return false
	}
	if sq.since.set && d.start < since || sq.until.set && d.start > until {
		return false
	}
	return true
}

type sideAcc struct {
	side        *compare.Side
	first, last float64
	n           int
}

func (a *sideAcc) add(d *docInfo) {
	if a.n == 0 || d.start < a.first {
		a.first = d.start
	}
	a.last = max(a.last, d.start)
	a.n++
	_ = a.side.Add(d.cmpRoute, (d.end-d.start)*1000, requestStatus(d)) // refusals are counted by the side
}

func (a *sideAcc) result(sq sideQuery) sideResult {
	r := sideResult{Version: sq.version, Since: sq.sinceText, Until: sq.untilText,
		Requests: a.n - a.side.Dropped(), Dropped: a.side.Dropped(), SpanSeconds: 1}
	if a.n > 0 {
		r.First, r.Last = a.first, a.last
		r.SpanSeconds = math.Max(1, a.last-a.first)
	}
	return r
}

// compare runs q over the stored segments.
func (s *Store) compare(q compareQuery) compareResult {
	base := &sideAcc{side: compare.NewSide(q.baseline.label(), 0)}
	cand := &sideAcc{side: compare.NewSide(q.candidate.label(), 0)}
	scanned := 0
	s.mu.RLock()
	now := s.cfg.Now()
	cut := s.cutoff()
	bs, bu := q.baseline.since.at(now), q.baseline.until.at(now)
	cs, cu := q.candidate.since.at(now), q.candidate.until.at(now)
	for i := len(s.order) - 1; i >= 0; i-- {
		t := s.order[i]
		if t.recv < cut {
			break
		}
		for _, d := range t.docs {
			scanned++
			if d.independent || d.inProgress || d.name != q.service || d.end < d.start {
				continue
			}
			if q.baseline.selects(d, bs, bu) {
				base.add(d)
			}
			if q.candidate.selects(d, cs, cu) {
				cand.add(d)
			}
		}
	}
	deps := s.deploys.list(q.service)
	s.mu.RUnlock()

	cfg := compare.Config{}
	if q.hasMin {
		cfg.MinRequests = q.minRequests
	}
	if q.hasAlpha {
		cfg.Alpha = q.alpha
	}
	rep := compare.Compare(base.side, cand.side, cfg)
	out := compareResult{
		Report: rep, Service: q.service, MinRequests: rep.Config.MinRequests,
		BaselineSide: base.result(q.baseline), CandidateSide: cand.result(q.candidate),
		SegmentsScanned: scanned, Deployments: deps, Routes: make([]comparedRoute, 0, len(rep.Routes)),
		Verdict: compare.NotEnoughData,
	}
	out.Report.Routes = nil // the rates' copy below is the one returned
	for _, r := range rep.Routes {
		out.Routes = append(out.Routes, comparedRoute{Route: r,
			BaselineRate:  float64(r.Baseline.Requests) / out.BaselineSide.SpanSeconds,
			CandidateRate: float64(r.Candidate.Requests) / out.CandidateSide.SpanSeconds})
		switch {
		case r.Verdict == compare.Fail:
			out.Verdict = compare.Fail
		case r.Verdict == compare.Pass && out.Verdict != compare.Fail:
			out.Verdict = compare.Pass
		}
	}
	return out
}

// hasSegment reports whether t holds a segment (not an independent
// subsegment) of service (any when empty) with the version and route
// given (any when empty): what the compare page's links to example
// traces ask /api/traces for.
func (t *trace) hasSegment(service, version, route string) bool {
	for _, d := range t.docs {
		if d.independent || service != "" && d.name != service ||
			version != "" && d.version != version || route != "" && d.cmpRoute != route {
			continue
		}
		return true
	}
	return false
}
