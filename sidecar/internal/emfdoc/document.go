package emfdoc

import (
	"bytes"
	"slices"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/jsonscan"
)

// MaxTraceIDs bounds the trace IDs Decode finds in one document.
const MaxTraceIDs = 16

// Document is one EMF line as the intake parsed it: the line itself (for
// PutLogEvents and the local view's copy), its metadata, and its points in
// the sidecar's one metric model (package cwmetric), which OTLP metrics
// are translated to as well.
//
// A Document is reused from line to line: Raw, Points and their slices are
// only valid during the call that hands it on. The strings (names,
// dimensions, log group and stream, trace IDs) are immutable and may be
// kept; Clone copies the rest.
type Document struct {
	// Raw is the line, without its newline.
	Raw []byte
	// TimestampMs is _aws.Timestamp.
	TimestampMs int64
	// LogGroup and LogStream are _aws.LogGroupName and _aws.LogStreamName,
	// "" when absent or not a string.
	LogGroup, LogStream string
	// Points are the document's metrics, one per metric and dimension set,
	// in the order the directives list them; each value once (Counts nil).
	// Dimensions are in the order their set lists them.
	Points []cwmetric.Point
	// TraceIDs are the X-Ray trace IDs the document's root members hold
	// (see Decode), when the Decode call asked for them.
	TraceIDs []string

	text  []byte // the strings, before they become one string
	marks []mark
	dims  []cwmetric.Dim
	vals  []float64
}

// mark records where one point's parts are in text, dims and vals.
type mark struct {
	ns, name   [2]int32
	dim0, dimN int32 // dimension offsets: 4 per dimension in offs
	val0, valN int32
	unit       string
	res        int
}

// Decode parses line, strictly (as Parse), into d, reusing d's buffers.
// It returns OK or the reason line was refused, when d holds nothing
// useful. When traceIDs is true it also collects, in d.TraceIDs, the X-Ray
// trace IDs among the root members (see FindTraceIDs).
//
// Decode costs one allocation for the document's strings, besides the
// growth of d's and p's buffers.
func (p *Parser) Decode(line []byte, d *Document, traceIDs bool) Reason {
	d.Raw = line
	d.TimestampMs, d.LogGroup, d.LogStream = 0, "", ""
	d.Points, d.TraceIDs = d.Points[:0], d.TraceIDs[:0]
	d.text, d.marks, d.vals = d.text[:0], d.marks[:0], d.vals[:0]
	offs := p.docOffs[:0]
	meta, r := p.Parse(line, func(pt *Point) {
		m := mark{unit: pt.Unit, res: pt.Resolution}
		m.ns = d.appendText(pt.Namespace)
		m.name = d.appendText(pt.Name)
		m.dim0 = int32(len(offs))
		for _, dm := range pt.Dims {
			n, v := d.appendText(dm.Name), d.appendText(dm.Value)
			offs = append(offs, n[0], n[1], v[0], v[1])
		}
		m.dimN = int32(len(offs))
		m.val0 = int32(len(d.vals))
		d.vals = append(d.vals, pt.Values...)
		m.valN = int32(len(d.vals))
		d.marks = append(d.marks, m)
	})
	p.docOffs = offs
	if r != OK {
		d.Raw = nil
		return r
	}
	d.TimestampMs = meta.TimestampMs
	group, stream := d.appendJSONString(meta.LogGroupName), d.appendJSONString(meta.LogStreamName)
	var ids [][2]int32
	if traceIDs {
		ids = p.findTraceIDs(d, p.idOffs[:0])
		p.idOffs = ids
	}
	text := string(d.text)
	at := func(o [2]int32) string { return text[o[0]:o[1]] }
	d.LogGroup, d.LogStream = at(group), at(stream)
	for _, o := range ids {
		d.TraceIDs = append(d.TraceIDs, at(o))
	}
	nd := len(offs) / 4
	if cap(d.dims) < nd {
		d.dims = make([]cwmetric.Dim, nd)
	}
	d.dims = d.dims[:nd]
	for i := range nd {
		d.dims[i] = cwmetric.Dim{Name: text[offs[4*i]:offs[4*i+1]], Value: text[offs[4*i+2]:offs[4*i+3]]}
	}
	for _, m := range d.marks {
		d.Points = append(d.Points, cwmetric.Point{
			Namespace: at(m.ns), Name: at(m.name), Unit: m.unit, Resolution: m.res,
			Dims:        d.dims[m.dim0/4 : m.dimN/4 : m.dimN/4],
			TimestampMs: meta.TimestampMs,
			Values:      d.vals[m.val0:m.valN:m.valN],
		})
	}
	return OK
}

