package otelemf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
)

// Option configures an Exporter.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	emfOpts   []emf.Option
	resKeys   []attribute.Key
	maxValues int
}

// WithEMFOptions passes options to the emf.Logger the exporter writes
// through (namespace, sink, default dimensions, …). Without them the Logger
// is configured from the environment like emf.New.
func WithEMFOptions(opts ...emf.Option) Option {
	return optionFunc(func(c *config) { c.emfOpts = append(c.emfOpts, opts...) })
}

// WithResourceDimensions adds the named resource attributes (for example
// semconv's service.name) as dimensions of every document, before the data
// point's own attributes. A missing attribute is left out.
func WithResourceDimensions(keys ...attribute.Key) Option {
	return optionFunc(func(c *config) { c.resKeys = append(c.resKeys, keys...) })
}

// WithMaxHistogramValues caps the values written per histogram data point
// and export (default 300).
func WithMaxHistogramValues(n int) Option {
	return optionFunc(func(c *config) { c.maxValues = n })
}

// Exporter implements sdkmetric.Exporter. Use it with
// sdkmetric.NewPeriodicReader.
type Exporter struct {
	cfg    config
	logger *emf.Logger

	mu       sync.Mutex
	shutdown bool
	groups   map[attribute.Distinct]*group
	order    []*group
	values   []float64
}

var _ sdkmetric.Exporter = (*Exporter)(nil)

// group is the data points of one attribute set.
type group struct {
	attrs   attribute.Set
	metrics []point
}

type point struct {
	name   string
	unit   emf.Unit
	scale  float64
	values []float64
}

// New returns an Exporter writing through a new emf.Logger.
func New(opts ...Option) (*Exporter, error) {
	c := config{maxValues: 300}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.maxValues < 1 {
		return nil, errors.New("otelemf: MaxHistogramValues must be positive")
	}
	l, err := emf.New(c.emfOpts...)
	if err != nil {
		return nil, err
	}
	return &Exporter{cfg: c, logger: l, groups: make(map[attribute.Distinct]*group)}, nil
}

// Temporality is delta for counters and histograms, so every document holds
// the change since the previous export (what CloudWatch sums), and
// cumulative for up-down counters and gauges, whose level is what matters.
func (e *Exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	switch k {
	case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindObservableCounter, sdkmetric.InstrumentKindHistogram:
		return metricdata.DeltaTemporality
	}
	return metricdata.CumulativeTemporality
}

// Aggregation is base-2 exponential histograms for histograms (finer than
// the default explicit buckets) and the SDK default otherwise.
func (e *Exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if k == sdkmetric.InstrumentKindHistogram {
		return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}
	}
	return sdkmetric.DefaultAggregationSelector(k)
}

// Export writes rm as EMF documents. It returns the errors of data points
// that could not be written; the rest are written.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return sdkmetric.ErrExporterShutdown
	}
	clear(e.groups)
	e.order = e.order[:0]
	var errs []error
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if err := e.collect(m); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var res []attribute.KeyValue
	if rm.Resource != nil {
		for _, k := range e.cfg.resKeys {
			if v, ok := rm.Resource.Set().Value(k); ok {
				res = append(res, attribute.KeyValue{Key: k, Value: v})
			}
		}
	}
	for _, g := range e.order {
		if err := e.write(ctx, res, g); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return errors.Join(errs...)
}

func (e *Exporter) add(attrs attribute.Set, name string, unit emf.Unit, scale float64, values []float64) {
	key := attrs.Equivalent()
	g := e.groups[key]
	if g == nil {
		g = &group{attrs: attrs}
		e.groups[key] = g
		e.order = append(e.order, g)
	}
	g.metrics = append(g.metrics, point{name: name, unit: unit, scale: scale, values: values})
}

func (e *Exporter) collect(m metricdata.Metrics) error {
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		unit, scale := mapUnit(m.Unit, true)
		for _, p := range d.DataPoints {
			e.add(p.Attributes, m.Name, unit, scale, []float64{float64(p.Value)})
		}
	case metricdata.Sum[float64]:
		unit, scale := mapUnit(m.Unit, true)
		for _, p := range d.DataPoints {
			e.add(p.Attributes, m.Name, unit, scale, []float64{p.Value})
		}
	case metricdata.Gauge[int64]:
		unit, scale := mapUnit(m.Unit, false)
		for _, p := range d.DataPoints {
			e.add(p.Attributes, m.Name, unit, scale, []float64{float64(p.Value)})
		}
	case metricdata.Gauge[float64]:
		unit, scale := mapUnit(m.Unit, false)
		for _, p := range d.DataPoints {
			e.add(p.Attributes, m.Name, unit, scale, []float64{p.Value})
		}
	case metricdata.Histogram[int64]:
		collectHistogram(e, m, d.DataPoints)
	case metricdata.Histogram[float64]:
		collectHistogram(e, m, d.DataPoints)
	case metricdata.ExponentialHistogram[int64]:
		collectExponential(e, m, d.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		collectExponential(e, m, d.DataPoints)
	default:
		return fmt.Errorf("otelemf: metric %q: aggregation %T is not supported", m.Name, m.Data)
	}
	return nil
}

