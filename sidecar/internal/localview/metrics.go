package localview

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/seed-c77c9410/sidelight/internal/redmetric"
)

type metricsQuery struct {
	namespace, metric string
	bucketMS          int64 // 0 picks one from the data's span
	// group merges series: "" keeps each series, "*" sums all series of a
	// metric into one, a dimension name makes one series per value of that
	// dimension in the documents.
	group string
}

// groupAll is the group value that sums all series of a metric.
const groupAll = "*"

// groupNone is the value of a group dimension a document does not carry.
const groupNone = "(none)"

func parseMetricsQuery(v url.Values) (metricsQuery, error) {
	q := metricsQuery{namespace: v.Get("namespace"), metric: v.Get("metric"), group: v.Get("group")}
	if len(q.group) > maxNameLen {
		return q, fmt.Errorf("group %q is too long", truncate(q.group))
	}
	if b := v.Get("bucket"); b != "" {
		sec, err := strconv.ParseFloat(b, 64)
		if err != nil || !(sec >= 1 && sec <= 86400) {
			return q, fmt.Errorf("bucket %q is not a number of seconds from 1 to 86400", truncate(b))
		}
		q.bucketMS = int64(sec * 1000)
	}
	return q, nil
}

type metricSeries struct {
	Namespace  string        `json:"namespace"`
	Name       string        `json:"name"`
	Unit       string        `json:"unit,omitempty"`
	Kind       string        `json:"kind"` // latency (percentiles) or count (sums)
	Dimensions []dim         `json:"dimensions"`
	Points     []metricPoint `json:"points"`
}

type metricPoint struct {
	T        int64    `json:"t"` // bucket start, unix milliseconds
	N        int      `json:"n"` // values in the bucket
	Sum      float64  `json:"sum"`
	Min      float64  `json:"min"`
	Max      float64  `json:"max"`
	P50      float64  `json:"p50"`
	P90      float64  `json:"p90"`
	P99      float64  `json:"p99"`
	TraceIDs []string `json:"trace_ids"`
}

type metricsResult struct {
	BucketSeconds float64        `json:"bucket_seconds"`
	Start         int64          `json:"start"` // the shared time axis, unix milliseconds
	End           int64          `json:"end"`
	Group         string         `json:"group,omitempty"`
	DimensionKeys []string       `json:"dimension_keys"` // what series can be grouped by
	Series        []metricSeries `json:"series"`
}

const maxTraceIDsPerPoint = 10

var niceBuckets = []int64{1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21600, 86400}

func isTimeUnit(u string) bool {
	switch u {
	case "Seconds", "Microseconds", "Milliseconds":
		return true
	}
	return false
}

func (s *Store) metrics(q metricsQuery) metricsResult {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sel []*series
	var lo, hi int64 = math.MaxInt64, math.MinInt64
	for _, se := range s.series {
		if q.namespace != "" && se.namespace != q.namespace || q.metric != "" && se.name != q.metric {
			continue
		}
		sel = append(sel, se)
		for _, p := range se.points {
			lo, hi = min(lo, p.ts), max(hi, p.ts)
		}
	}
	bucket := q.bucketMS
	if bucket == 0 {
		bucket = niceBuckets[len(niceBuckets)-1] * 1000
		for _, b := range niceBuckets {
			if len(sel) == 0 || (hi-lo)/(b*1000) <= 60 {
				bucket = b * 1000
				break
			}
		}
	}
	slices.SortFunc(sel, func(a, b *series) int { return strings.Compare(a.key, b.key) })
	out := metricsResult{BucketSeconds: float64(bucket) / 1000, Group: q.group, Series: make([]metricSeries, 0, len(sel)), DimensionKeys: []string{}}
	if len(sel) > 0 {
		out.Start, out.End = lo-lo%bucket, hi-hi%bucket+bucket
	}
	keys := map[string]bool{}
	for _, se := range sel {
		for _, d := range se.dims {
			keys[d.Key] = true
		}
	}
	out.DimensionKeys = append(out.DimensionKeys, slices.Sorted(maps.Keys(keys))...)
	var vals []float64
	if q.group == "" {
		for _, se := range sel {
			ms := metricSeries{Namespace: se.namespace, Name: se.name, Unit: se.unit, Dimensions: se.dims}
			ms.Points, vals = s.bucketLocked(slices.Clone(se.points), bucket, vals)
			out.Series = append(out.Series, ms.withKind())
		}
		return out
	}
	// Grouped: a document's values count once per group, whichever of its
	// dimension sets (series) they came through.
	type gkey struct{ namespace, name, unit, value string }
	groups := map[gkey][]point{}
	seen := map[gkey]map[uint64]bool{}
	var order []gkey
	for _, se := range sel {
		for _, p := range se.points {
			k := gkey{se.namespace, se.name, se.unit, ""}
			if q.group != groupAll {
				k.value = groupNone
				for _, d := range p.docDims {
					if d.Key == q.group {
						k.value = d.Value
					}
				}
			}
			if seen[k] == nil {
				seen[k] = map[uint64]bool{}
				order = append(order, k)
			}
			if seen[k][p.doc] {
				continue
			}
			seen[k][p.doc] = true
			groups[k] = append(groups[k], p)
		}
	}
	slices.SortFunc(order, func(a, b gkey) int {
		return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.name, b.name), strings.Compare(a.unit, b.unit), strings.Compare(a.value, b.value))
	})
	for _, k := range order {
		ms := metricSeries{Namespace: k.namespace, Name: k.name, Unit: k.unit, Dimensions: []dim{}}
		if q.group != groupAll {
			ms.Dimensions = []dim{{Key: q.group, Value: k.value}}
		}
		ms.Points, vals = s.bucketLocked(groups[k], bucket, vals)
		out.Series = append(out.Series, ms.withKind())
	}
	return out
}

