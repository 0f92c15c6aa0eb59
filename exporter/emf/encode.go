package emf

import (
	"strconv"
	"strings"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// encodeLocked appends the document for chunks:
//
//	{"_aws":{"Timestamp":…,"LogGroupName":…,"LogStreamName":…,
//	 "CloudWatchMetrics":[{"Namespace":…,"Dimensions":[[…]],"Metrics":[…]}]},
//	 dimension values…, properties…, metric values…}
//
// Every target the directive references is written at the root.
func (l *Logger) encodeLocked(b []byte, ts time.Time, chunks []chunk) []byte {
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, ts.UnixMilli(), 10)
	if l.cfg.logGroup != "" {
		b = append(b, `,"LogGroupName":`...)
		b = jsonenc.AppendString(b, l.cfg.logGroup)
	}
	if l.cfg.logStream != "" {
		b = append(b, `,"LogStreamName":`...)
		b = jsonenc.AppendString(b, l.cfg.logStream)
	}
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = appendASCII(b, l.namespace)
	b = append(b, `,"Dimensions":[`...)
	var defaults []Dimension
	if l.useDefaults {
		defaults = l.cfg.defaultDims
	}
	if len(l.setEnds) == 0 {
		b = appendNames(b, defaults, nil)
	}
	start := 0
	for i, end := range l.setEnds {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNames(b, defaults, l.dims[start:end])
		start = end
	}
	b = append(b, `],"Metrics":[`...)
	for i, p := range chunks {
		m := &l.metrics[p.m]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = appendASCII(b, m.name)
		b = append(b, `,"Unit":"`...)
		b = append(b, m.unit...)
		b = append(b, '"')
		if m.res == High {
			b = append(b, `,"StorageResolution":1`...)
		}
		b = append(b, '}')
	}
	b = append(b, `]}]}`...)
	for _, d := range defaults {
		b = appendKey(b, d.Name)
		b = appendASCII(b, d.Value)
	}
	// A dimension in several sets has one value; write it once.
	for i, d := range l.dims {
		if !firstName(l.dims[:i], d.Name) {
			continue
		}
		b = appendKey(b, d.Name)
		b = appendASCII(b, d.Value)
	}
	for i := range l.props {
		p := &l.props[i]
		b = appendKey(b, p.key)
		switch p.kind {
		case 's':
			b = jsonenc.AppendString(b, p.s)
		case 'n':
			b = appendFloat(b, p.n)
		default:
			b = append(b, p.raw...)
		}
	}
	for _, p := range chunks {
		m := &l.metrics[p.m]
		b = appendKey(b, m.name)
		lo := int(p.n) * maxValuesPerMetric
		hi := min(lo+maxValuesPerMetric, len(m.values))
		if hi-lo == 1 {
			b = appendFloat(b, m.values[lo])
			continue
		}
		b = append(b, '[')
		for j, v := range m.values[lo:hi] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func firstName(before []Dimension, name string) bool {
	for _, d := range before {
		if d.Name == name {
			return false
		}
	}
	return true
}

func appendNames(b []byte, a, c []Dimension) []byte {
	b = append(b, '[')
	for i, d := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendASCII(b, d.Name)
	}
	for i, d := range c {
		if i > 0 || len(a) > 0 {
			b = append(b, ',')
		}
		b = appendASCII(b, d.Name)
	}
	return append(b, ']')
}

// appendASCII appends s as a JSON string. Names, dimension values and the
// namespace are validated printable ASCII, where only '"' and '\\' need
// escaping: the common case is a plain copy.
func appendASCII(b []byte, s string) []byte {
	if strings.IndexByte(s, '"') >= 0 || strings.IndexByte(s, '\\') >= 0 {
		return jsonenc.AppendString(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendKey appends ,"key": for a validated printable ASCII key.
func appendKey(b []byte, key string) []byte {
	b = append(b, ',')
	b = appendASCII(b, key)
	return append(b, ':')
}
