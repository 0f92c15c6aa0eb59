package localview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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

const (
	maxTraceIDsPerDoc = 16
	maxDimsPerSet     = 30
)

// parseEMF decodes and checks one EMF document.
func parseEMF(doc []byte) (*emfParsed, error) {
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
	p := &emfParsed{ts: ts}
	seen := map[string]bool{}
	for _, dir := range meta.CloudWatchMetrics {
		if strings.TrimSpace(dir.Namespace) == "" || len(dir.Namespace) > 255 {
			return nil, fmt.Errorf("namespace %q is empty or over 255 characters", truncate(dir.Namespace))
		}
		sets := dir.Dimensions
		if len(sets) == 0 {
			sets = [][]string{nil}
		}
		for _, m := range dir.Metrics {
			if m.Name == "" || len(m.Name) > 255 {
				return nil, fmt.Errorf("metric name %q is empty or over 255 characters", truncate(m.Name))
			}
			values, err := metricValues(root[m.Name])
			if err != nil {
				return nil, fmt.Errorf("metric %q: %w", truncate(m.Name), err)
			}
			for _, set := range sets {
				if len(set) > maxDimsPerSet {
					return nil, fmt.Errorf("dimension set of %d keys (at most %d)", len(set), maxDimsPerSet)
				}
				dims := make([]dim, 0, len(set))
				for _, k := range set {
					var v string
					if err := json.Unmarshal(root[k], &v); err != nil || v == "" {
						return nil, fmt.Errorf("dimension %q is not a non-empty string at the root", truncate(k))
					}
					dims = append(dims, dim{k, v})
				}
				slices.SortFunc(dims, func(a, b dim) int { return strings.Compare(a.Key, b.Key) })
				key := seriesKey(dir.Namespace, m.Name, dims)
				if seen[key] {
					continue
				}
				seen[key] = true
				p.points = append(p.points, emfPoint{key: key, namespace: dir.Namespace, name: m.Name, unit: m.Unit, dims: dims, values: values})
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

func seriesKey(ns, name string, dims []dim) string {
	var b strings.Builder
	b.WriteString(ns)
	b.WriteByte(0)
	b.WriteString(name)
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
