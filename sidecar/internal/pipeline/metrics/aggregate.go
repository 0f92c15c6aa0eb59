package metrics

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// maxAbs is CloudWatch's value range, ±2^360.
var maxAbs = math.Ldexp(1, 360)

// series is one aggregate: a metric identity in one time bucket.
type series struct {
	ns     string
	datum  types.MetricDatum // name, dimensions, unit, resolution, timestamp
	counts map[float64]float64
	n      float64
	sum    float64
	min    float64
	max    float64
	size   int64 // bytes reserved in the budget
}

const (
	seriesOverhead = 256
	valueOverhead  = 48
)

// CloudWatch refuses datapoints older than two weeks or more than two
// hours in the future, and refuses the whole request with them; such
// points are dropped here instead (with an hour's margin for queueing).
const (
	maxPastMs   = (14*24 - 1) * 3600 * 1000
	maxFutureMs = 2*3600*1000 - 5*60*1000
)

// addPoint aggregates one EMF point; the caller holds p.mu.
func (p *Pipeline) addPoint(pt *emfdoc.Point) { p.add(pt, nil, nil, nil) }

// add aggregates one point: pt's values, each counts[i] times (once when
// counts is nil), or, when stats is set, a statistic set (pt.Values is then
// empty). Bytes for new aggregates and values come from *prepaid when it
// is not nil (the caller held them for the whole request), else are held
// now, and the point is dropped when they do not fit. It returns the drop
// reason, or "". The caller holds p.mu.
func (p *Pipeline) add(pt *emfdoc.Point, counts []float64, stats *cwmetric.Stats, prepaid *int64) string {
	samples := uint64(len(pt.Values))
	if stats != nil {
		samples = uint64(stats.Count)
	} else if counts != nil {
		samples = 0
		for _, c := range counts {
			samples += uint64(c)
		}
	}
	p.points.Add(samples)
	drop := func(reason string) string {
		p.dropped[reason].Add(samples)
		return reason
	}
	if bytes.HasPrefix(pt.Namespace, []byte("AWS/")) {
		return drop("reserved_namespace")
	}
	if pt.TimestampMs < p.nowMs-maxPastMs || pt.TimestampMs > p.nowMs+maxFutureMs {
		return drop("timestamp_out_of_range")
	}
	for _, v := range pt.Values {
		if !inRange(v) {
			return drop("out_of_range")
		}
	}
	if stats != nil && !(inRange(stats.Sum) && inRange(stats.Min) && inRange(stats.Max) && stats.Count > 0 && inRange(stats.Count)) {
		return drop("out_of_range")
	}
	key, problem := p.seriesKey(pt)
	if problem != "" {
		if p.dimLog.Allow(time.Now(), 10*time.Second) {
			p.cfg.Logger.Warn("metric point dropped: CloudWatch would refuse its dimensions", "reason", problem,
				"namespace", string(pt.Namespace), "metric", string(pt.Name))
		}
		return drop(problem)
	}
	hold := func(n int64) bool {
		if prepaid != nil && *prepaid >= n {
			*prepaid -= n
			return true
		}
		return p.q.Hold(n)
	}
	s, ok := p.agg[string(key)]
	if !ok {
		size := int64(len(key)*2 + seriesOverhead)
		if !hold(size) {
			p.requestFlush()
			return drop("budget_full")
		}
		s = p.newSeries(pt, p.bucketOf(pt), size)
		p.agg[string(key)] = s
	}
	if stats != nil {
		s.toStatSet(p)
		s.n += stats.Count
		s.sum += stats.Sum
		s.min = min(s.min, stats.Min)
		s.max = max(s.max, stats.Max)
		return ""
	}
	for i, v := range pt.Values {
		c := 1.0
		if counts != nil {
			c = counts[i]
		}
		s.n += c
		s.sum += v * c
		s.min = min(s.min, v)
		s.max = max(s.max, v)
		if s.counts == nil {
			continue
		}
		if _, seen := s.counts[v]; !seen {
			if len(s.counts) >= p.cfg.MaxDistinctValues || !hold(valueOverhead) {
				// Too many distinct values: keep only the statistic set.
				s.toStatSet(p)
				continue
			}
			s.size += valueOverhead
		}
		s.counts[v] += c
	}
	return ""
}

func inRange(v float64) bool { return math.Abs(v) <= maxAbs }

// toStatSet drops s's distinct values, keeping only the statistic set.
func (s *series) toStatSet(p *Pipeline) {
	if s.counts == nil {
		return
	}
	p.q.Unhold(int64(len(s.counts)) * valueOverhead)
	s.size -= int64(len(s.counts)) * valueOverhead
	s.counts = nil
	p.statSets.Add(1)
}

