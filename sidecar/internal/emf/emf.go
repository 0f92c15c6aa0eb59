package emf

import (
	"bytes"
	"errors"
	"math"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/jsonscan"
)

// Reason names why a document was refused; the set is fixed.
type Reason string

// Rejection reasons.
const (
	OK               Reason = ""
	NotJSON          Reason = "not_json"
	NotObject        Reason = "not_object"
	NoAWS            Reason = "no_aws"
	BadTimestamp     Reason = "bad_timestamp"
	BadDirective     Reason = "bad_directive"
	BadName          Reason = "bad_name"
	BadUnit          Reason = "bad_unit"
	BadResolution    Reason = "bad_resolution"
	MissingDimension Reason = "missing_dimension"
	MissingMetric    Reason = "missing_metric"
	BadMetricValue   Reason = "bad_metric_value"
	TooManyMetrics   Reason = "too_many_metrics"
	TooLarge         Reason = "too_large"
)

// Reasons lists every rejection reason.
var Reasons = []Reason{NotJSON, NotObject, NoAWS, BadTimestamp, BadDirective, BadName, BadUnit, BadResolution,
	MissingDimension, MissingMetric, BadMetricValue, TooManyMetrics, TooLarge}

// Limits from the specification and the CloudWatch API.
const (
	MaxMetrics       = 100
	MaxValues        = 100
	MaxDimensions    = 30
	MaxNameLen       = 255
	MaxDimNameLen    = 250
	MaxDimValueLen   = 1024
	MaxDocumentBytes = 1 << 20
)

// Dim is one dimension of a point.
type Dim struct{ Name, Value []byte }

// Point is one metric of one dimension set of one document. Its slices
// are only valid during the callback.
type Point struct {
	Namespace   []byte
	Name        []byte
	Unit        string // canonical CloudWatch unit; "None" when absent
	Resolution  int    // 60 or 1
	Dims        []Dim  // in the order the dimension set lists them
	Values      []float64
	TimestampMs int64
}

// Meta is the document-level information the logs pipeline needs.
type Meta struct {
	TimestampMs   int64
	LogGroupName  []byte // from _aws.LogGroupName, nil when absent
	LogStreamName []byte
}

type member struct{ key, val []byte }

// Parser parses documents, reusing its buffers. A Parser is not safe for
// concurrent use; the zero value is ready.
type Parser struct {
	members []member
	scratch []byte
	dims    []Dim
	values  []float64
	pt      Point
	offs    []int
}

var errStop = errors.New("stop")

// Parse checks doc and calls fn (which may be nil) for every point it
// holds. It returns OK or the reason doc was refused; when refused, fn
// has not been called.
func (p *Parser) Parse(doc []byte, fn func(*Point)) (Meta, Reason) {
	var meta Meta
	if len(doc) > MaxDocumentBytes {
		return meta, TooLarge
	}
	p.members = p.members[:0]
	var awsRaw []byte
	err := jsonscan.Object(doc, func(k, v []byte) error {
		if string(k) == "_aws" {
			awsRaw = v
		}
		p.members = append(p.members, member{k, v})
		return nil
	})
	switch err {
	case nil:
	case jsonscan.ErrNotObject:
		return meta, NotObject
	default:
		return meta, NotJSON
	}
	if len(awsRaw) == 0 || awsRaw[0] != '{' {
		return meta, NoAWS
	}
	var ts, directives []byte
	escaped := false
	_ = jsonscan.Members(awsRaw, func(k, v []byte) error {
		escaped = escaped || bytes.IndexByte(k, '\\') >= 0
		switch string(k) {
		case "Timestamp":
			ts = v
		case "CloudWatchMetrics":
			directives = v
		case "LogGroupName":
			meta.LogGroupName = v
		case "LogStreamName":
			meta.LogStreamName = v
		}
		return nil
	})
	if escaped {
		return meta, BadDirective // escaped metadata keys: refuse rather than guess
	}
	if ts == nil || !isInteger(ts) {
		return meta, BadTimestamp
	}
	f, ok := jsonscan.Number(ts)
	if !ok || f < 0 || f > 1<<53 {
		return meta, BadTimestamp
	}
	meta.TimestampMs = int64(f)
	if directives == nil || directives[0] != '[' {
		return meta, BadDirective
	}
	// Two passes: validate everything, then emit, so fn never sees a
	// refused document.
	if r := p.walk(directives, meta.TimestampMs, nil); r != OK {
		return meta, r
	}
	if fn != nil {
		p.walk(directives, meta.TimestampMs, fn)
	}
	return meta, OK
}

