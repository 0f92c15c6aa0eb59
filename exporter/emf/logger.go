package emf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Dimension is one dimension: a name and its (non-empty) value.
type Dimension struct {
	Name  string
	Value string
}

// Logger collects metrics, dimensions and properties and writes them as EMF
// documents on Flush. It is safe for concurrent use.
//
// After Flush the metric values are cleared and the dimensions, properties,
// namespace and timestamp are kept; Reset clears everything back to the
// configuration. A long-lived Logger reused through Reset and Flush (for
// example once per Lambda invocation) does not allocate in steady state.
type Logger struct {
	mu        sync.Mutex
	cfg       config
	ownsSink  bool
	maxDoc    int // largest document the sink takes
	namespace string
	timestamp time.Time // zero: the clock at flush time

	metrics []metric
	index   map[string]int // metric name → index in metrics
	last    int            // index of the metric put last

	useDefaults bool
	dims        []Dimension // custom dimension sets, flattened
	setEnds     []int       // end offsets of each set in dims
	dimBase     int         // during SetDimensions: where the new sets start
	endBase     int

	props []property

	buf   []byte
	pairs []chunk // scratch for the document split
}

type metric struct {
	name   string
	unit   Unit
	res    Resolution
	values []float64
	doc    int // last document this metric went into, during Flush
}

// chunk is values [100*n, 100*n+100) of metric m.
type chunk struct{ m, n int32 }

type property struct {
	key  string
	kind byte // 's' string, 'n' number, 'j' raw JSON
	s    string
	n    float64
	raw  []byte
}

// New returns a Logger configured from opts and the environment (see the
// package documentation). It fails on an invalid namespace or default
// dimension, or an unknown AWS_EMF_ENVIRONMENT.
func New(opts ...Option) (*Logger, error) {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.resolve(); err != nil {
		return nil, err
	}
	if err := validNamespace(c.namespace); err != nil {
		return nil, err
	}
	if len(c.defaultDims) > maxDimensionsPerSet {
		return nil, fmt.Errorf("%w: %d default dimensions", ErrTooManyDimensions, len(c.defaultDims))
	}
	for i, d := range c.defaultDims {
		if err := validDimension(d); err != nil {
			return nil, err
		}
		for _, e := range c.defaultDims[:i] {
			if e.Name == d.Name {
				return nil, fmt.Errorf("%w: default dimension %q given twice", ErrConflict, d.Name)
			}
		}
	}
	l := &Logger{cfg: c, index: make(map[string]int)}
	if l.cfg.sink == nil {
		s, err := defaultSink(&l.cfg)
		if err != nil {
			return nil, err
		}
		l.cfg.sink, l.ownsSink = s, true
	}
	l.maxDoc = maxDocBytes
	if ls, ok := l.cfg.sink.(interface{ MaxDocumentSize() int }); ok && ls.MaxDocumentSize() > 0 {
		l.maxDoc = min(l.maxDoc, ls.MaxDocumentSize())
	}
	l.resetLocked()
	return l, nil
}

// Environment reports the environment the Logger was configured for.
func (l *Logger) Environment() Environment { return l.cfg.env }

// PutMetric adds a value to the named metric with standard (60 s)
// resolution. Values of one metric accumulate until Flush; more than 100
// are split across documents, never dropped.
func (l *Logger) PutMetric(name string, value float64, unit Unit) error {
	return l.PutMetricWithResolution(name, value, unit, Standard)
}

// PutMetricWithResolution is PutMetric with a storage resolution, [High]
// (1 s) or [Standard] (60 s). A metric keeps the unit and resolution it was
// first put with; a different one is refused with [ErrConflict].
func (l *Logger) PutMetricWithResolution(name string, value float64, unit Unit, res Resolution) error {
	if !finite(value) {
		return fmt.Errorf("%w: metric %q value %v", ErrInvalidValue, name, value)
	}
	return l.putValues(name, unit, res, value, nil)
}

