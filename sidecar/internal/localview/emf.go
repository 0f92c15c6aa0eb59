package localview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emf"
)

type emfAWS struct {
	Timestamp         *json.Number `json:"Timestamp"`
	CloudWatchMetrics []struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []struct {
			Name string `json:"Name"`
			Unit string `json:"Unit"`
		} `json:"Metrics"`
	} `json:"CloudWatchMetrics"`
}

// emfPoint is one metric's values from one EMF document, for one dimension set.
type emfPoint struct {
	key       string // series key
	namespace string
	name      string
	unit      string
	dims      []dim
	values    []float64
}

type dim struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// emfParsed is what the store keeps of one EMF document.
type emfParsed struct {
	ts       int64 // unix milliseconds
	points   []emfPoint
	traceIDs []string
}

// Limits: the specification's (dimensions per set, metrics per document)
// and the sidecar's own bounds on the work of one document (dimension
// sets per directive, points, bytes the points carry), shared with its
// parser so both modes refuse the same documents for the same reasons.
const (
	maxTraceIDsPerDoc = 16
	maxDimsPerSet     = emf.MaxDimensions
	maxDimSets        = emf.MaxDimensionSets
	maxMetricsPerDoc  = emf.MaxMetrics
	maxPointsPerDoc   = emf.MaxPoints
	maxVolumePerDoc   = emf.MaxVolume
)

// parseEMF decodes and checks one EMF document.
func parseEMF(doc []byte) (*emfParsed, error) { return parseEMFCounting(doc, nil) }

// emfDecoder decodes the root members a document's directives name, each
// at most once however many references name it, so parsing stays linear
// in the document. work, when set, counts the bytes it decodes.
type emfDecoder struct {
	root   map[string]json.RawMessage
	dims   map[string]string
	values map[string][]float64
	work   *int
}

func (d *emfDecoder) dimension(k string) (string, bool) {
	if v, ok := d.dims[k]; ok {
		return v, v != ""
	}
	var v string
	raw := d.root[k]
	d.count(len(raw))
	if err := json.Unmarshal(raw, &v); err != nil {
		v = ""
	}
	d.dims[k] = v
	return v, v != ""
}

func (d *emfDecoder) metric(name string) ([]float64, error) {
	if vs, ok := d.values[name]; ok {
		return vs, nil
	}
	raw := d.root[name]
	d.count(len(raw))
	vs, err := metricValues(raw)
	if err == nil {
		d.values[name] = vs
	}
	return vs, err
}

func (d *emfDecoder) count(n int) {
	if d.work != nil {
		*d.work += n
	}
}

