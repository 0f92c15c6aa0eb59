package localview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// Store keeps recent traces and metrics in memory, within the bounds of its
// Config. It is safe for concurrent use.
type Store struct {
	cfg Config

	mu      sync.RWMutex
	traces  map[string]*trace
	order   []*trace // by first arrival, oldest first
	bytes   int64    // stored documents, segments and EMF
	emf     []*emfDoc
	series  map[string]*series
	ov      map[ovKey]*ovSeries // the overview's cells (overview.go)
	closed  bool
	counter counters
	work    uint64      // steps taken keeping trace summaries (tests count them)
	changes uint64      // traces changed so far: each change takes the next number (trace.rev)
	deploys deployments // versions of each service seen (versions.go)

	inboxDropped atomic.Uint64 // documents an Inbox dropped: it was full

	logs logStore // OTLP log records, with a lock of their own (logs.go)

	emfRejectedBy  map[string]uint64 // EMF documents the store refused, by reason
	intakeRejected [32]atomic.Uint64 // EMF documents refused at intake, by index in emf.Reasons
}

type counters struct {
	segments, segmentsRejected, segmentsStale  uint64
	emfDocs, emfRejected, seriesDropped        uint64
	tracesEvicted, emfEvicted, expired, loaded uint64
}

type trace struct {
	id    string
	recv  int64 // first arrival, unix nanoseconds
	docs  []*docInfo
	byID  map[string]int // index in docs by document id
	bytes int64
	rev   uint64 // the store's change number of its last change (version.go)
	moved int64  // when it last changed, unix nanoseconds

	// Summary, kept up to date as documents arrive: adding a document costs
	// time in its own size, not the trace's (see add and remove).
	root        *docInfo
	start, end  float64
	services    []string // append-only between rebuilds: readers keep older headers
	annotations []string // key=value, in arrival order, append-only between rebuilds
	flags       flags
	inProgress  bool

	serviceDocs map[string]int // documents (not independent) per service name
	annDocs     map[string]int // documents per annotation
	annKeys     map[string]int // documents per annotation key
	flagDocs    [3]int         // documents with each flag bit anywhere
	inProgDocs  int            // documents in progress
}

type emfDoc struct {
	raw    []byte
	recv   int64
	ts     int64
	series []*series
	points int
}

type series struct {
	key, namespace, name, unit string
	dims                       []dim
	points                     []point
}

type point struct {
	ts       int64 // unix milliseconds
	values   []float64
	traceIDs []string
	docDims  []dim  // every dimension of the point's document, shared by its points
	doc      uint64 // the document's number in arrival order, shared by its points
}

// New returns a store. When cfg.PersistPath names an existing file, the
// documents in it that are within the retention window are loaded.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:    cfg.withDefaults(),
		traces: make(map[string]*trace),
		series: make(map[string]*series),
		ov:     make(map[ovKey]*ovSeries),
	}
	s.logs.byTrace = make(map[string][]*logEntry)
	if s.cfg.PersistPath != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ErrClosed is returned by Add methods after Close.
var ErrClosed = errors.New("localview: store is closed")

// AddSegment stores one X-Ray segment or independent subsegment document
// (JSON, without the daemon's header line). Documents of one trace may come
// in any order; a document with the id of one already stored replaces it,
// except that an in-progress document never replaces a completed one. It
// returns an error, and stores nothing, for a document that is not a
// well-formed segment.
func (s *Store) AddSegment(doc []byte) error {
	return s.addSegment(doc, s.cfg.Now().UnixNano())
}

