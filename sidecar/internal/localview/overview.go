package localview

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The overview is the services page: per service and per route, the
// request rate, the error, fault and throttle rates and latency
// percentiles, on one time axis. It is kept up to date as segments arrive
// and leave (ovAdd, ovRemove), so answering costs time in the number of
// (service, route, time bucket) cells, not in the traces stored.
//
// Each completed segment document (not an independent subsegment) is one
// request to its service; its route is its "route" annotation (what the
// Sidelight middleware writes), or "" when it has none. Latencies go into
// a log-scale histogram with bins 2^(1/8) apart (9 % wide), which can be
// both added to and subtracted from, so eviction undoes an addition
// exactly.

const (
	ovBucketSec   = 10   // stored time resolution, seconds
	ovMaxKeys     = 1000 // (service, route) pairs; further ones share ovOverflow
	ovMaxColumns  = 60   // columns on the shared time axis
	ovBinsPerOct  = 8
	ovMinLatency  = 1e-6 // seconds: bin 0 holds everything at or below 1 µs
	ovMaxBin      = 255
	ovOverflow    = "(other)"
	routeAnnoKey  = "route"
	ovNoRouteName = ""
)

var ovColumnWidths = []int64{10, 30, 60, 120, 300, 600, 1800, 3600}

type ovKey struct{ service, route string }

// ovSeries is the histogram of one (service, route) pair over time.
type ovSeries struct {
	key     ovKey
	buckets map[int64]*ovCell // by bucket start, unix seconds
}

// ovCell counts the requests that started in one time bucket.
type ovCell struct {
	n, errors, throttles, faults uint32
	hist                         []ovBin // sorted by bin
}

type ovBin struct {
	bin uint8
	n   uint32
}

func latencyBin(sec float64) uint8 {
	if !(sec > ovMinLatency) {
		return 0
	}
	b := math.Ceil(math.Log2(sec/ovMinLatency) * ovBinsPerOct)
	return uint8(min(b, ovMaxBin))
}

// binValue is a bin's representative latency in seconds: its upper bound.
func binValue(b uint8) float64 {
	return ovMinLatency * math.Exp2(float64(b)/ovBinsPerOct)
}

func (c *ovCell) addBin(b uint8, delta int) {
	i, found := slices.BinarySearchFunc(c.hist, b, func(x ovBin, b uint8) int { return int(x.bin) - int(b) })
	switch {
	case found:
		c.hist[i].n = uint32(int(c.hist[i].n) + delta)
		if c.hist[i].n == 0 {
			c.hist = slices.Delete(c.hist, i, i+1)
		}
	case delta > 0:
		c.hist = slices.Insert(c.hist, i, ovBin{b, uint32(delta)})
	}
}

// ovCounted reports whether d is a request the overview counts.
func ovCounted(d *docInfo) bool { return !d.independent && !d.inProgress }

// ovAdd counts d. The caller holds s.mu.
func (s *Store) ovAdd(d *docInfo) {
	if !ovCounted(d) {
		return
	}
	k := ovKey{d.name, d.route}
	se := s.ov[k]
	if se == nil {
		if len(s.ov) >= ovMaxKeys {
			k = ovKey{ovOverflow, ovOverflow}
			se = s.ov[k]
		}
		if se == nil {
			se = &ovSeries{key: k, buckets: make(map[int64]*ovCell)}
			s.ov[k] = se
		}
	}
	d.ov = se
	s.ovCount(d, 1)
}

// ovRemove undoes ovAdd(d). The caller holds s.mu.
func (s *Store) ovRemove(d *docInfo) {
	if d.ov == nil {
		return
	}
	s.ovCount(d, -1)
	if len(d.ov.buckets) == 0 {
		delete(s.ov, d.ov.key)
	}
	d.ov = nil
}

func (s *Store) ovCount(d *docInfo, delta int) {
	b := int64(math.Floor(d.start/ovBucketSec)) * ovBucketSec
	c := d.ov.buckets[b]
	if c == nil {
		if delta < 0 {
			return
		}
		c = &ovCell{}
		d.ov.buckets[b] = c
	}
	add := func(x *uint32, on bool) {
		if on {
			*x = uint32(int(*x) + delta)
		}
	}
	add(&c.n, true)
	add(&c.errors, d.flags&flagError != 0)
	add(&c.throttles, d.flags&flagThrottle != 0)
	add(&c.faults, d.flags&flagFault != 0)
	c.addBin(latencyBin(d.duration()), delta)
	if c.n == 0 {
		delete(d.ov.buckets, b)
	}
}

// overviewStats are the figures of one service or route over a time span.
type overviewStats struct {
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	Faults       int     `json:"faults"`
	Throttles    int     `json:"throttles"`
	Rate         float64 `json:"rate"` // requests per second
	ErrorRate    float64 `json:"error_rate"`
	FaultRate    float64 `json:"fault_rate"`
	ThrottleRate float64 `json:"throttle_rate"`
	P50MS        float64 `json:"p50_ms"`
	P90MS        float64 `json:"p90_ms"`
	P99MS        float64 `json:"p99_ms"`
}

