package localview

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview/xrayfilter"
)

// listQuery is a parsed /api/traces query.
type listQuery struct {
	service    string
	status     flags
	hasStatus  bool
	annKey     string
	annPair    string // key=value, or "" to match the key alone
	minMS      float64
	maxMS      float64
	limit      int
	hasMaxMS   bool
	hasMinMS   bool
	annotation bool
	call       string // a downstream (remote or aws) call of this name
	// A segment of service (any when empty) with this version and route
	// (the compare page's links; versions.go).
	version, route string
	// One segment the overview counts must pass all of seg: the
	// overview's links (overview.go).
	seg segFilter

	// From the search box (q): a filter expression, or one trace's ID.
	expr    *xrayfilter.Expr
	traceID string
	// Time range on the trace's start, and the order of the list.
	since, until timeBound
	sort         string // "", "time" or "duration"; "" is newest arrival first
	asc          bool
}

// timeBound is a point in time given as a duration before now (rel) or
// as epoch seconds (abs).
type timeBound struct {
	set bool
	rel time.Duration
	abs float64
}

// at is the bound in epoch seconds.
func (b timeBound) at(now time.Time) float64 {
	if b.rel != 0 {
		return float64(now.Add(-b.rel).UnixNano()) / 1e9
	}
	return b.abs
}

// parseTimeBound reads a duration before now ("15m", "1h"), epoch
// seconds, or an RFC 3339 time.
func parseTimeBound(name, s string) (timeBound, error) {
	if s == "" {
		return timeBound{}, nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "-")); err == nil && d > 0 {
		return timeBound{set: true, rel: d}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && !math.IsInf(f, 0) {
		return timeBound{set: true, abs: f}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return timeBound{set: true, abs: float64(t.UnixNano()) / 1e9}, nil
	}
	return timeBound{}, fmt.Errorf("%s %q is not a duration before now (15m), epoch seconds or an RFC 3339 time", name, truncate(s))
}

const (
	defaultLimit = 100
	maxLimit     = 10_000
)

func parseListQuery(v url.Values) (listQuery, error) {
	q := listQuery{service: v.Get("service"), call: v.Get("call"), limit: defaultLimit, version: v.Get("version"), route: v.Get("route")}
	if st := v.Get("status"); st != "" {
		f, ok := parseStatus(st)
		if !ok {
			return q, fmt.Errorf("status %q is not ok, error, fault or throttle", truncate(st))
		}
		q.status, q.hasStatus = f, true
	}
	if a := v.Get("annotation"); a != "" {
		q.annotation = true
		if k, _, ok := strings.Cut(a, "="); ok {
			q.annKey, q.annPair = k, a
		} else {
			q.annKey = a
		}
	}
	num := func(name string) (float64, bool, error) {
		s := v.Get(name)
		if s == "" {
			return 0, false, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, false, fmt.Errorf("%s %q is not a non-negative number", name, truncate(s))
		}
		return f, true, nil
	}
	if text := strings.TrimSpace(v.Get("q")); text != "" {
		if id, ok := xrayfilter.TraceID(text); ok {
			q.traceID = id
		} else {
			e, err := xrayfilter.Parse(text)
			if err != nil {
				return q, err
			}
			q.expr = e
		}
	}
	var err error
	if q.since, err = parseTimeBound("since", v.Get("since")); err != nil {
		return q, err
	}
	if q.until, err = parseTimeBound("until", v.Get("until")); err != nil {
		return q, err
	}
	switch q.sort = v.Get("sort"); q.sort {
	case "", "time", "duration":
	default:
		return q, fmt.Errorf("sort %q is not time or duration", truncate(q.sort))
	}
	switch o := v.Get("order"); o {
	case "", "desc":
	case "asc":
		q.asc = true
	default:
		return q, fmt.Errorf("order %q is not asc or desc", truncate(o))
	}
	if q.seg, err = parseSegFilter(v, num); err != nil {
		return q, err
	}
	if q.minMS, q.hasMinMS, err = num("min_ms"); err != nil {
		return q, err
	}
	if q.maxMS, q.hasMaxMS, err = num("max_ms"); err != nil {
		return q, err
	}
	if l, ok, err := num("limit"); err != nil {
		return q, err
	} else if ok {
		q.limit = min(max(int(l), 1), maxLimit)
	}
	return q, nil
}