func (s *Store) addSegment(doc []byte, recv int64) error {
	d, raw, err := decodeSegment(doc)
	var di *docInfo
	var tid string
	if err == nil { // outside the lock
		di, tid = d.info(raw, recv), strings.ToLower(d.TraceID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, err := s.admitLocked(err, raw, recv, "segment", &s.counter.segmentsRejected); !ok {
		return err
	}
	s.counter.segments++
	t := s.traces[tid]
	if t == nil {
		t = newTrace(tid, recv)
		s.traces[tid] = t
		s.order = append(s.order, t)
	}
	if i, ok := t.byID[di.id]; ok {
		old := t.docs[i]
		if di.inProgress && !old.inProgress {
			s.counter.segmentsStale++
			return nil
		}
		t.bytes -= int64(len(old.raw))
		s.bytes -= int64(len(old.raw))
		t.docs[i] = di
		s.work += t.replace(old, di)
		s.ovRemove(old)
		s.ovAdd(di)
	} else {
		if len(t.docs) >= MaxDocsPerTrace {
			s.counter.segmentsRejected++
			return fmt.Errorf("localview: trace %s already holds %d documents; segment %s dropped", tid, MaxDocsPerTrace, di.id)
		}
		t.byID[di.id] = len(t.docs)
		t.docs = append(t.docs, di)
		s.work += t.add(di)
		s.deploys.see(di)
		s.ovAdd(di)
	}
	t.bytes += int64(len(raw))
	s.bytes += int64(len(raw))
	s.changes++
	t.rev, t.moved = s.changes, recv
	s.evict()
	return nil
}

func decodeSegment(doc []byte) (*segDoc, []byte, error) {
	return decode(doc, "segment", parseSegment)
}

// decode checks doc's size, parses it with parse, and returns the result
// with the document compacted for storage; what names the document in
// errors.
func decode[T any](doc []byte, what string, parse func([]byte) (T, error)) (T, []byte, error) {
	var zero T
	if len(doc) > MaxDocBytes {
		return zero, nil, fmt.Errorf("localview: %s of %d bytes is over %d", what, len(doc), MaxDocBytes)
	}
	v, err := parse(doc)
	if err != nil {
		return zero, nil, fmt.Errorf("localview: bad %s: %w", what, err)
	}
	var buf bytes.Buffer
	buf.Grow(len(doc))
	if err := json.Compact(&buf, doc); err != nil {
		return zero, nil, fmt.Errorf("localview: bad %s: %w", what, err)
	}
	return v, buf.Bytes(), nil
}

func newTrace(id string, recv int64) *trace {
	return &trace{id: id, recv: recv, byID: make(map[string]int),
		serviceDocs: make(map[string]int), annDocs: make(map[string]int), annKeys: make(map[string]int)}
}

// add brings the summary up to date with a new document d, already
// appended to t.docs, in time proportional to d's annotations. It returns
// the steps taken (documents and annotations visited), which tests count.
func (t *trace) add(d *docInfo) (steps uint64) {
	if len(t.docs) == 1 || d.start < t.start {
		t.start = d.start
	}
	t.end = max(t.end, d.end)
	if t.root == nil || rootOf(d, t.root) {
		t.root = d
	}
	return t.count(d, 1)
}

// count adds (delta 1) or removes (delta -1) what d contributes to the
// trace's counts, flags, services and annotations; a service or
// annotation no document names any more is taken out of the lists.
func (t *trace) count(d *docInfo, delta int) (steps uint64) {
	for bit := range t.flagDocs {
		if d.anyFlags&(1<<bit) != 0 {
			t.flagDocs[bit] += delta
		}
	}
	t.flags = 0
	for bit, n := range t.flagDocs {
		if n > 0 {
			t.flags |= 1 << bit
		}
	}
	if d.inProgress {
		t.inProgDocs += delta
	}
	t.inProgress = t.inProgDocs > 0
	if !d.independent {
		t.serviceDocs[d.name] += delta
		switch n := t.serviceDocs[d.name]; {
		case n == 1 && delta > 0:
			t.services = append(t.services, d.name)
		case n == 0:
			delete(t.serviceDocs, d.name)
			// A fresh slice: readers may hold the previous one after unlocking.
			t.services = slices.DeleteFunc(slices.Clone(t.services), func(s string) bool { return s == d.name })
			steps += uint64(len(t.services))
		}
	}
	for _, a := range d.annotations {
		t.annDocs[a] += delta
		switch n := t.annDocs[a]; {
		case n == 1 && delta > 0:
			t.annotations = append(t.annotations, a)
			k, _, _ := strings.Cut(a, "=")
			t.annKeys[k]++
		case n == 0:
			delete(t.annDocs, a)
			k, _, _ := strings.Cut(a, "=")
			if t.annKeys[k]--; t.annKeys[k] == 0 {
				delete(t.annKeys, k)
			}
			t.annotations = slices.DeleteFunc(slices.Clone(t.annotations), func(s string) bool { return s == a })
			steps += uint64(len(t.annotations))
		}
	}
	return steps + 1 + uint64(len(d.annotations))
}

// replace brings the summary up to date when new has taken old's place in
// t.docs: counts go up for new, then down for old, so what both name keeps
// its place in the lists. Only what old alone determined (the trace's
// start, end or root) is recomputed over the trace's documents, which an
// update of one document rarely needs more than once.
func (t *trace) replace(old, new *docInfo) (steps uint64) {
	steps = t.count(new, 1) + t.count(old, -1)
	if old == t.root || old.start == t.start || old.end == t.end {
		t.root, t.start, t.end = nil, 0, 0
		for i, d := range t.docs {
			if i == 0 || d.start < t.start {
				t.start = d.start
			}
			t.end = max(t.end, d.end)
			if t.root == nil || rootOf(d, t.root) {
				t.root = d
			}
		}
		return steps + uint64(len(t.docs))
	}
	t.start, t.end = min(t.start, new.start), max(t.end, new.end)
	if rootOf(new, t.root) {
		t.root = new
	}
	return steps
}

// rootOf reports whether a is a better root than b: segments before
// independent subsegments; among segments, those without a parent, then
// the earliest; among independent subsegments, the earliest.
func rootOf(a, b *docInfo) bool {
	if a.independent != b.independent {
		return !a.independent
	}
	if a.independent {
		return a.start < b.start
	}
	if (a.parentID == "") != (b.parentID == "") {
		return a.parentID == ""
	}
	return a.start < b.start
}

func (t *trace) durationMS() float64 {
	if t.end <= t.start {
		return 0
	}
	return (t.end - t.start) * 1000
}

// admitLocked decides whether a decoded document (decodeErr from its
// decoder) is stored: not when it did not decode or is over MaxBytes
// (counted in rejected, with an error), when the store is closed
// (ErrClosed), or when it arrived already expired (counted, no error).
// The caller holds s.mu.
func (s *Store) admitLocked(decodeErr error, raw []byte, recv int64, what string, rejected *uint64) (bool, error) {
	switch {
	case decodeErr != nil:
		*rejected++
		return false, decodeErr
	case s.closed:
		return false, ErrClosed
	case recv < s.cutoff():
		s.counter.expired++
		return false, nil
	case int64(len(raw)) > s.cfg.MaxBytes:
		*rejected++
		return false, fmt.Errorf("localview: %s of %d bytes is over the store's MaxBytes", what, len(raw))
	}
	return true, nil
}

// cutoff is the receive time before which documents have expired.
func (s *Store) cutoff() int64 {
	return s.cfg.Now().Add(-s.cfg.Retention).UnixNano()
}

// evict drops the oldest traces and EMF documents until the store is within
// its bounds and retention window. The caller holds s.mu.
func (s *Store) evict() {
	cut := s.cutoff()
	for len(s.order) > 0 && s.order[0].recv < cut {
		s.dropTrace()
		s.counter.expired++
	}
	for len(s.emf) > 0 && s.emf[0].recv < cut {
		s.dropEMF()
		s.counter.expired++
	}
	for len(s.order) > s.cfg.MaxTraces {
		s.dropTrace()
		s.counter.tracesEvicted++
	}
	for len(s.emf) > s.cfg.MaxMetricDocs {
		s.dropEMF()
		s.counter.emfEvicted++
	}
	for s.bytes > s.cfg.MaxBytes && (len(s.order) > 0 || len(s.emf) > 0) {
		if len(s.emf) == 0 || len(s.order) > 0 && s.order[0].recv <= s.emf[0].recv {
			s.dropTrace()
			s.counter.tracesEvicted++
		} else {
			s.dropEMF()
			s.counter.emfEvicted++
		}
	}
}

func (s *Store) dropTrace() {
	t := s.order[0]
	s.order[0] = nil
	s.order = s.order[1:]
	delete(s.traces, t.id)
	s.bytes -= t.bytes
	for _, d := range t.docs {
		s.ovRemove(d)
	}
}

func (s *Store) dropEMF() {
	d := s.emf[0]
	s.emf[0] = nil
	s.emf = s.emf[1:]
	s.bytes -= int64(len(d.raw))
	// Points are appended in arrival order, so this document's point is the
	// first of each series it contributed to.
	for _, se := range d.series {
		se.points[0] = point{}
		se.points = se.points[1:]
		if len(se.points) == 0 {
			delete(s.series, se.key)
		}
	}
}

// AddEMF stores one CloudWatch embedded metric format document (one JSON
// object). It returns an error, and stores nothing, for a document that is
// not well-formed EMF.
func (s *Store) AddEMF(doc []byte) error {
	return s.addEMF(doc, s.cfg.Now().UnixNano())
}

func (s *Store) addEMF(doc []byte, recv int64) error {
	var p *emfParsed
	var err error
	reason := emfdoc.TooLarge
	if len(doc) <= MaxDocBytes {
		p, reason = parseEMF(doc)
	}
	if reason != emfdoc.OK {
		err = emfError(reason)
	}
	return s.storeEMF(p, bytes.Clone(doc), recv, err, reason)
}

// AddEMFDocument stores a copy of one EMF document the sidecar's EMF
// receiver parsed (package emf), without parsing its line again.
func (s *Store) AddEMFDocument(d *emfdoc.Document) error {
	return s.addEMFDocument(d.Clone(), s.cfg.Now().UnixNano())
}

// addEMFDocument stores a document the EMF receiver parsed; the store
// takes d over.
func (s *Store) addEMFDocument(d *emfdoc.Document, recv int64) error {
	return s.storeEMF(fromDocument(d), d.Raw, recv, nil, emfdoc.OK)
}

// rejectedEMF counts an EMF document refused before it reached the store
// (by the sidecar's receiver), by the parser's reason, without waiting for
// the store's lock.
func (s *Store) rejectedEMF(reason emfdoc.Reason) {
	if i := slices.Index(emfdoc.Reasons, reason); i >= 0 && i < len(s.intakeRejected) {
		s.intakeRejected[i].Add(1)
	}
}

func (s *Store) rejectEMFLocked(reason emfdoc.Reason) {
	s.counter.emfRejected++
	if s.emfRejectedBy == nil {
		s.emfRejectedBy = map[string]uint64{}
	}
	s.emfRejectedBy[string(reason)]++
}

// storeEMF stores the parsed document p, whose line is raw, or counts it
// refused when err is set (reason says why).
func (s *Store) storeEMF(p *emfParsed, raw []byte, recv int64, err error, reason emfdoc.Reason) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.rejectEMFLocked(reason)
		return err
	}
	var ignored uint64
	if ok, err := s.admitLocked(nil, raw, recv, "EMF document", &ignored); !ok {
		if ignored > 0 {
			s.rejectEMFLocked(emfdoc.TooLarge)
		}
		return err
	}
	s.counter.emfDocs++
	d := &emfDoc{raw: raw, recv: recv, ts: p.ts}
	var docDims []dim
	for _, pt := range p.points {
		for _, dm := range pt.dims {
			if !slices.ContainsFunc(docDims, func(x dim) bool { return x.Key == dm.Key }) {
				docDims = append(docDims, dm)
			}
		}
	}
	for _, pt := range p.points {
		se := s.series[pt.key]
		if se == nil {
			if len(s.series) >= s.cfg.MaxSeries {
				s.counter.seriesDropped++
				continue
			}
			se = &series{key: pt.key, namespace: pt.namespace, name: pt.name, unit: pt.unit, dims: pt.dims}
			s.series[pt.key] = se
		}
		ids := p.traceIDs
		if !isTimeUnit(pt.unit) && !slices.ContainsFunc(pt.values, func(v float64) bool { return v != 0 }) {
			// A count of zero (Faults: 0 in a document of 2xx requests)
			// does not make the document's traces examples of this metric.
			ids = nil
		}
		se.points = append(se.points, point{ts: p.ts, values: pt.values, traceIDs: ids, docDims: docDims, doc: s.counter.emfDocs})
		d.series = append(d.series, se)
	}
	s.emf = append(s.emf, d)
	s.bytes += int64(len(raw))
	s.evict()
	return nil
}