// lookup returns the last root member named name (decoded), or nil.
func (p *Parser) lookup(name []byte) []byte {
	for i := len(p.members) - 1; i >= 0; i-- {
		k := p.members[i].key
		if bytes.Equal(k, name) || (bytes.IndexByte(k, '\\') >= 0 && p.keyEqual(k, name)) {
			return p.members[i].val
		}
	}
	return nil
}

func (p *Parser) keyEqual(rawKey, name []byte) bool {
	n := len(p.scratch)
	dec, _ := jsonscan.AppendString(p.scratch, append(append([]byte{'"'}, rawKey...), '"'))
	eq := bytes.Equal(dec[n:], name)
	p.scratch = dec[:n]
	return eq
}

func isInteger(v []byte) bool {
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return false
	}
	f, ok := jsonscan.Number(v)
	return ok && f == math.Trunc(f)
}

// walk validates (fn == nil) or emits the directives.
func (p *Parser) walk(directives []byte, ts int64, fn func(*Point)) Reason {
	reason := OK
	metrics := 0
	err := jsonscan.Elements(directives, func(d []byte) error {
		if d[0] != '{' {
			reason = BadDirective
			return errStop
		}
		var ns, dimSets, defs []byte
		escaped := false
		_ = jsonscan.Members(d, func(k, v []byte) error {
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
			switch string(k) {
			case "Namespace":
				ns = v
			case "Dimensions":
				dimSets = v
			case "Metrics":
				defs = v
			}
			return nil
		})
		if escaped || ns == nil || dimSets == nil || defs == nil || dimSets[0] != '[' || defs[0] != '[' || ns[0] != '"' {
			reason = BadDirective
			return errStop
		}
		p.scratch = p.scratch[:0]
		var ok bool
		p.scratch, ok = jsonscan.AppendString(p.scratch, ns)
		nsEnd := len(p.scratch)
		if !ok || !goodName(p.scratch[:nsEnd], MaxNameLen) {
			reason = BadName
			return errStop
		}
		nSets := 0
		// Each dimension set.
		err := jsonscan.Elements(dimSets, func(set []byte) error {
			nSets++
			if set[0] != '[' {
				reason = BadDirective
				return errStop
			}
			p.dims = p.dims[:0]
			p.offs = p.offs[:0]
			mark := len(p.scratch)
			err := jsonscan.Elements(set, func(ref []byte) error {
				start := len(p.scratch)
				var ok bool
				p.scratch, ok = jsonscan.AppendString(p.scratch, ref)
				if !ok || !goodName(p.scratch[start:], MaxDimNameLen) {
					reason = BadName
					return errStop
				}
				val := p.lookup(p.scratch[start:])
				if val == nil {
					reason = MissingDimension
					return errStop
				}
				vs := len(p.scratch)
				p.scratch, ok = jsonscan.AppendString(p.scratch, val)
				if !ok || len(p.scratch) == vs || len(p.scratch)-vs > MaxDimValueLen || hasControl(p.scratch[vs:]) {
					reason = MissingDimension
					return errStop
				}
				p.offs = append(p.offs, start, vs, len(p.scratch))
				return nil
			})
			if err != nil {
				return err
			}
			if len(p.offs)/3 > MaxDimensions {
				reason = BadDirective
				return errStop
			}
			for i := 0; i < len(p.offs); i += 3 {
				p.dims = append(p.dims, Dim{Name: p.scratch[p.offs[i]:p.offs[i+1]], Value: p.scratch[p.offs[i+1]:p.offs[i+2]]})
			}
			var perSet int
			if r := p.metricsFor(defs, p.scratch[:nsEnd], ts, fn, &perSet); r != OK {
				reason = r
				return errStop
			}
			if nSets == 1 {
				metrics += perSet // metric definitions count once per directive
				if metrics > MaxMetrics {
					reason = TooManyMetrics
					return errStop
				}
			}
			p.scratch = p.scratch[:mark]
			return nil
		})
		if err != nil {
			return err
		}
		if nSets == 0 {
			reason = BadDirective
			return errStop
		}
		return nil
	})
	if err != nil && reason == OK {
		reason = BadDirective
	}
	return reason
}