func (d *Document) appendText(b []byte) [2]int32 {
	s := len(d.text)
	d.text = append(d.text, b...)
	return [2]int32{int32(s), int32(len(d.text))}
}

// appendJSONString appends the decoded JSON string v (nothing when v is
// not a string).
func (d *Document) appendJSONString(v []byte) [2]int32 {
	s := len(d.text)
	if len(v) > 0 && v[0] == '"' {
		var ok bool
		if d.text, ok = jsonscan.AppendString(d.text, v); !ok {
			d.text = d.text[:s]
		}
	}
	return [2]int32{int32(s), int32(len(d.text))}
}

// Clone returns a copy of d that stays valid after the call that handed d
// on: Raw, Points, their dimensions and values are copied (the strings are
// shared: they are immutable).
func (d *Document) Clone() *Document {
	c := &Document{Raw: slices.Clone(d.Raw), TimestampMs: d.TimestampMs, LogGroup: d.LogGroup, LogStream: d.LogStream,
		TraceIDs: slices.Clone(d.TraceIDs)}
	if len(d.Points) == 0 {
		return c
	}
	nd, nv := 0, 0
	for i := range d.Points {
		nd += len(d.Points[i].Dims)
		nv += len(d.Points[i].Values)
	}
	dims, vals := make([]cwmetric.Dim, 0, nd), make([]float64, 0, nv)
	c.Points = make([]cwmetric.Point, len(d.Points))
	for i, pt := range d.Points {
		d0, v0 := len(dims), len(vals)
		dims, vals = append(dims, pt.Dims...), append(vals, pt.Values...)
		pt.Dims, pt.Values = dims[d0:len(dims):len(dims)], vals[v0:len(vals):len(vals)]
		pt.Counts, pt.Stats = nil, nil
		c.Points[i] = pt
	}
	return c
}

// findTraceIDs appends to d.text, and to ids the offsets of, the X-Ray
// trace IDs among the root members of the document Parse just accepted:
// any string member that is a trace ID ("1-" + 8 hex + "-" + 24 hex) or a
// trace header holding one (Root=…), and the strings of array members,
// whatever the member is called (TraceId, traceId, trace_id, TraceIds, …).
// Members are visited in key order (the last of a repeated key counts), IDs
// are lowercased, kept once, at most MaxTraceIDs.
func (p *Parser) findTraceIDs(d *Document, ids [][2]int32) [][2]int32 {
	order := p.order[:0]
	for i := range p.members {
		m := &p.members[i]
		if len(m.val) == 0 || (m.val[0] != '"' && m.val[0] != '[') || p.lookup(m.key) != i {
			continue
		}
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(p.members[a].key, p.members[b].key) })
	p.order = order
	add := func(v []byte) {
		if len(ids) >= MaxTraceIDs {
			return
		}
		var ok bool
		p.scratch, ok = jsonscan.AppendString(p.scratch[:0], v)
		if !ok {
			return
		}
		id, found := traceIDIn(p.scratch)
		if !found {
			return
		}
		for _, o := range ids {
			if bytes.EqualFold(d.text[o[0]:o[1]], id) {
				return
			}
		}
		s := len(d.text)
		for _, c := range id {
			if c >= 'A' && c <= 'F' {
				c += 'a' - 'A'
			}
			d.text = append(d.text, c)
		}
		ids = append(ids, [2]int32{int32(s), int32(len(d.text))})
	}
	for _, i := range order {
		v := p.members[i].val
		if v[0] == '"' {
			add(v)
			continue
		}
		_ = jsonscan.Elements(v, func(e []byte) error {
			if e[0] == '"' {
				add(e)
			}
			return nil
		})
	}
	return ids
}

// traceIDIn returns the trace ID s is, or the one a trace header s holds
// after "Root=".
func traceIDIn(s []byte) ([]byte, bool) {
	if isTraceID(s) {
		return s, true
	}
	if i := bytes.Index(s, root); i >= 0 && len(s) >= i+5+35 {
		if id := s[i+5 : i+5+35]; isTraceID(id) {
			return id, true
		}
	}
	return nil, false
}

var root = []byte("Root=")

func isTraceID(s []byte) bool {
	return len(s) == 35 && s[0] == '1' && s[1] == '-' && s[10] == '-' && isHex(s[2:10]) && isHex(s[11:])
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
