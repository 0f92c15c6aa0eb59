package metrics

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emf"
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

// addPoint aggregates one point; the caller holds p.mu.
func (p *Pipeline) addPoint(pt *emf.Point) {
	p.points.Add(uint64(len(pt.Values)))
	if bytes.HasPrefix(pt.Namespace, []byte("AWS/")) {
		p.dropped["reserved_namespace"].Add(uint64(len(pt.Values)))
		return
	}
	if pt.TimestampMs < p.nowMs-maxPastMs || pt.TimestampMs > p.nowMs+maxFutureMs {
		p.dropped["timestamp_out_of_range"].Add(uint64(len(pt.Values)))
		return
	}
	for _, v := range pt.Values {
		if math.Abs(v) > maxAbs || math.IsNaN(v) {
			p.dropped["out_of_range"].Add(uint64(len(pt.Values)))
			return
		}
	}
	res := int64(pt.Resolution)
	bucket := (pt.TimestampMs / 1000) / res * res
	key := p.keyBuf[:0]
	key = append(key, pt.Namespace...)
	key = append(key, 0)
	key = append(key, pt.Name...)
	key = append(key, 0)
	key = append(key, pt.Unit...)
	key = append(key, 0)
	key = binary.BigEndian.AppendUint64(key, uint64(bucket))
	key = binary.BigEndian.AppendUint16(key, uint16(res))
	// Dimensions in name order, so the same set in another order matches.
	p.dimIdx = p.dimIdx[:0]
	for i := range pt.Dims {
		p.dimIdx = append(p.dimIdx, i)
	}
	slices.SortFunc(p.dimIdx, func(a, b int) int { return bytes.Compare(pt.Dims[a].Name, pt.Dims[b].Name) })
	if problem := dimensionProblem(pt.Dims, p.dimIdx); problem != "" {
		p.dropped[problem].Add(uint64(len(pt.Values)))
		if p.dimLog.Allow(time.Now(), 10*time.Second) {
			p.cfg.Logger.Warn("EMF point dropped: CloudWatch would refuse its dimensions", "reason", problem,
				"namespace", string(pt.Namespace), "metric", string(pt.Name))
		}
		return
	}
	for _, i := range p.dimIdx {
		key = append(key, pt.Dims[i].Name...)
		key = append(key, 1)
		key = append(key, pt.Dims[i].Value...)
		key = append(key, 0)
	}
	p.keyBuf = key
	s, ok := p.agg[string(key)]
	if !ok {
		size := int64(len(key)*2 + seriesOverhead)
		if !p.q.Hold(size) {
			p.dropped["budget_full"].Add(uint64(len(pt.Values)))
			p.requestFlush()
			return
		}
		s = p.newSeries(pt, bucket, size)
		p.agg[string(key)] = s
	}
	for _, v := range pt.Values {
		s.n++
		s.sum += v
		s.min = min(s.min, v)
		s.max = max(s.max, v)
		if s.counts == nil {
			continue
		}
		if _, seen := s.counts[v]; !seen {
			if len(s.counts) >= p.cfg.MaxDistinctValues || !p.q.Hold(valueOverhead) {
				// Too many distinct values: keep only the statistic set.
				p.q.Unhold(int64(len(s.counts)) * valueOverhead)
				s.size -= int64(len(s.counts)) * valueOverhead
				s.counts = nil
				p.statSets.Add(1)
				continue
			}
			s.size += valueOverhead
		}
		s.counts[v]++
	}
}

func (p *Pipeline) newSeries(pt *emf.Point, bucket int64, size int64) *series {
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
		if len(s.datum.Dimensions) >= emf.MaxDimensions || hasDim(s.datum.Dimensions, extra.Name) {
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
