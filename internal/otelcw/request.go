package otelcw

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
)

// request is the scratch space of one Translate call. Points' Dims,
// Values and Counts are cut from its arenas; when an arena grows, the
// slices cut before keep the old array, so they stay valid.
type request struct {
	ns      string
	nowMs   int64
	now     time.Time
	resDims []cwmetric.Dim
	points  []cwmetric.Point
	dims    []cwmetric.Dim
	floats  []float64
	stats   []cwmetric.Stats
	u64     []uint64
	key     []byte
	hist    hist
}

func (r *request) reset(now time.Time, ns string) {
	r.now, r.nowMs, r.ns = now, now.UnixMilli(), ns
	r.points = r.points[:0]
	r.dims = r.dims[:0]
	r.floats = r.floats[:0]
	r.stats = r.stats[:0]
	r.u64 = r.u64[:0]
}

// release drops the references to the request's strings.
func (r *request) release() {
	clear(r.points)
	clear(r.dims)
	clear(r.resDims)
	r.points, r.dims, r.resDims = r.points[:0], r.dims[:0], r.resDims[:0]
}

// resource sets the dimensions a resource gives its points: service.name
// as Service, and the attributes named in keep under their names.
// Attributes that are not text-like or break CloudWatch's rules are left
// out here (the resource is not the points' fault).
func (r *request) resource(attrs []*commonpb.KeyValue, keep []string) {
	clear(r.resDims)
	r.resDims = r.resDims[:0]
	for _, kv := range attrs {
		name := kv.GetKey()
		if name == "service.name" {
			name = redmetric.Service
		} else if !slices.Contains(keep, name) {
			continue
		}
		v, ok := attrText(kv.GetValue())
		if !ok || !cwmetric.ValidDimensionValue(v) || hasDim(r.resDims, name) {
			continue
		}
		r.resDims = append(r.resDims, cwmetric.Dim{Name: name, Value: v})
	}
}

func hasDim(ds []cwmetric.Dim, name string) bool {
	for _, d := range ds {
		if d.Name == name {
			return true
		}
	}
	return false
}

// pointDims returns a point's dimensions (its attributes, then the
// resource's it does not override), sorted by name, or why they break
// CloudWatch's rules.
func (r *request) pointDims(attrs []*commonpb.KeyValue) ([]cwmetric.Dim, Reason, string) {
	if len(attrs) > cwmetric.MaxDimensions {
		return nil, TooManyDimensions, strconv.Itoa(len(attrs)) + " attributes"
	}
	start := len(r.dims)
	for _, kv := range attrs {
		name := kv.GetKey()
		v, ok := attrText(kv.GetValue())
		switch {
		case !ok:
			r.dims = r.dims[:start]
			return nil, UnsupportedAttribute, "attribute " + strconv.Quote(cut(name)) + " is not a non-empty string, number or boolean"
		case !cwmetric.ValidDimensionName(name):
			r.dims = r.dims[:start]
			return nil, BadDimensionName, "attribute name " + strconv.Quote(cut(name))
		case !cwmetric.ValidDimensionValue(v):
			r.dims = r.dims[:start]
			return nil, BadDimensionValue, "attribute " + strconv.Quote(cut(name)) + " value " + strconv.Quote(cut(v))
		}
		r.dims = append(r.dims, cwmetric.Dim{Name: name, Value: v})
	}
	own := r.dims[start:]
	for _, d := range r.resDims {
		if !hasDim(own, d.Name) {
			r.dims = append(r.dims, d)
		}
	}
	dims := r.dims[start:len(r.dims):len(r.dims)]
	if len(dims) > cwmetric.MaxDimensions {
		r.dims = r.dims[:start]
		return nil, TooManyDimensions, strconv.Itoa(len(dims)) + " dimensions with the resource's"
	}
	slices.SortFunc(dims, func(a, b cwmetric.Dim) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(dims); i++ {
		if dims[i].Name == dims[i-1].Name {
			r.dims = r.dims[:start]
			return nil, DuplicateDimension, "attribute " + strconv.Quote(cut(dims[i].Name)) + " twice"
		}
	}
	return dims, "", ""
}

// attrText renders a scalar attribute value as a dimension value.
func attrText(v *commonpb.AnyValue) (string, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue, x.StringValue != ""
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue), true
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10), true
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return "", false
		}
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64), true
	}
	return "", false
}

// seriesKey is a series' identity: metric, unit, kind and dimensions
// (sorted), in r.key until the next call.
func (r *request) seriesKey(name, unit string, k kind, dims []cwmetric.Dim) []byte {
	b := append(r.key[:0], name...)
	b = append(b, 0)
	b = append(b, unit...)
	b = append(b, 0, byte(k))
	for _, d := range dims {
		b = append(b, d.Name...)
		b = append(b, 1)
		b = append(b, d.Value...)
		b = append(b, 0)
	}
	r.key = b
	return b
}

// floats cuts n floats from the arena.
func (r *request) floatsN(n int) []float64 {
	start := len(r.floats)
	r.floats = slices.Grow(r.floats, n)[:start+n]
	return r.floats[start : start+n : start+n]
}

// emit adds a point of values (with counts, or nil) or a statistic set.
func (r *request) emit(name, unit string, dims []cwmetric.Dim, timeNs uint64, values, counts []float64, stats *cwmetric.Stats) {
	ms := r.nowMs
	if timeNs != 0 {
		ms = int64(timeNs / 1e6)
	}
	r.points = append(r.points, cwmetric.Point{Namespace: r.ns, Name: name, Unit: unit, Resolution: 60, Dims: dims,
		TimestampMs: ms, Values: values, Counts: counts, Stats: stats})
}

func (r *request) statSet(s cwmetric.Stats) *cwmetric.Stats {
	r.stats = append(r.stats, s)
	return &r.stats[len(r.stats)-1]
}

// u64N cuts n uint64s from the arena.
func (r *request) u64N(n int) []uint64 {
	start := len(r.u64)
	r.u64 = slices.Grow(r.u64, n)[:start+n]
	return r.u64[start : start+n : start+n]
}

type commonKV = commonpb.KeyValue