// write emits one attribute set's metrics.
func (e *Exporter) write(ctx context.Context, res []attribute.KeyValue, g *group) error {
	l := e.logger
	l.Reset()
	var errs []error
	var dims []emf.Dimension
	var props []attribute.KeyValue
	all := res[:len(res):len(res)]
	for _, kv := range g.attrs.ToSlice() {
		if !hasKey(res, kv.Key) { // the data point cannot override the resource
			all = append(all, kv)
		}
	}
	for _, kv := range all {
		d := emf.Dimension{Name: string(kv.Key), Value: kv.Value.Emit()}
		if d.Validate() == nil {
			dims = append(dims, d)
		} else {
			props = append(props, kv)
		}
	}
	// Beyond 30 dimensions (with the defaults), the last attributes become
	// properties.
	for len(dims) > 0 {
		err := l.PutDimensions(dims...)
		if err == nil {
			break
		}
		if !errors.Is(err, emf.ErrTooManyDimensions) {
			errs = append(errs, fmt.Errorf("otelemf: attributes as dimensions: %w", err))
			for _, d := range dims {
				props = append(props, attribute.String(d.Name, d.Value))
			}
			break
		}
		props = append(props, attribute.String(dims[len(dims)-1].Name, dims[len(dims)-1].Value))
		dims = dims[:len(dims)-1]
	}
	// What cannot be a dimension stays searchable as a property.
	for _, kv := range props {
		if err := l.SetProperty(string(kv.Key), kv.Value.Emit()); err != nil {
			errs = append(errs, fmt.Errorf("otelemf: attribute %q dropped: %w", kv.Key, err))
		}
	}
	for _, p := range g.metrics {
		if p.scale != 1 {
			for i := range p.values {
				p.values[i] *= p.scale
			}
		}
		if err := l.PutMetricValues(p.name, p.unit, p.values...); err != nil {
			errs = append(errs, fmt.Errorf("otelemf: %w", err))
		}
	}
	if err := l.Flush(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ForceFlush waits until the sink has delivered what was exported.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	e.mu.Lock() // not in the middle of an Export's document
	defer e.mu.Unlock()
	return e.logger.Flush(ctx)
}

// Shutdown flushes and shuts down the Logger (and the sink it created).
// Later exports return sdkmetric.ErrExporterShutdown.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.shutdown {
		e.mu.Unlock()
		return nil
	}
	e.shutdown = true
	e.mu.Unlock()
	return e.logger.Shutdown(ctx)
}

// mapUnit maps a UCUM unit to a CloudWatch unit and the factor to apply to
// values. Annotations ({request}) are counts; unknown units are None.
func mapUnit(u string, counted bool) (emf.Unit, float64) {
	switch u {
	case "s":
		return emf.Seconds, 1
	case "ms":
		return emf.Milliseconds, 1
	case "us":
		return emf.Microseconds, 1
	case "ns":
		return emf.Microseconds, 1e-3
	case "min":
		return emf.Seconds, 60
	case "h":
		return emf.Seconds, 3600
	case "By":
		return emf.Bytes, 1
	case "kBy", "KiBy":
		return emf.Kilobytes, 1
	case "MBy", "MiBy":
		return emf.Megabytes, 1
	case "GBy", "GiBy":
		return emf.Gigabytes, 1
	case "TBy", "TiBy":
		return emf.Terabytes, 1
	case "bit":
		return emf.Bits, 1
	case "kbit", "Kibit":
		return emf.Kilobits, 1
	case "Mbit", "Mibit":
		return emf.Megabits, 1
	case "Gbit", "Gibit":
		return emf.Gigabits, 1
	case "Tbit", "Tibit":
		return emf.Terabits, 1
	case "%":
		return emf.Percent, 1
	case "By/s":
		return emf.BytesPerSecond, 1
	case "kBy/s", "KiBy/s":
		return emf.KilobytesPerSecond, 1
	case "MBy/s", "MiBy/s":
		return emf.MegabytesPerSecond, 1
	case "GBy/s", "GiBy/s":
		return emf.GigabytesPerSecond, 1
	case "TBy/s", "TiBy/s":
		return emf.TerabytesPerSecond, 1
	case "bit/s":
		return emf.BitsPerSecond, 1
	case "kbit/s", "Kibit/s":
		return emf.KilobitsPerSecond, 1
	case "Mbit/s", "Mibit/s":
		return emf.MegabitsPerSecond, 1
	case "Gbit/s", "Gibit/s":
		return emf.GigabitsPerSecond, 1
	case "Tbit/s", "Tibit/s":
		return emf.TerabitsPerSecond, 1
	case "1/s":
		return emf.CountPerSecond, 1
	}
	if strings.HasPrefix(u, "{") && strings.HasSuffix(u, "}") {
		return emf.Count, 1
	}
	if strings.HasPrefix(u, "{") && strings.HasSuffix(u, "}/s") {
		return emf.CountPerSecond, 1
	}
	if (u == "" || u == "1") && counted {
		return emf.Count, 1
	}
	return emf.None, 1
}