// match reports whether t passes the query's filters; ft is scratch
// space for the filter expression's view of t.
func (q *listQuery) match(t *trace, ft *xrayfilter.Trace, since, until float64) bool {
	if q.traceID != "" && t.id != q.traceID {
		return false
	}
	if q.since.set && t.start < since || q.until.set && t.start > until {
		return false
	}
	if q.service != "" && t.serviceDocs[q.service] == 0 && (t.root == nil || t.root.name != q.service) {
		return false
	}
	if q.hasStatus {
		if q.status == 0 {
			if t.flags != 0 {
				return false
			}
		} else if t.flags&q.status == 0 {
			return false
		}
	}
	if q.annotation && !t.hasAnnotation(q.annKey, q.annPair) {
		return false
	}
	if q.call != "" && !t.hasCall(q.call) {
		return false
	}
	if (q.version != "" || q.route != "") && !t.hasSegment(q.service, q.version, q.route) {
		return false
	}
	if q.seg.active && !t.hasCountedSegment(&q.seg) {
		return false
	}
	d := t.durationMS()
	if q.hasMinMS && d < q.minMS {
		return false
	}
	if q.hasMaxMS && d > q.maxMS {
		return false
	}
	if q.expr != nil {
		t.filterView(ft)
		return q.expr.Match(ft)
	}
	return true
}

// filterView fills ft with what filter expressions read of t, sharing
// t's slices (the caller holds the store's lock).
func (t *trace) filterView(ft *xrayfilter.Trace) {
	*ft = xrayfilter.Trace{
		Services: t.services, Annotations: t.annotations, HasAnnotation: ft.HasAnnotation,
		Duration: t.durationMS() / 1000, Partial: t.inProgress,
		Fault: t.flags&flagFault != 0, Error: t.flags&flagError != 0, Throttle: t.flags&flagThrottle != 0,
	}
	if r := t.root; r != nil {
		ft.RootService, ft.Method, ft.URL, ft.UserAgent, ft.HTTPStatus = r.name, r.method, r.url, r.userAgent, r.status
		if r.end > r.start {
			ft.ResponseTime = r.end - r.start
		}
	}
}

// hasCall reports whether a document of t calls a downstream node named
// name, in time linear in t's calls.
func (t *trace) hasCall(name string) bool {
	for _, d := range t.docs {
		for _, c := range d.calls {
			if c.name == name {
				return true
			}
		}
	}
	return false
}

func (t *trace) hasAnnotation(key, pair string) bool {
	if pair != "" {
		return t.annDocs[pair] > 0
	}
	return t.annKeys[key] > 0
}

type traceSummary struct {
	ID          string   `json:"id"`
	Service     string   `json:"service"`
	Services    []string `json:"services"`
	Start       float64  `json:"start"`
	DurationMS  float64  `json:"duration_ms"`
	Status      string   `json:"status"`
	InProgress  bool     `json:"in_progress,omitempty"`
	Method      string   `json:"method,omitempty"`
	URL         string   `json:"url,omitempty"`
	HTTPStatus  int      `json:"http_status,omitempty"`
	Version     string   `json:"version,omitempty"` // the root segment's (versions.go)
	Annotations []string `json:"annotations"`
	Documents   int      `json:"documents"`
}

type traceList struct {
	// TraceID is set when the search named one trace (its ID or a trace
	// header); the page goes straight to it.
	TraceID string         `json:"trace_id,omitempty"`
	Traces  []traceSummary `json:"traces"`
	Matched int            `json:"matched"`
	Total   int            `json:"total"`
}

func (t *trace) summary() traceSummary {
	ts := traceSummary{
		ID: t.id, Services: t.services, Start: t.start, DurationMS: t.durationMS(),
		Status: t.flags.status(), InProgress: t.inProgress, Documents: len(t.docs),
		Annotations: slices.Sorted(slices.Values(t.annotations)),
	}
	if ts.Services == nil {
		ts.Services = []string{}
	}
	if ts.Annotations == nil {
		ts.Annotations = []string{}
	}
	if r := t.root; r != nil {
		ts.Service, ts.Method, ts.URL, ts.HTTPStatus = r.name, r.method, r.url, r.status
		ts.Version = r.version
	}
	return ts
}

// list returns matching traces: newest arrival first, or in the query's
// sort order.
func (s *Store) list(q listQuery) traceList {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.cfg.Now()
	cut := s.cutoff()
	since, until := q.since.at(now), q.until.at(now)
	q.seg.resolve(now)
	out := traceList{Traces: []traceSummary{}, TraceID: q.traceID}
	var cur *trace
	ft := &xrayfilter.Trace{HasAnnotation: func(pair string) bool { return cur.annDocs[pair] > 0 }}
	var sorted []*trace
	for i := len(s.order) - 1; i >= 0; i-- {
		t := s.order[i]
		if t.recv < cut {
			break
		}
		out.Total++
		cur = t
		if !q.match(t, ft, since, until) {
			continue
		}
		out.Matched++
		if q.sort != "" {
			sorted = append(sorted, t)
		} else if len(out.Traces) < q.limit {
			out.Traces = append(out.Traces, t.summary())
		}
	}
	if q.sort != "" {
		key := func(t *trace) float64 { return t.start }
		if q.sort == "duration" {
			key = (*trace).durationMS
		}
		slices.SortStableFunc(sorted, func(a, b *trace) int {
			c := cmp.Compare(key(a), key(b))
			if !q.asc {
				c = -c
			}
			return c
		})
		for _, t := range sorted[:min(len(sorted), q.limit)] {
			out.Traces = append(out.Traces, t.summary())
		}
	}
	return out
}