type overviewRow struct {
	Service string          `json:"service"`
	Route   string          `json:"route"` // "" on a service's row and for requests without a route
	Total   overviewStats   `json:"total"`
	Columns []overviewStats `json:"columns"` // one per column of the shared axis
	Routes  []*overviewRow  `json:"routes,omitempty"`
}

type overviewResult struct {
	Start         int64 `json:"start"` // first column's start, unix seconds
	ColumnSeconds int64 `json:"column_seconds"`
	Columns       int   `json:"columns"`
	// The figures count the segments that started in [From, To), unix
	// seconds (within the columns, which may start earlier).
	From     int64          `json:"from"`
	To       int64          `json:"to"`
	Services []*overviewRow `json:"services"`
	Traces   int            `json:"traces"`
}

type ovAccum struct {
	n, errors, throttles, faults int
	hist                         *[ovMaxBin + 1]int32 // nil while empty
}

func (a *ovAccum) add(c *ovCell) {
	a.n += int(c.n)
	a.errors += int(c.errors)
	a.throttles += int(c.throttles)
	a.faults += int(c.faults)
	if a.hist == nil {
		a.hist = new([ovMaxBin + 1]int32)
	}
	for _, b := range c.hist {
		a.hist[b.bin] += int32(b.n)
	}
}

func (a *ovAccum) merge(b *ovAccum) {
	a.n, a.errors, a.throttles, a.faults = a.n+b.n, a.errors+b.errors, a.throttles+b.throttles, a.faults+b.faults
	if b.hist == nil {
		return
	}
	if a.hist == nil {
		a.hist = new([ovMaxBin + 1]int32)
	}
	for k, v := range b.hist {
		a.hist[k] += v
	}
}

func (a *ovAccum) stats(seconds float64) overviewStats {
	st := overviewStats{Requests: a.n, Errors: a.errors, Faults: a.faults, Throttles: a.throttles}
	if a.n == 0 {
		return st
	}
	st.Rate = float64(a.n) / seconds
	st.ErrorRate = float64(a.errors) / float64(a.n)
	st.FaultRate = float64(a.faults) / float64(a.n)
	st.ThrottleRate = float64(a.throttles) / float64(a.n)
	pct := func(p float64) float64 {
		rank := max(int(math.Ceil(p/100*float64(a.n))), 1)
		seen, last := 0, 0
		for b, n := range a.hist {
			if n == 0 {
				continue
			}
			last = b
			if seen += int(n); seen >= rank {
				return binValue(uint8(b)) * 1000
			}
		}
		return binValue(uint8(last)) * 1000
	}
	st.P50MS, st.P90MS, st.P99MS = pct(50), pct(90), pct(99)
	return st
}

type overviewQuery struct {
	since, until timeBound
}

func parseOverviewQuery(v url.Values) (overviewQuery, error) {
	var q overviewQuery
	var err error
	if q.since, err = parseTimeBound("since", v.Get("since")); err != nil {
		return q, err
	}
	if q.until, err = parseTimeBound("until", v.Get("until")); err != nil {
		return q, err
	}
	return q, nil
}

// overview answers /api/overview from the incremental cells.
func (s *Store) overview(q overviewQuery) overviewResult {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.cfg.Now()
	out := overviewResult{Services: []*overviewRow{}, Traces: len(s.order)}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, se := range s.ov {
		for b := range se.buckets {
			lo, hi = min(lo, b), max(hi, b)
		}
	}
	if q.since.set {
		lo = max(lo, int64(math.Floor(q.since.at(now)/ovBucketSec))*ovBucketSec)
	}
	if q.until.set {
		hi = min(hi, int64(math.Floor(q.until.at(now)/ovBucketSec))*ovBucketSec)
	}
	if lo > hi {
		return out
	}
	width := ovColumnWidths[len(ovColumnWidths)-1]
	for _, w := range ovColumnWidths {
		if (hi-lo)/w < ovMaxColumns {
			width = w
			break
		}
	}
	start := lo - lo%width
	cols := int((hi-start)/width) + 1
	out.Start, out.ColumnSeconds, out.Columns = start, width, cols
	out.From, out.To = lo, hi+ovBucketSec
	span := float64(hi + ovBucketSec - lo) // seconds the data covers

	services := map[string]*overviewRow{}
	svcAcc := map[string]*ovAccum{}
	svcCols := map[string][]ovAccum{}
	for _, se := range s.ov {
		var tot ovAccum
		colAcc := make([]ovAccum, cols)
		for b, c := range se.buckets {
			if b < lo || b > hi {
				continue
			}
			tot.add(c)
			colAcc[(b-start)/width].add(c)
		}
		if tot.n == 0 {
			continue
		}
		row := &overviewRow{Service: se.key.service, Route: se.key.route, Total: tot.stats(span), Columns: make([]overviewStats, cols)}
		for i := range colAcc {
			row.Columns[i] = colAcc[i].stats(float64(width))
		}
		sr := services[se.key.service]
		if sr == nil {
			sr = &overviewRow{Service: se.key.service}
			services[se.key.service] = sr
			svcAcc[se.key.service] = &ovAccum{}
			svcCols[se.key.service] = make([]ovAccum, cols)
		}
		sr.Routes = append(sr.Routes, row)
		svcAcc[se.key.service].merge(&tot)
		sc := svcCols[se.key.service]
		for i := range colAcc {
			sc[i].merge(&colAcc[i])
		}
	}
	for name, sr := range services {
		sr.Total = svcAcc[name].stats(span)
		sr.Columns = make([]overviewStats, cols)
		for i, c := range svcCols[name] {
			sr.Columns[i] = c.stats(float64(width))
		}
		slices.SortFunc(sr.Routes, func(a, b *overviewRow) int { return strings.Compare(a.Route, b.Route) })
		out.Services = append(out.Services, sr)
	}
	slices.SortFunc(out.Services, func(a, b *overviewRow) int { return strings.Compare(a.Service, b.Service) })
	return out
}