// Stats are the store's counts, as /api/stats returns them.
type Stats struct {
	Traces           int     `json:"traces"`
	MetricDocs       int     `json:"metric_docs"`
	Series           int     `json:"series"`
	Bytes            int64   `json:"bytes"`
	MaxTraces        int     `json:"max_traces"`
	MaxBytes         int64   `json:"max_bytes"`
	Segments         uint64  `json:"segments_received"`
	SegmentsRejected uint64  `json:"segments_rejected"`
	SegmentsStale    uint64  `json:"segments_stale"`
	MetricDocsTotal  uint64  `json:"metric_docs_received"`
	MetricRejected   uint64  `json:"metric_docs_rejected"`
	SeriesDropped    uint64  `json:"series_points_dropped"`
	TracesEvicted    uint64  `json:"traces_evicted"`
	MetricEvicted    uint64  `json:"metric_docs_evicted"`
	Expired          uint64  `json:"expired"`
	Loaded           uint64  `json:"loaded"`
	InboxDropped     uint64  `json:"inbox_dropped"`
	RetentionSeconds float64 `json:"retention_seconds"`
	Inputs           []Input `json:"inputs"`

	// OTLP log records (logs.go): kept, their bytes and bounds, kept
	// without a trace ID; received, refused (over MaxLogBytes alone),
	// evicted for the bounds (unlinked ones over MaxUnlinkedLogs apart)
	// and expired.
	Logs                int    `json:"log_records"`
	LogBytes            int64  `json:"log_bytes"`
	MaxLogRecords       int    `json:"max_log_records"`
	MaxLogBytes         int64  `json:"max_log_bytes"`
	MaxUnlinkedLogs     int    `json:"max_unlinked_log_records"`
	UnlinkedLogs        int    `json:"unlinked_log_records"`
	LogsReceived        uint64 `json:"log_records_received"`
	LogsRejected        uint64 `json:"log_records_rejected"`
	LogsEvicted         uint64 `json:"log_records_evicted"`
	UnlinkedLogsEvicted uint64 `json:"unlinked_log_records_evicted"`
	LogsExpired         uint64 `json:"log_records_expired"`

	// MetricRejectedReasons counts the refused EMF documents by the
	// parser's reason (package emf), whether the sidecar's receiver or the
	// store refused them.
	MetricRejectedReasons map[string]uint64 `json:"metric_docs_rejected_reasons,omitempty"`
}