// PutMetricValues adds several values to the named metric (standard
// resolution) under one lock: a distribution such as a batch of latencies.
// If any value is not finite, none is added.
func (l *Logger) PutMetricValues(name string, unit Unit, values ...float64) error {
	if len(values) == 0 {
		return nil
	}
	for i, v := range values {
		if !finite(v) {
			return fmt.Errorf("%w: metric %q value %d is %v", ErrInvalidValue, name, i, v)
		}
	}
	return l.putValues(name, unit, Standard, values[0], values[1:])
}

// putValues adds first and then rest, which are finite.
func (l *Logger) putValues(name string, unit Unit, res Resolution, first float64, rest []float64) error {
	if !unit.Valid() {
		return fmt.Errorf("%w: metric %q unit %q", ErrInvalidUnit, name, unit)
	}
	if res != Standard && res != High {
		return fmt.Errorf("%w: metric %q resolution %d (want 1 or 60)", ErrInvalidResolution, name, res)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.last, false
	if i < len(l.metrics) && l.metrics[i].name == name {
		ok = true // the common case: the same metric put again
	} else {
		i, ok = l.index[name]
	}
	if ok {
		l.last = i
		m := &l.metrics[i]
		if m.unit != unit || m.res != res {
			return fmt.Errorf("%w: metric %q was put with unit %s and resolution %d", ErrConflict, name, m.unit, m.res)
		}
		m.values = append(append(m.values, first), rest...)
		return nil
	}
	if err := validKey("metric", name); err != nil {
		return err
	}
	if l.dimensionValue(name) != "" || l.propertyIndex(name) >= 0 {
		return fmt.Errorf("%w: metric %q is already a dimension or property", ErrConflict, name)
	}
	n := len(l.metrics)
	if n < cap(l.metrics) {
		l.metrics = l.metrics[:n+1]
	} else {
		l.metrics = append(l.metrics, metric{})
	}
	m := &l.metrics[n]
	m.name, m.unit, m.res = name, unit, res
	m.values = append(append(m.values[:0], first), rest...)
	l.index[name] = n
	l.last = n
	return nil
}

// dimensionValue returns the value a dimension name has in any current set,
// or "".
func (l *Logger) dimensionValue(name string) string {
	if l.useDefaults {
		for _, d := range l.cfg.defaultDims {
			if d.Name == name {
				return d.Value
			}
		}
	}
	for _, d := range l.dims[l.dimBase:] {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

func (l *Logger) propertyIndex(key string) int {
	for i := range l.props {
		if l.props[i].key == key {
			return i
		}
	}
	return -1
}

// PutDimensions adds a dimension set; the default dimensions (unless
// SetDimensions removed them) are prepended to it. Every metric is emitted
// for every set. An identical set is added once. A set of more than 30
// dimensions with the defaults, an empty value, or a name already used as a
// metric, property or (with another value) dimension is refused.
func (l *Logger) PutDimensions(dims ...Dimension) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.putDimensionsLocked(dims)
}

func (l *Logger) putDimensionsLocked(dims []Dimension) error {
	total := len(dims)
	if l.useDefaults {
		total += len(l.cfg.defaultDims)
	}
	if total > maxDimensionsPerSet {
		return fmt.Errorf("%w: %d with the default dimensions", ErrTooManyDimensions, total)
	}
	for i, d := range dims {
		if err := validDimension(d); err != nil {
			return err
		}
		for _, e := range dims[:i] {
			if e.Name == d.Name {
				return fmt.Errorf("%w: dimension %q twice in one set", ErrConflict, d.Name)
			}
		}
		if v := l.dimensionValue(d.Name); v != "" && v != d.Value {
			return fmt.Errorf("%w: dimension %q already has value %q", ErrConflict, d.Name, v)
		}
		if _, ok := l.index[d.Name]; ok || l.propertyIndex(d.Name) >= 0 {
			return fmt.Errorf("%w: dimension %q is already a metric or property", ErrConflict, d.Name)
		}
		if l.useDefaults {
			for _, e := range l.cfg.defaultDims {
				if e.Name == d.Name {
					return fmt.Errorf("%w: dimension %q is a default dimension", ErrConflict, d.Name)
				}
			}
		}
	}
	// Skip a set equal to one already present (same names, same order).
	start := l.dimBase
	for _, end := range l.setEnds[l.endBase:] {
		if sameNames(l.dims[start:end], dims) {
			return nil
		}
		start = end
	}
	l.dims = append(l.dims, dims...)
	l.setEnds = append(l.setEnds, len(l.dims))
	return nil
}

func sameNames(a, b []Dimension) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// SetDimensions replaces all dimension sets, including the default
// dimensions, with the given sets. With no sets, metrics have no dimensions.
// On error the previous sets are kept.
func (l *Logger) SetDimensions(sets ...[]Dimension) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldD, oldE, oldDefaults := len(l.dims), len(l.setEnds), l.useDefaults
	// Build the new sets after the old ones, then move them to the front.
	l.dimBase, l.endBase, l.useDefaults = oldD, oldE, false
	var err error
	for _, s := range sets {
		if err = l.putDimensionsLocked(s); err != nil {
			break
		}
	}
	l.dimBase, l.endBase = 0, 0
	if err != nil {
		l.dims, l.setEnds, l.useDefaults = l.dims[:oldD], l.setEnds[:oldE], oldDefaults
		return err
	}
	l.dims = l.dims[:copy(l.dims, l.dims[oldD:])]
	l.setEnds = l.setEnds[:copy(l.setEnds, l.setEnds[oldE:])]
	for i := range l.setEnds {
		l.setEnds[i] -= oldD
	}
	return nil
}

// SetProperty sets a string field at the document root, searchable in
// CloudWatch Logs Insights (a request ID, a trace ID). Properties are kept
// across Flush; setting a key again replaces its value.
func (l *Logger) SetProperty(key, value string) error {
	return l.setProperty(property{key: key, kind: 's', s: value})
}

// SetPropertyNumber sets a numeric property. NaN and ±Inf are refused.
func (l *Logger) SetPropertyNumber(key string, value float64) error {
	if !finite(value) {
		return fmt.Errorf("%w: property %q value %v", ErrInvalidValue, key, value)
	}
	return l.setProperty(property{key: key, kind: 'n', n: value})
}

// SetPropertyJSON sets a property to a JSON value (object, array, …),
// which is copied. Invalid JSON is refused.
func (l *Logger) SetPropertyJSON(key string, raw []byte) error {
	if !json.Valid(raw) {
		return fmt.Errorf("%w: property %q is not valid JSON", ErrInvalidValue, key)
	}
	return l.setProperty(property{key: key, kind: 'j', raw: raw})
}

func (l *Logger) setProperty(p property) error {
	if err := validKey("property", p.key); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.index[p.key]; ok || l.dimensionValue(p.key) != "" {
		return fmt.Errorf("%w: property %q is already a metric or dimension", ErrConflict, p.key)
	}
	if i := l.propertyIndex(p.key); i >= 0 {
		q := &l.props[i]
		q.kind, q.s, q.n = p.kind, p.s, p.n
		q.raw = append(q.raw[:0], p.raw...)
		return nil
	}
	n := len(l.props)
	if n < cap(l.props) {
		l.props = l.props[:n+1]
	} else {
		l.props = append(l.props, property{})
	}
	q := &l.props[n]
	q.key, q.kind, q.s, q.n = p.key, p.kind, p.s, p.n
	q.raw = append(q.raw[:0], p.raw...)
	return nil
}

// SetNamespace changes the namespace of the following documents.
func (l *Logger) SetNamespace(ns string) error {
	if err := validNamespace(ns); err != nil {
		return err
	}
	l.mu.Lock()
	l.namespace = ns
	l.mu.Unlock()
	return nil
}

// SetTimestamp sets the documents' timestamp; the zero time means the clock
// at Flush (the default).
func (l *Logger) SetTimestamp(t time.Time) {
	l.mu.Lock()
	l.timestamp = t
	l.mu.Unlock()
}

// Reset drops metrics, dimension sets, properties, the namespace and the
// timestamp set since New, keeping the allocated storage.
func (l *Logger) Reset() {
	l.mu.Lock()
	l.resetLocked()
	l.mu.Unlock()
}

func (l *Logger) resetLocked() {
	l.clearMetricsLocked()
	l.namespace = l.cfg.namespace
	l.timestamp = time.Time{}
	l.useDefaults = true
	l.dims, l.setEnds = l.dims[:0], l.setEnds[:0]
	for i := range l.props {
		l.props[i].s = ""
	}
	l.props = l.props[:0]
}

func (l *Logger) clearMetricsLocked() {
	l.metrics = l.metrics[:0]
	clear(l.index)
}

// Flush writes the collected metrics as EMF documents to the sink, then
// clears the metric values (dimensions and properties stay). With no
// metrics it writes nothing. With the writer sink (Lambda) the documents
// are written when Flush returns; with the agent sink Flush also waits until
// the agent has them, or ctx ends.
func (l *Logger) Flush(ctx context.Context) error {
	l.mu.Lock()
	err := l.writeLocked(ctx)
	l.clearMetricsLocked()
	l.mu.Unlock()
	if ferr := l.cfg.sink.Flush(ctx); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return err
}

// writeLocked splits the metrics into documents (at most 100 metrics, each
// with at most 100 values) and writes them.
//
// Metric values are cut into chunks of 100; chunk k of every metric comes
// before chunk k+1 of any. Chunks are packed in that order into documents
// of up to 100, starting a new document when a metric would appear twice.
func (l *Logger) writeLocked(ctx context.Context) error {
	if len(l.metrics) == 0 {
		return nil
	}
	ts := l.timestamp
	if ts.IsZero() {
		ts = l.cfg.now()
	}
	var errs error
	for i := range l.metrics {
		l.metrics[i].doc = -1
	}
	doc := 0
	l.pairs = l.pairs[:0]
	for round := 0; ; round++ {
		any := false
		for i := range l.metrics {
			m := &l.metrics[i]
			if len(m.values) <= round*maxValuesPerMetric {
				continue
			}
			any = true
			if len(l.pairs) == maxMetricsPerDoc || m.doc == doc {
				errs = errors.Join(errs, l.emitLocked(ctx, ts))
				doc++
				l.pairs = l.pairs[:0]
			}
			m.doc = doc
			l.pairs = append(l.pairs, chunk{int32(i), int32(round)})
		}
		if !any {
			break
		}
	}
	if len(l.pairs) > 0 {
		errs = errors.Join(errs, l.emitLocked(ctx, ts))
	}
	return errs
}

func (l *Logger) emitLocked(ctx context.Context, ts time.Time) error {
	return l.emitChunksLocked(ctx, ts, l.pairs)
}

// emitChunksLocked encodes and writes one document; one larger than a
// CloudWatch Logs event is split in two, recursively.
func (l *Logger) emitChunksLocked(ctx context.Context, ts time.Time, chunks []chunk) error {
	l.buf = l.encodeLocked(l.buf[:0], ts, chunks)
	if len(l.buf) > l.maxDoc {
		if len(chunks) > 1 {
			half := len(chunks) / 2
			return errors.Join(l.emitChunksLocked(ctx, ts, chunks[:half]), l.emitChunksLocked(ctx, ts, chunks[half:]))
		}
		err := fmt.Errorf("%w: %d bytes for metric %q alone (dimensions and properties too large?)", ErrTooLarge, len(l.buf), l.metrics[chunks[0].m].name)
		l.cfg.log.LogAttrs(ctx, slog.LevelWarn, "emf: document not written", slog.String("error", err.Error()))
		return err
	}
	err := l.cfg.sink.WriteDocument(ctx, l.buf)
	if err != nil {
		l.cfg.log.LogAttrs(ctx, slog.LevelWarn, "emf: document not written", slog.String("error", err.Error()))
		err = fmt.Errorf("emf: writing document: %w", err)
	}
	if cap(l.buf) > 4<<20 {
		l.buf = nil
	}
	return err
}

// Shutdown flushes, then shuts down the sink if the Logger created it (a
// sink given with WithSink belongs to the caller).
func (l *Logger) Shutdown(ctx context.Context) error {
	err := l.Flush(ctx)
	if l.ownsSink {
		err = errors.Join(err, l.cfg.sink.Shutdown(ctx))
	}
	return err
}