func (ms metricSeries) withKind() metricSeries {
	ms.Kind = "count"
	if isTimeUnit(ms.Unit) {
		ms.Kind = "latency"
	}
	if ms.Dimensions == nil {
		ms.Dimensions = []dim{}
	}
	return ms
}

// bucketLocked sums pts (which it sorts) into buckets of bucket
// milliseconds; vals is scratch space, returned for reuse. The caller
// holds s.mu.
func (s *Store) bucketLocked(pts []point, bucket int64, vals []float64) ([]metricPoint, []float64) {
	var out []metricPoint
	// Points arrive roughly in time order; bucket them sorted.
	slices.SortStableFunc(pts, func(a, b point) int { return cmpInt(a.ts, b.ts) })
	for i := 0; i < len(pts); {
		start := pts[i].ts - pts[i].ts%bucket
		mp := metricPoint{T: start, Min: math.Inf(1), Max: math.Inf(-1), TraceIDs: []string{}}
		vals = vals[:0]
		for ; i < len(pts) && pts[i].ts-pts[i].ts%bucket == start; i++ {
			for _, v := range pts[i].values {
				vals = append(vals, v)
				mp.Sum += v
				mp.Min, mp.Max = min(mp.Min, v), max(mp.Max, v)
			}
			for _, id := range pts[i].traceIDs {
				if len(mp.TraceIDs) < maxTraceIDsPerPoint && !slices.Contains(mp.TraceIDs, id) && s.traceOfSeriesLocked(id, pts[i].docDims) {
					mp.TraceIDs = append(mp.TraceIDs, id)
				}
			}
		}
		mp.N = len(vals)
		slices.Sort(vals)
		mp.P50, mp.P90, mp.P99 = percentile(vals, 50), percentile(vals, 90), percentile(vals, 99)
		mp.Sum, mp.Min, mp.Max = finite(mp.Sum), finite(mp.Min), finite(mp.Max)
		out = append(out, mp)
	}
	return out, vals
}

// traceOfSeriesLocked reports whether a trace named by an EMF document
// with dimensions dims is one of the document's series: a document often
// feeds several series (the Sidelight middleware writes [Service, Route,
// Method, StatusClass] and [Service]), and the service-level series
// gathers documents of every status class, so a trace the store holds is
// linked only when a segment of it agrees with the document's Service,
// Method and StatusClass dimensions (the middleware's names, from
// internal/redmetric), when the document is the HTTP middleware's (it has
// a Route). A trace not (yet) in the store is kept: it cannot
// be checked. The caller holds s.mu.
func (s *Store) traceOfSeriesLocked(id string, dims []dim) bool {
	t := s.traces[id]
	if t == nil || t.root == nil || len(dims) == 0 {
		return true
	}
	var service, method, class string
	var route bool
	for _, d := range dims {
		switch d.Key {
		case redmetric.Route:
			route = true
		case redmetric.Service:
			service = d.Value
		case redmetric.Method:
			method = d.Value
		case redmetric.StatusClass:
			class = d.Value
		}
	}
	agrees := func(d *docInfo) bool {
		return (method == "" || method == "OTHER" || d.method == "" || strings.EqualFold(d.method, method)) &&
			(class == "" || d.status == 0 || fmt.Sprintf("%dxx", d.status/100) == class)
	}
	// Only the HTTP middleware's documents (they have a Route) name traces
	// of other requests; a Lambda invocation's document (Service without
	// Route) names its own invocation's trace.
	if service == "" || !route || t.root.name == service {
		return agrees(t.root)
	}
	if t.serviceDocs[service] == 0 {
		return false
	}
	for _, d := range t.docs {
		if !d.independent && d.name == service && agrees(d) {
			return true
		}
	}
	return false
}

// percentile by nearest rank over sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// finite clamps an overflowed sum, which JSON cannot carry.
func finite(f float64) float64 {
	switch {
	case math.IsInf(f, 1):
		return math.MaxFloat64
	case math.IsInf(f, -1):
		return -math.MaxFloat64
	}
	return f
}