// parseEMFCounting is parseEMF; work, when not nil, receives the bytes of
// root values decoded (for the linear-time test).
func parseEMFCounting(doc []byte, work *int) (*emfParsed, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || doc[0] != '{' {
		return nil, errNotObject
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	rawAWS, ok := root["_aws"]
	if !ok {
		return nil, errors.New("no _aws member")
	}
	var meta emfAWS
	if err := json.Unmarshal(rawAWS, &meta); err != nil {
		return nil, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil {
		return nil, errors.New("_aws.Timestamp missing")
	}
	ts, err := meta.Timestamp.Int64()
	if err != nil || ts < 0 {
		return nil, fmt.Errorf("_aws.Timestamp %q is not a non-negative integer of milliseconds", truncate(meta.Timestamp.String()))
	}
	if len(meta.CloudWatchMetrics) == 0 {
		return nil, errors.New("_aws.CloudWatchMetrics is empty")
	}
	dec := &emfDecoder{root: root, dims: map[string]string{}, values: map[string][]float64{}, work: work}
	p := &emfParsed{ts: ts}
	seen := map[string]bool{}
	metrics, points, volume := 0, 0, 0
	type set struct {
		dims []dim
		key  string // the dimensions' part of the series key
	}
	var sets []set
	for _, dir := range meta.CloudWatchMetrics {
		if strings.TrimSpace(dir.Namespace) == "" || len(dir.Namespace) > 255 {
			return nil, fmt.Errorf("namespace %q is empty or over 255 characters", truncate(dir.Namespace))
		}
		if metrics += len(dir.Metrics); metrics > maxMetricsPerDoc {
			return nil, fmt.Errorf("more than %d metrics in the document", maxMetricsPerDoc)
		}
		dimSets := dir.Dimensions
		if len(dimSets) == 0 {
			dimSets = [][]string{nil}
		}
		if len(dimSets) > maxDimSets {
			return nil, fmt.Errorf("%d dimension sets in a directive (at most %d)", len(dimSets), maxDimSets)
		}
		if points += len(dimSets) * len(dir.Metrics); points > maxPointsPerDoc {
			return nil, fmt.Errorf("more than %d points (metrics times dimension sets) in the document", maxPointsPerDoc)
		}
		sets = sets[:0]
		for _, names := range dimSets {
			if len(names) > maxDimsPerSet {
				return nil, fmt.Errorf("dimension set of %d keys (at most %d)", len(names), maxDimsPerSet)
			}
			dims := make([]dim, 0, len(names))
			for _, k := range names {
				v, ok := dec.dimension(k)
				if !ok {
					return nil, fmt.Errorf("dimension %q is not a non-empty string at the root", truncate(k))
				}
				dims = append(dims, dim{k, v})
			}
			slices.SortFunc(dims, func(a, b dim) int { return strings.Compare(a.Key, b.Key) })
			sets = append(sets, set{dims: dims, key: dimsKey(dims)})
		}
		for _, m := range dir.Metrics {
			if m.Name == "" || len(m.Name) > 255 {
				return nil, fmt.Errorf("metric name %q is empty or over 255 characters", truncate(m.Name))
			}
			values, err := dec.metric(m.Name)
			if err != nil {
				return nil, fmt.Errorf("metric %q: %w", truncate(m.Name), err)
			}
			for _, st := range sets {
				if volume += len(dir.Namespace) + len(m.Name) + len(st.key); volume > maxVolumePerDoc {
					return nil, fmt.Errorf("the points would carry more than %d bytes of names and dimensions", maxVolumePerDoc)
				}
				key := dir.Namespace + "\x00" + m.Name + st.key
				if seen[key] {
					continue
				}
				seen[key] = true
				p.points = append(p.points, emfPoint{key: key, namespace: dir.Namespace, name: m.Name, unit: m.Unit, dims: st.dims, values: values})
			}
		}
	}
	p.traceIDs = traceIDsIn(root)
	return p, nil
}

func metricValues(raw json.RawMessage) ([]float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("not present at the root")
	}
	if raw[0] == '[' {
		var vs []float64
		if err := json.Unmarshal(raw, &vs); err != nil {
			return nil, errors.New("values are not an array of numbers")
		}
		if len(vs) == 0 || len(vs) > 100 {
			return nil, fmt.Errorf("%d values (1 to 100 allowed)", len(vs))
		}
		return vs, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, errors.New("value is not a number or an array of numbers")
	}
	return []float64{v}, nil
}

// dimsKey is the dimensions' part of a series key.
func dimsKey(dims []dim) string {
	var b strings.Builder
	for _, d := range dims {
		b.WriteByte(0)
		b.WriteString(d.Key)
		b.WriteByte(1)
		b.WriteString(d.Value)
	}
	return b.String()
}

// traceIDsIn finds X-Ray trace IDs among the document's root properties:
// any string that is a trace ID or a trace header holding one (Root=…), and
// arrays of such strings, whatever the property is called (TraceId,
// traceId, trace_id, TraceIds, …).
func traceIDsIn(root map[string]json.RawMessage) []string {
	var ids []string
	add := func(s string) {
		if id, ok := traceIDOf(s); ok && len(ids) < maxTraceIDsPerDoc && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	keys := make([]string, 0, len(root))
	for k := range root {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic order
	for _, k := range keys {
		v := bytes.TrimSpace(root[k])
		if len(v) == 0 {
			continue
		}
		switch v[0] {
		case '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				add(s)
			}
		case '[':
			var ss []json.RawMessage
			if json.Unmarshal(v, &ss) == nil {
				for _, e := range ss {
					var s string
					if json.Unmarshal(e, &s) == nil {
						add(s)
					}
				}
			}
		}
	}
	return ids
}

// traceIDOf accepts "1-…-…" or an X-Amzn-Trace-Id header value with Root=.
func traceIDOf(s string) (string, bool) {
	if isTraceID(s) {
		return strings.ToLower(s), true
	}
	if i := strings.Index(s, "Root="); i >= 0 && len(s) >= i+5+35 {
		if id := s[i+5 : i+5+35]; isTraceID(id) {
			return strings.ToLower(id), true
		}
	}
	return "", false
}