// metricsFor validates or emits every metric definition for the current
// dimension set (p.dims).
func (p *Parser) metricsFor(defs, ns []byte, ts int64, fn func(*Point), count *int) Reason {
	reason := OK
	perSet := 0
	err := jsonscan.Elements(defs, func(def []byte) error {
		perSet++
		if def[0] != '{' {
			reason = BadDirective
			return errStop
		}
		var name, unit, res []byte
		escaped := false
		_ = jsonscan.Members(def, func(k, v []byte) error {
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
			switch string(k) {
			case "Name":
				name = v
			case "Unit":
				unit = v
			case "StorageResolution":
				res = v
			}
			return nil
		})
		start := len(p.scratch)
		var ok bool
		if escaped || name == nil {
			reason = BadDirective
			return errStop
		}
		p.scratch, ok = jsonscan.AppendString(p.scratch, name)
		mname := p.scratch[start:]
		if !ok || !goodName(mname, MaxNameLen) {
			reason = BadName
			return errStop
		}
		pt := &p.pt
		pt.Unit = "None"
		if unit != nil {
			u, ok := canonicalUnit(unit)
			if !ok {
				reason = BadUnit
				return errStop
			}
			pt.Unit = u
		}
		pt.Resolution = 60
		if res != nil {
			f, ok := jsonscan.Number(res)
			switch {
			case !ok || !isInteger(res):
				reason = BadResolution
				return errStop
			case f == 1:
				pt.Resolution = 1
			case f != 60:
				reason = BadResolution
				return errStop
			}
		}
		val := p.lookup(mname)
		if val == nil {
			reason = MissingMetric
			return errStop
		}
		p.values = p.values[:0]
		switch val[0] {
		case '[':
			err := jsonscan.Elements(val, func(e []byte) error {
				f, ok := jsonscan.Number(e)
				if !ok || len(p.values) >= MaxValues {
					return errStop
				}
				p.values = append(p.values, f)
				return nil
			})
			if err != nil || len(p.values) == 0 {
				reason = BadMetricValue
				return errStop
			}
		default:
			f, ok := jsonscan.Number(val)
			if !ok {
				reason = BadMetricValue
				return errStop
			}
			p.values = append(p.values, f)
		}
		if fn != nil {
			pt.Namespace, pt.Name, pt.Dims, pt.Values, pt.TimestampMs = ns, mname, p.dims, p.values, ts
			fn(pt)
		}
		p.scratch = p.scratch[:start]
		return nil
	})
	if err != nil && reason == OK {
		reason = BadDirective
	}
	*count = perSet
	return reason
}

// goodName: 1..max bytes, no control characters, not all spaces.
func goodName(b []byte, max int) bool {
	return len(b) > 0 && len(b) <= max && !hasControl(b) && len(bytes.TrimSpace(b)) > 0
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	// U+2028 and U+2029 end lines for ECMAScript patterns.
	return bytes.Contains(b, []byte("\u2028")) || bytes.Contains(b, []byte("\u2029"))
}

var units = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

func canonicalUnit(v []byte) (string, bool) {
	for _, u := range units {
		if jsonscan.Equal(v, u) {
			return u, true
		}
	}
	return "", false
}