// Stats returns the store's current counts.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.counter
	st := Stats{
		Traces: len(s.order), MetricDocs: len(s.emf), Series: len(s.series), Bytes: s.bytes,
		MaxTraces: s.cfg.MaxTraces, MaxBytes: s.cfg.MaxBytes,
		Segments: c.segments, SegmentsRejected: c.segmentsRejected, SegmentsStale: c.segmentsStale,
		MetricDocsTotal: c.emfDocs, MetricRejected: c.emfRejected, SeriesDropped: c.seriesDropped,
		TracesEvicted: c.tracesEvicted, MetricEvicted: c.emfEvicted, Expired: c.expired, Loaded: c.loaded,
		InboxDropped:     s.inboxDropped.Load(),
		RetentionSeconds: s.cfg.Retention.Seconds(),
		Inputs:           s.cfg.Inputs,
	}
	s.logStats(&st) // s.mu, then s.logs.mu: never the other way round
	st.MetricRejectedReasons = maps.Clone(s.emfRejectedBy)
	for i := range emfdoc.Reasons[:min(len(emfdoc.Reasons), len(s.intakeRejected))] {
		if n := s.intakeRejected[i].Load(); n > 0 {
			if st.MetricRejectedReasons == nil {
				st.MetricRejectedReasons = map[string]uint64{}
			}
			st.MetricRejectedReasons[string(emfdoc.Reasons[i])] += n
			st.MetricRejected += n
		}
	}
	return st
}

// Close persists the store when it has a PersistPath and refuses further
// documents. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.cfg.PersistPath == "" {
		return nil
	}
	return s.Persist()
}
