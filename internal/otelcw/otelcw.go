package otelcw

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
)

// Reason says why a data point gave no CloudWatch point.
type Reason string

// Reasons a data point is dropped.
const (
	NonFinite            Reason = "non_finite"            // a NaN or infinite value, sum, min or max
	NegativeValue        Reason = "negative_value"        // a monotonic sum below zero
	NoRecordedValue      Reason = "no_recorded_value"     // flagged as having no value
	BadHistogram         Reason = "bad_histogram"         // counts that do not add up, bad bounds or scale
	TooManyBuckets       Reason = "too_many_buckets"      // more than Config.MaxBuckets
	BadTemporality       Reason = "bad_temporality"       // neither delta nor cumulative
	Stale                Reason = "stale"                 // a cumulative point not newer than the last one
	Summary              Reason = "summary"               // summaries are not translated
	NoData               Reason = "no_data"               // a metric without data
	BadMetricName        Reason = "bad_metric_name"       // empty, too long or not printable ASCII
	UnsupportedAttribute Reason = "unsupported_attribute" // an array, map, bytes or empty attribute value
	BadDimensionName     Reason = "bad_dimension_name"
	BadDimensionValue    Reason = "bad_dimension_value"
	DuplicateDimension   Reason = "duplicate_dimension"
	TooManyDimensions    Reason = "too_many_dimensions" // more than 30
	CardinalityLimit     Reason = "cardinality_limit"   // too many dimension sets for the metric
	SeriesLimit          Reason = "series_limit"        // too many series remembered
)

// Reasons lists every Reason, for counters.
var Reasons = reasonIndex[:]

// Config configures a Translator.
type Config struct {
	// Namespace of every point (required).
	Namespace string
	// ResourceDimensions are resource attributes kept as dimensions,
	// besides service.name (which becomes Service).
	ResourceDimensions []string
	// MaxSeries is how many series (metric, unit and dimension set) the
	// Translator remembers, for cumulative baselines and cardinality
	// (default 10,000).
	MaxSeries int
	// MaxSetsPerMetric is how many dimension sets one metric name may have
	// (default 1,000).
	MaxSetsPerMetric int
	// MaxBuckets is the most buckets a histogram point may have (default
	// 1,024); MaxStoredBuckets the most all cumulative baselines keep
	// together (default 1<<20, 8 MB).
	MaxBuckets       int
	MaxStoredBuckets int
	// StaleAfter is when a series not seen is forgotten (default 15 min).
	StaleAfter time.Duration
	// Now is the clock: timestamps of points without one, and staleness
	// (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	c.MaxSeries = cmp.Or(c.MaxSeries, 10_000)
	c.MaxSetsPerMetric = cmp.Or(c.MaxSetsPerMetric, 1_000)
	c.MaxBuckets = cmp.Or(c.MaxBuckets, 1_024)
	c.MaxStoredBuckets = cmp.Or(c.MaxStoredBuckets, 1<<20)
	c.StaleAfter = cmp.Or(c.StaleAfter, 15*time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	var errs []error
	if !cwmetric.ValidMetricName(c.Namespace) || c.Namespace[0] == ':' || strings.HasPrefix(c.Namespace, "AWS/") {
		errs = append(errs, fmt.Errorf("otelcw: namespace %q: 1..255 printable ASCII characters, not starting with ':' or \"AWS/\"", c.Namespace))
	}
	for _, d := range c.ResourceDimensions {
		if !cwmetric.ValidDimensionName(d) {
			errs = append(errs, fmt.Errorf("otelcw: resource dimension %q is not a valid CloudWatch dimension name", d))
		}
	}
	if c.MaxSeries < 1 || c.MaxSetsPerMetric < 1 || c.MaxBuckets < 1 || c.MaxStoredBuckets < c.MaxBuckets || c.StaleAfter <= 0 {
		errs = append(errs, errors.New("otelcw: limits must be positive (MaxStoredBuckets at least MaxBuckets)"))
	}
	return errors.Join(errs...)
}

// Result is what one request gave.
type Result struct {
	DataPoints int // OTLP data points in the request
	Points     int // CloudWatch points made
	Baselines  int // first cumulative points of a series: baselines, no value
	Dropped    [len(reasonIndex)]int
	// First is the first drop's error, for the client's message.
	First error
}

// Drops returns how many data points were dropped, in all.
func (r *Result) Drops() int {
	n := 0
	for _, d := range r.Dropped {
		n += d
	}
	return n
}

// DroppedFor returns how many data points were dropped for reason.
func (r *Result) DroppedFor(reason Reason) int {
	for i, x := range reasonIndex {
		if x == reason {
			return r.Dropped[i]
		}
	}
	return 0
}

var reasonIndex = [...]Reason{NonFinite, NegativeValue, NoRecordedValue, BadHistogram, TooManyBuckets, BadTemporality,
	Stale, Summary, NoData, BadMetricName, UnsupportedAttribute, BadDimensionName, BadDimensionValue,
	DuplicateDimension, TooManyDimensions, CardinalityLimit, SeriesLimit}

func (r *Result) drop(reason Reason, n int, detail string) {
	for i, x := range reasonIndex {
		if x == reason {
			r.Dropped[i] += n
		}
	}
	if r.First == nil {
		r.First = fmt.Errorf("%s: %s", reason, detail)
	}
}

// Translator turns OTLP metric requests into CloudWatch points, keeping
// what cumulative series need between requests. It is safe for concurrent
// use; requests are translated one at a time.
type Translator struct {
	cfg Config

	mu        sync.Mutex
	series    map[string]*series
	perMetric map[string]int
	buckets   int // stored by baselines
	gen       uint64
	lastSweep time.Time
	undo      []undo
	req       request // per-request scratch
}

// New checks cfg and returns a Translator.
func New(cfg Config) (*Translator, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Translator{cfg: cfg, series: map[string]*series{}, perMetric: map[string]int{}}, nil
}

// Translate translates req and hands the points to deliver, which must
// take them all or return an error. The cumulative baselines the request
// moves are kept only when deliver succeeds (or there was nothing to
// deliver): when deliver refuses, the client resends the request and its
// deltas are computed again from the same baselines, so nothing is lost
// or counted twice. deliver is called with the Translator locked; pts is
// only valid during the call. Translate returns deliver's error.
func (t *Translator) Translate(req *colmetricpb.ExportMetricsServiceRequest, deliver func(pts []cwmetric.Point) error) (Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	t.undo = t.undo[:0]
	now := t.cfg.Now()
	r := &t.req
	r.reset(now, t.cfg.Namespace)
	var res Result
	for _, rm := range req.GetResourceMetrics() {
		r.resource(rm.GetResource().GetAttributes(), t.cfg.ResourceDimensions)
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				t.metric(r, m, &res)
			}
		}
	}
	defer r.release()
	res.Points = len(r.points)
	if len(r.points) > 0 {
		if err := deliver(r.points); err != nil {
			t.rollback()
			return res, err
		}
	}
	return res, nil
}