func (p *Pipeline) bucketOf(pt *emfdoc.Point) int64 {
	res := int64(pt.Resolution)
	return (pt.TimestampMs / 1000) / res * res
}

// seriesKey builds pt's aggregate key in p.keyBuf (valid until the next
// call), or names the dimension rule pt breaks. The caller holds p.mu.
func (p *Pipeline) seriesKey(pt *emfdoc.Point) ([]byte, string) {
	res := int64(pt.Resolution)
	key := p.keyBuf[:0]
	key = append(key, pt.Namespace...)
	key = append(key, 0)
	key = append(key, pt.Name...)
	key = append(key, 0)
	key = append(key, pt.Unit...)
	key = append(key, 0)
	key = binary.BigEndian.AppendUint64(key, uint64(p.bucketOf(pt)))
	key = binary.BigEndian.AppendUint16(key, uint16(res))
	// Dimensions in name order, so the same set in another order matches.
	p.dimIdx = p.dimIdx[:0]
	for i := range pt.Dims {
		p.dimIdx = append(p.dimIdx, i)
	}
	slices.SortFunc(p.dimIdx, func(a, b int) int { return bytes.Compare(pt.Dims[a].Name, pt.Dims[b].Name) })
	if problem := dimensionProblem(pt.Dims, p.dimIdx); problem != "" {
		return nil, problem
	}
	for _, i := range p.dimIdx {
		key = append(key, pt.Dims[i].Name...)
		key = append(key, 1)
		key = append(key, pt.Dims[i].Value...)
		key = append(key, 0)
	}
	p.keyBuf = key
	return key, ""
}

func (p *Pipeline) newSeries(pt *emfdoc.Point, bucket int64, size int64) *series {
	s := &series{ns: string(pt.Namespace), counts: map[float64]float64{}, min: math.Inf(1), max: math.Inf(-1), size: size}
	ts := time.Unix(bucket, 0).UTC()
	s.datum = types.MetricDatum{
		MetricName:        aws.String(string(pt.Name)),
		Unit:              types.StandardUnit(pt.Unit),
		StorageResolution: aws.Int32(int32(pt.Resolution)),
		Timestamp:         &ts,
	}
	for _, d := range pt.Dims {
		s.datum.Dimensions = append(s.datum.Dimensions, types.Dimension{Name: aws.String(string(d.Name)), Value: aws.String(string(d.Value))})
	}
	for _, extra := range p.cfg.ExtraDimensions {
		if len(s.datum.Dimensions) >= emfdoc.MaxDimensions || hasDim(s.datum.Dimensions, extra.Name) {
			continue
		}
		s.datum.Dimensions = append(s.datum.Dimensions, types.Dimension{Name: aws.String(extra.Name), Value: aws.String(extra.Value)})
	}
	return s
}

func hasDim(ds []types.Dimension, name string) bool {
	for _, d := range ds {
		if aws.ToString(d.Name) == name {
			return true
		}
	}
	return false
}

// datums turns an aggregate into datums: Values/Counts in chunks of 150,
// or one statistic set.
func (s *series) datums(dst []types.MetricDatum) []types.MetricDatum {
	if s.counts == nil {
		d := s.datum
		d.StatisticValues = &types.StatisticSet{SampleCount: aws.Float64(s.n), Sum: aws.Float64(s.sum), Minimum: aws.Float64(s.min), Maximum: aws.Float64(s.max)}
		return append(dst, d)
	}
	vals := make([]float64, 0, len(s.counts))
	for v := range s.counts {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	for len(vals) > 0 {
		n := min(len(vals), maxValuesPerDatum)
		d := s.datum
		d.Values = vals[:n:n]
		d.Counts = make([]float64, n)
		for i, v := range d.Values {
			d.Counts[i] = s.counts[v]
		}
		dst = append(dst, d)
		vals = vals[n:]
	}
	return dst
}

const maxValuesPerDatum = 150

// datumSize estimates a datum's encoded size, generously.
func datumSize(d *types.MetricDatum) int {
	n := 96 + len(aws.ToString(d.MetricName)) + len(d.Unit)
	for _, dim := range d.Dimensions {
		n += 24 + len(aws.ToString(dim.Name)) + len(aws.ToString(dim.Value))
	}
	n += 18 * (len(d.Values) + len(d.Counts))
	if d.StatisticValues != nil {
		n += 80
	}
	return n
}