// segFilter selects traces by one segment the overview counts (a
// completed segment document, not an independent subsegment): the
// overview's links, so that a link lists exactly the traces behind its
// figure. One segment must pass every condition that is set.
type segFilter struct {
	active    bool
	service   string // "" any
	route     string // the segment's own "route" annotation, "" none
	hasRoute  bool
	status    flags // with hasStatus: the segment's own marker (0: none)
	hasStatus bool
	minMS     float64 // with hasMinMS: the segment's own duration at least this
	hasMinMS  bool
	// The segment's start in [since, until) (resolved by resolve).
	since, until     timeBound
	sinceAt, untilAt float64
}

// parseSegFilter reads seg_service, seg_route, seg_status, seg_min_ms,
// seg_since and seg_until, and the older service_route (a segment of
// service whose route is service_route). num reads a non-negative number.
func parseSegFilter(v url.Values, num func(string) (float64, bool, error)) (segFilter, error) {
	var f segFilter
	for _, k := range []string{"seg_service", "seg_route", "seg_status", "seg_min_ms", "seg_since", "seg_until", "service_route"} {
		if v.Has(k) {
			f.active = true
		}
	}
	if !f.active {
		return f, nil
	}
	f.service = v.Get("seg_service")
	switch {
	case v.Has("seg_route"):
		f.route, f.hasRoute = v.Get("seg_route"), true
		if v.Has("service_route") && v.Get("service_route") != f.route {
			return f, fmt.Errorf("seg_route %q and service_route %q differ", truncate(f.route), truncate(v.Get("service_route")))
		}
	case v.Has("service_route"):
		f.route, f.hasRoute = v.Get("service_route"), true
	}
	if f.service == "" && v.Has("service_route") {
		f.service = v.Get("service") // service_route's segment is one of service
	}
	if st := v.Get("seg_status"); st != "" {
		fl, ok := parseStatus(st)
		if !ok {
			return f, fmt.Errorf("seg_status %q is not ok, error, fault or throttle", truncate(st))
		}
		f.status, f.hasStatus = fl, true
	}
	var err error
	if f.minMS, f.hasMinMS, err = num("seg_min_ms"); err != nil {
		return f, err
	}
	if f.since, err = parseTimeBound("seg_since", v.Get("seg_since")); err != nil {
		return f, err
	}
	if f.until, err = parseTimeBound("seg_until", v.Get("seg_until")); err != nil {
		return f, err
	}
	return f, nil
}

// resolve fixes the time bounds at now.
func (f *segFilter) resolve(now time.Time) {
	f.sinceAt, f.untilAt = f.since.at(now), f.until.at(now)
}

// hasCountedSegment reports whether one document of t is a request the
// overview counts that passes all of f, in time linear in t's documents.
func (t *trace) hasCountedSegment(f *segFilter) bool {
	for _, d := range t.docs {
		if f.matches(d) {
			return true
		}
	}
	return false
}

func (f *segFilter) matches(d *docInfo) bool {
	switch {
	case !ovCounted(d),
		f.service != "" && d.name != f.service,
		f.hasRoute && d.route != f.route,
		f.since.set && d.start < f.sinceAt,
		f.until.set && d.start >= f.untilAt,
		f.hasMinMS && d.duration()*1000 < f.minMS:
		return false
	case f.hasStatus && f.status == 0:
		return d.flags == 0
	case f.hasStatus:
		return d.flags&f.status != 0
	}
	return true
}

// topRoute reads the "route" annotation of a document's own annotations.
func topRoute(ann json.RawMessage) string {
	if len(ann) == 0 {
		return ovNoRouteName
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(ann, &m) != nil {
		return ovNoRouteName
	}
	v, ok := m[routeAnnoKey]
	if !ok {
		return ovNoRouteName
	}
	return truncate(annotationText(v))
}