// bucket is a value and how many measurements it stands for.
type bucket struct {
	v float64
	n uint64
}

// thin expands buckets (in ascending value order) into values, scaling the
// counts down with error diffusion when they add up to more than limit and
// always keeping one value of the first and last non-empty bucket.
func thin(bs []bucket, limit int) []float64 {
	var total uint64
	first, last := -1, -1
	for i, b := range bs {
		total += b.n
		if b.n > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	f, carry := 1.0, 0.0
	if total > uint64(limit) {
		f = float64(limit) / float64(total)
	}
	out := make([]float64, 0, min(total, uint64(limit)+2))
	for i, b := range bs {
		if b.n == 0 {
			continue
		}
		x := float64(b.n)*f + carry
		k := uint64(x)
		carry = x - float64(k)
		if k == 0 && (i == first || i == last) {
			k = 1
		}
		for range k {
			out = append(out, b.v)
		}
	}
	return out
}

func collectHistogram[N int64 | float64](e *Exporter, m metricdata.Metrics, pts []metricdata.HistogramDataPoint[N]) {
	unit, scale := mapUnit(m.Unit, true)
	for _, p := range pts {
		lo, hasMin := p.Min.Value()
		hi, hasMax := p.Max.Value()
		bs := make([]bucket, 0, len(p.BucketCounts))
		for i, n := range p.BucketCounts {
			if n == 0 {
				continue
			}
			var v float64
			switch {
			case len(p.Bounds) == 0:
				v = float64(p.Sum) / float64(max(p.Count, 1))
			case i == 0:
				v = p.Bounds[0]
				if hasMin {
					v = float64(lo)
				}
			case i >= len(p.Bounds):
				v = p.Bounds[len(p.Bounds)-1]
				if hasMax {
					v = float64(hi)
				}
			default:
				v = (p.Bounds[i-1] + p.Bounds[i]) / 2
			}
			if hasMin {
				v = math.Max(v, float64(lo))
			}
			if hasMax {
				v = math.Min(v, float64(hi))
			}
			bs = append(bs, bucket{v, n})
		}
		if vals := thin(bs, e.cfg.maxValues); len(vals) > 0 {
			exactEnds(vals, lo, hasMin, hi, hasMax)
			e.add(p.Attributes, m.Name, unit, scale, vals)
		}
	}
}

func collectExponential[N int64 | float64](e *Exporter, m metricdata.Metrics, pts []metricdata.ExponentialHistogramDataPoint[N]) {
	unit, scale := mapUnit(m.Unit, true)
	for _, p := range pts {
		lo, hasMin := p.Min.Value()
		hi, hasMax := p.Max.Value()
		clamp := func(v float64) float64 {
			if hasMin {
				v = math.Max(v, float64(lo))
			}
			if hasMax {
				v = math.Min(v, float64(hi))
			}
			return v
		}
		// Bucket index i covers (base^i, base^(i+1)]; its geometric middle
		// is 2^((i+0.5)·2^-scale).
		mid := func(i int) float64 { return math.Exp2((float64(i) + 0.5) * math.Exp2(-float64(p.Scale))) }
		bs := make([]bucket, 0, len(p.NegativeBucket.Counts)+len(p.PositiveBucket.Counts)+1)
		for k := len(p.NegativeBucket.Counts) - 1; k >= 0; k-- {
			if n := p.NegativeBucket.Counts[k]; n > 0 {
				bs = append(bs, bucket{clamp(-mid(int(p.NegativeBucket.Offset) + k)), n})
			}
		}
		if p.ZeroCount > 0 {
			bs = append(bs, bucket{clamp(0), p.ZeroCount})
		}
		for k, n := range p.PositiveBucket.Counts {
			if n > 0 {
				bs = append(bs, bucket{clamp(mid(int(p.PositiveBucket.Offset) + k)), n})
			}
		}
		if vals := thin(bs, e.cfg.maxValues); len(vals) > 0 {
			exactEnds(vals, lo, hasMin, hi, hasMax)
			e.add(p.Attributes, m.Name, unit, scale, vals)
		}
	}
}

// exactEnds replaces the lowest and highest bucket values (vals is in
// ascending order) with the recorded minimum and maximum, which are real
// measurements.
func exactEnds[N int64 | float64](vals []float64, lo N, hasMin bool, hi N, hasMax bool) {
	if hasMin {
		vals[0] = float64(lo)
	}
	if hasMax {
		vals[len(vals)-1] = float64(hi)
	}
}

func hasKey(kvs []attribute.KeyValue, k attribute.Key) bool {
	for _, kv := range kvs {
		if kv.Key == k {
			return true
		}
	}
	return false
}
