package emfdoc

import (
	"bytes"
	"errors"
	"hash/maphash"
	"math"
	"sync/atomic"
	"unicode/utf8"

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
	// TooManyDimensionSets: a directive lists more than MaxDimensionSets.
	TooManyDimensionSets Reason = "too_many_dimension_sets"
	// TooManyPoints: the document yields more than MaxPoints points.
	TooManyPoints Reason = "too_many_points"
	// TooVoluminous: the document's points would carry more than MaxVolume
	// bytes of namespaces, names and dimensions.
	TooVoluminous Reason = "too_voluminous"
)

// Reasons lists every rejection reason.
var Reasons = []Reason{NotJSON, NotObject, NoAWS, BadTimestamp, BadDirective, BadName, BadUnit, BadResolution,
	MissingDimension, MissingMetric, BadMetricValue, TooManyMetrics, TooLarge, TooManyDimensionSets, TooManyPoints, TooVoluminous}

// Limits from the specification and the CloudWatch API, and three of our
// own that bound the work one document can cause: MaxDimensionSets per
// directive, MaxPoints (metric definitions times dimension sets, summed
// over the directives) per document, and MaxVolume. The AWS EMF libraries
// and Powertools write at most 100 metrics per document and one or a few
// dimension sets, far below the first two. MaxVolume bounds the bytes of namespace,
// metric name and dimensions summed over a document's points (what a
// consumer copies into series keys): 1000 points of 9 dimensions of 100
// bytes stay below it, and a document of a few KB can no longer expand to
// tens of MB.
const (
	MaxDimensionSets = 30
	MaxPoints        = 1000
	MaxVolume        = 2 << 20
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

// member is one root member: its decoded key, its raw value, and what
// decoding its value as a dimension value or as metric values gave, once
// done.
type member struct {
	key, val   []byte
	kStart     int32 // when kEnd > 0, key is p.keys[kStart:kEnd] (decoded)
	kEnd       int32
	dimS, dimE int32 // decoded dimension value in p.dimVals
	numS, numE int32 // metric values in p.nums
	dim, num   memo
}

// memo is the state of a member's value decoded as a dimension value or
// as metric values.
type memo uint8

const (
	notYet memo = iota
	good
	refused
)

// Parser parses documents, reusing its buffers. A Parser is not safe for
// concurrent use; the zero value is ready.
//
// Its cost is linear in the document: the root members are indexed once
// in a hash table, each member's value is decoded at most once however
// many references name it, and a document yields at most MaxPoints
// points.
type Parser struct {
	members []member
	keys    []byte  // decoded keys that had escapes or invalid UTF-8
	quoted  []byte  // a raw key between quotes, for decoding
	slots   []int32 // open-addressing index of members by key: index+1, 0 empty
	seed    maphash.Seed
	seeded  bool
	scratch []byte
	dimVals []byte
	nums    []float64
	dims    []Dim
	pt      Point
	offs    []int
	points  int
	volume  int // bytes of names and dimensions in the points so far
	work    int // index probes plus bytes of values decoded (see the linear-time tests)

	// Decode's buffers
	docOffs []int32
	idOffs  [][2]int32
	order   []int32
}

var errStop = errors.New("stop")

// parses counts Parse calls in this process.
var parses atomic.Uint64

// Parses returns how many documents Parse has been called on in this
// process, so tests can check that each line is parsed once, at intake.
func Parses() uint64 { return parses.Load() }

// Parse checks doc and calls fn (which may be nil) for every point it
// holds. It returns OK or the reason doc was refused; when refused, fn
// has not been called.
func (p *Parser) Parse(doc []byte, fn func(*Point)) (Meta, Reason) {
	parses.Add(1)
	var meta Meta
	if len(doc) > MaxDocumentBytes {
		return meta, TooLarge
	}
	p.members = p.members[:0]
	p.keys = p.keys[:0]
	p.dimVals = p.dimVals[:0]
	p.nums = p.nums[:0]
	p.work = 0
	var awsRaw []byte
	err := jsonscan.Object(doc, func(k, v []byte) error {
		if string(k) == "_aws" {
			awsRaw = v
		}
		m := member{key: k, val: v}
		if bytes.IndexByte(k, '\\') >= 0 || !utf8.Valid(k) {
			p.quoted = append(append(append(p.quoted[:0], '"'), k...), '"')
			m.kStart = int32(len(p.keys))
			p.keys, _ = jsonscan.AppendString(p.keys, p.quoted)
			m.kEnd = int32(len(p.keys)) // a validated, non-empty key: never decodes to ""
		}
		p.members = append(p.members, m)
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
	p.index()
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

// index builds the hash index of the root members by decoded key; a later
// member replaces an earlier one of the same key (the last one wins, as
// in encoding/json).
func (p *Parser) index() {
	if !p.seeded {
		p.seed, p.seeded = maphash.MakeSeed(), true
	}
	size := 8
	for size < 2*len(p.members) {
		size *= 2
	}
	if cap(p.slots) >= size {
		p.slots = p.slots[:size]
		clear(p.slots)
	} else {
		p.slots = make([]int32, size)
	}
	mask := uint64(size - 1)
	for i := range p.members {
		m := &p.members[i]
		if m.kEnd > 0 {
			m.key = p.keys[m.kStart:m.kEnd]
		}
		for h := maphash.Bytes(p.seed, m.key) & mask; ; h = (h + 1) & mask {
			p.work++
			j := p.slots[h]
			if j == 0 || bytes.Equal(p.members[j-1].key, m.key) {
				p.slots[h] = int32(i + 1)
				break
			}
		}
	}
}

// lookup returns the index of the last root member named name
// (decoded), or -1.
func (p *Parser) lookup(name []byte) int {
	mask := uint64(len(p.slots) - 1)
	for h := maphash.Bytes(p.seed, name) & mask; ; h = (h + 1) & mask {
		p.work++
		j := p.slots[h]
		if j == 0 {
			return -1
		}
		if bytes.Equal(p.members[j-1].key, name) {
			return int(j - 1)
		}
	}
}

// dimValue returns m's value decoded as a dimension value, decoding it on
// first use. The slice is only valid until the next dimValue call.
func (p *Parser) dimValue(m *member) ([]byte, Reason) {
	if m.dim == notYet {
		p.work += len(m.val)
		start := len(p.dimVals)
		var ok bool
		p.dimVals, ok = jsonscan.AppendString(p.dimVals, m.val)
		v := p.dimVals[start:]
		switch {
		case !ok || len(v) == 0 || len(v) > MaxDimValueLen || hasControl(v):
			m.dim = refused
			p.dimVals = p.dimVals[:start]
		default:
			m.dim, m.dimS, m.dimE = good, int32(start), int32(len(p.dimVals))
		}
	}
	if m.dim != good {
		return nil, MissingDimension
	}
	return p.dimVals[m.dimS:m.dimE], OK
}

// metricValues returns m's value parsed as metric values, parsing it on
// first use. The slice is only valid until the next metricValues call.
func (p *Parser) metricValues(m *member) ([]float64, Reason) {
	if m.num == notYet {
		p.work += len(m.val)
		start := len(p.nums)
		m.num = good
		switch m.val[0] {
		case '[':
			err := jsonscan.Elements(m.val, func(e []byte) error {
				f, ok := jsonscan.Number(e)
				if !ok || len(p.nums)-start >= MaxValues {
					return errStop
				}
				p.nums = append(p.nums, f)
				return nil
			})
			if err != nil || len(p.nums) == start {
				m.num = refused
			}
		default:
			f, ok := jsonscan.Number(m.val)
			if !ok {
				m.num = refused
			} else {
				p.nums = append(p.nums, f)
			}
		}
		if m.num != good {
			p.nums = p.nums[:start]
		}
		m.numS, m.numE = int32(start), int32(len(p.nums))
	}
	if m.num != good {
		return nil, BadMetricValue
	}
	return p.nums[m.numS:m.numE], OK
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
	p.points, p.volume = 0, 0
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
		if !ok || !goodNamespace(p.scratch[:nsEnd]) {
			reason = BadName
			return errStop
		}
		nSets := 0
		// Each dimension set.
		err := jsonscan.Elements(dimSets, func(set []byte) error {
			nSets++
			if nSets > MaxDimensionSets {
				reason = TooManyDimensionSets
				return errStop
			}
			if set[0] != '[' {
				reason = BadDirective
				return errStop
			}
			p.dims = p.dims[:0]
			p.offs = p.offs[:0]
			mark := len(p.scratch)
			err := jsonscan.Elements(set, func(ref []byte) error {
				if len(p.offs)/2 >= MaxDimensions {
					reason = BadDirective
					return errStop
				}
				start := len(p.scratch)
				var ok bool
				p.scratch, ok = jsonscan.AppendString(p.scratch, ref)
				if !ok || !goodName(p.scratch[start:], MaxDimNameLen) {
					reason = BadName
					return errStop
				}
				i := p.lookup(p.scratch[start:])
				if i < 0 {
					reason = MissingDimension
					return errStop
				}
				if _, r := p.dimValue(&p.members[i]); r != OK {
					reason = r
					return errStop
				}
				p.offs = append(p.offs, start, i)
				return nil
			})
			if err != nil {
				return err
			}
			for i := 0; i < len(p.offs); i += 2 {
				end := len(p.scratch)
				if i+2 < len(p.offs) {
					end = p.offs[i+2]
				}
				m := &p.members[p.offs[i+1]]
				p.dims = append(p.dims, Dim{Name: p.scratch[p.offs[i]:end], Value: p.dimVals[m.dimS:m.dimE]})
			}
			setBytes := nsEnd
			for _, d := range p.dims {
				setBytes += len(d.Name) + len(d.Value)
			}
			var perSet int
			if r := p.metricsFor(defs, p.scratch[:nsEnd], ts, fn, &perSet, setBytes); r != OK {
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
			p.points += perSet
			if p.points > MaxPoints {
				reason = TooManyPoints
				return errStop
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
func (p *Parser) metricsFor(defs, ns []byte, ts int64, fn func(*Point), count *int, setBytes int) Reason {
	reason := OK
	perSet := 0
	err := jsonscan.Elements(defs, func(def []byte) error {
		perSet++
		if perSet > MaxMetrics {
			reason = TooManyMetrics
			return errStop
		}
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
		i := p.lookup(mname)
		if i < 0 {
			reason = MissingMetric
			return errStop
		}
		values, r := p.metricValues(&p.members[i])
		if r != OK {
			reason = r
			return errStop
		}
		p.volume += setBytes + len(mname)
		if p.volume > MaxVolume {
			reason = TooVoluminous
			return errStop
		}
		if fn != nil {
			p.work += setBytes + len(mname) // what the consumer reads
			pt.Namespace, pt.Name, pt.Dims, pt.Values, pt.TimestampMs = ns, mname, p.dims, values, ts
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

// goodNamespace: a name that is also ASCII and does not start with a
// colon, as CloudWatch's PutMetricData requires of namespaces.
func goodNamespace(b []byte) bool {
	return goodName(b, MaxNameLen) && isASCII(b) && b[0] != ':'
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
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
	// U+2028 and U+2029 end lines for ECMAScript patterns (both start
	// with the byte 0xE2).
	if bytes.IndexByte(b, 0xe2) < 0 {
		return false
	}
	return bytes.Contains(b, []byte("\u2028")) || bytes.Contains(b, []byte("\u2029"))
}

var units = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

func canonicalUnit(v []byte) (string, bool) {
	if n := len(v); n >= 2 && v[0] == '"' && v[n-1] == '"' && bytes.IndexByte(v, '\\') < 0 {
		// Without escapes the string is its bytes (the document is valid
		// JSON): compare them directly.
		for _, u := range units {
			if string(v[1:n-1]) == u {
				return u, true
			}
		}
		return "", false
	}
	for _, u := range units {
		if jsonscan.Equal(v, u) {
			return u, true
		}
	}
	return "", false
}