// metric translates one metric's data points.
func (t *Translator) metric(r *request, m *metricspb.Metric, res *Result) {
	n := dataPoints(m)
	res.DataPoints += n
	name := m.GetName()
	if !cwmetric.ValidMetricName(name) {
		res.drop(BadMetricName, n, fmt.Sprintf("metric name %q", cut(name)))
		return
	}
	unit := Unit(m.GetUnit())
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		for _, dp := range d.Gauge.GetDataPoints() {
			t.number(r, res, name, unit, dp, kindGauge)
		}
	case *metricspb.Metric_Sum:
		kind := kindGauge
		switch d.Sum.GetAggregationTemporality() {
		case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA:
			kind = kindDelta
			if d.Sum.GetIsMonotonic() {
				kind = kindMonotonicDelta
			}
		case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE:
			if d.Sum.GetIsMonotonic() {
				kind = kindCounter
			}
		default:
			res.drop(BadTemporality, n, fmt.Sprintf("sum %q has no temporality", cut(name)))
			return
		}
		for _, dp := range d.Sum.GetDataPoints() {
			t.number(r, res, name, unit, dp, kind)
		}
	case *metricspb.Metric_Histogram:
		cumulative, ok := temporality(d.Histogram.GetAggregationTemporality())
		if !ok {
			res.drop(BadTemporality, n, fmt.Sprintf("histogram %q has no temporality", cut(name)))
			return
		}
		for _, dp := range d.Histogram.GetDataPoints() {
			t.histogram(r, res, name, unit, dp, cumulative)
		}
	case *metricspb.Metric_ExponentialHistogram:
		cumulative, ok := temporality(d.ExponentialHistogram.GetAggregationTemporality())
		if !ok {
			res.drop(BadTemporality, n, fmt.Sprintf("exponential histogram %q has no temporality", cut(name)))
			return
		}
		for _, dp := range d.ExponentialHistogram.GetDataPoints() {
			t.exponential(r, res, name, unit, dp, cumulative)
		}
	case *metricspb.Metric_Summary:
		res.drop(Summary, n, fmt.Sprintf("summary %q: summaries are not translated to CloudWatch", cut(name)))
	default:
		res.drop(NoData, max(n, 1), fmt.Sprintf("metric %q has no data", cut(name)))
	}
}

func temporality(t metricspb.AggregationTemporality) (cumulative, ok bool) {
	switch t {
	case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA:
		return false, true
	case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE:
		return true, true
	}
	return false, false
}

func dataPoints(m *metricspb.Metric) int {
	return len(m.GetGauge().GetDataPoints()) + len(m.GetSum().GetDataPoints()) +
		len(m.GetHistogram().GetDataPoints()) + len(m.GetExponentialHistogram().GetDataPoints()) +
		len(m.GetSummary().GetDataPoints())
}

// cut shortens s for a message.
func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

const noRecordedValue = uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