type traceDetail struct {
	traceSummary
	End      float64   `json:"end"`
	Segments []*segDoc `json:"segments"`
}

// detail assembles one trace: documents that arrived on their own are
// attached under the segment or subsegment their parent_id names.
func (s *Store) detail(id string) (*traceDetail, bool) {
	s.mu.RLock()
	t := s.traces[strings.ToLower(id)]
	if t == nil || t.recv < s.cutoff() {
		s.mu.RUnlock()
		return nil, false
	}
	out := &traceDetail{traceSummary: t.summary(), End: t.end}
	docs := slices.Clone(t.docs)
	s.mu.RUnlock()

	parsed := make([]*segDoc, 0, len(docs))
	for _, d := range docs {
		var sd segDoc
		if err := json.Unmarshal(d.raw, &sd); err != nil {
			continue // stored documents were checked on the way in
		}
		parsed = append(parsed, &sd)
	}
	out.Segments = assemble(parsed)
	return out, true
}

// assemble builds the tree of a trace's documents. It never creates a
// cycle, whatever the parent_ids say.
func assemble(docs []*segDoc) []*segDoc {
	type loc struct {
		node  *segDoc
		owner int // index of the document holding node
	}
	byID := make(map[string]loc)
	var index func(n *segDoc, owner int)
	index = func(n *segDoc, owner int) {
		if _, dup := byID[n.ID]; !dup {
			byID[n.ID] = loc{n, owner}
		}
		for _, c := range n.Subsegments {
			index(c, owner)
		}
	}
	for i, d := range docs {
		index(d, i)
	}
	parent := make([]int, len(docs)) // owner document of each attached document, or -1
	for i := range parent {
		parent[i] = -1
	}
	attachTo := make([]*segDoc, len(docs))
	for i, d := range docs {
		if d.ParentID == "" {
			continue
		}
		l, ok := byID[d.ParentID]
		if !ok {
			d.Orphan = true
			continue
		}
		if l.owner == i {
			continue
		}
		// Would attaching i under l.owner close a loop?
		cycle := false
		for j, steps := l.owner, 0; j >= 0 && steps <= len(docs); j, steps = parent[j], steps+1 {
			if j == i {
				cycle = true
				break
			}
		}
		if cycle {
			continue
		}
		parent[i] = l.owner
		attachTo[i] = l.node
	}
	var roots []*segDoc
	for i, d := range docs {
		if attachTo[i] == nil {
			roots = append(roots, d)
			continue
		}
		d.Attached = true
		attachTo[i].Subsegments = append(attachTo[i].Subsegments, d)
	}
	var sortTree func(ns []*segDoc)
	sortTree = func(ns []*segDoc) {
		slices.SortStableFunc(ns, func(a, b *segDoc) int {
			switch {
			case a.StartTime < b.StartTime:
				return -1
			case a.StartTime > b.StartTime:
				return 1
			}
			return 0
		})
		for _, n := range ns {
			sortTree(n.Subsegments)
		}
	}
	sortTree(roots)
	return roots
}

type facets struct {
	Services    []facet `json:"services"`
	Annotations []facet `json:"annotations"`
	Statuses    []facet `json:"statuses"`
}

type facet struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

const maxFacets = 200

func (s *Store) facets() facets {
	services := map[string]int{}
	keys := map[string]int{}
	statuses := map[string]int{}
	s.mu.RLock()
	cut := s.cutoff()
	for i := len(s.order) - 1; i >= 0; i-- {
		t := s.order[i]
		if t.recv < cut {
			break
		}
		for _, sv := range t.services {
			services[sv]++
		}
		statuses[t.flags.status()]++
		for k := range t.annKeys {
			keys[k]++
		}
	}
	s.mu.RUnlock()
	return facets{Services: topFacets(services), Annotations: topFacets(keys), Statuses: topFacets(statuses)}
}

func topFacets(m map[string]int) []facet {
	out := make([]facet, 0, len(m))
	for k, v := range m {
		out = append(out, facet{k, v})
	}
	slices.SortFunc(out, func(a, b facet) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(out) > maxFacets {
		out = out[:maxFacets]
	}
	return out
}
