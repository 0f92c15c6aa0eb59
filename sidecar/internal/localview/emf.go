package localview

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// EMF reaches the view parsed: the sidecar's EMF receiver parses each line
// once, with the strict parser of package emf, and hands the Inbox the
// document (AddEMFDocument: the line, its points in the cwmetric model and
// the trace IDs of its root members); the view keeps the points and the
// line (for persistence) and never parses the line again. Store.AddEMF,
// for documents that arrive as bytes (the persistence file, tests), parses
// them with the same parser and rules. Lines the receiver refuses are
// counted in the view too (Inbox.RejectedEMF), by reason.

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

// parsers parse the documents Store.AddEMF is given as bytes.
var parsers = sync.Pool{New: func() any { return new(emfdoc.Parser) }}

// parseEMF parses one EMF document with the sidecar's strict parser; the
// result owns its memory.
func parseEMF(doc []byte) (*emfParsed, emfdoc.Reason) {
	p := parsers.Get().(*emfdoc.Parser)
	defer parsers.Put(p)
	var d emfdoc.Document
	if r := p.Decode(doc, &d, true); r != emfdoc.OK {
		return nil, r
	}
	return fromDocument(&d), emfdoc.OK
}

// fromDocument is what the store keeps of a parsed document: its points
// with their dimensions in name order (the same set in another order is
// the same series), each series once, and its trace IDs. It copies
// nothing: the caller hands d over (the values are shared).
func fromDocument(d *emfdoc.Document) *emfParsed {
	p := &emfParsed{ts: d.TimestampMs, traceIDs: d.TraceIDs, points: make([]emfPoint, 0, len(d.Points))}
	seen := make(map[string]bool, len(d.Points))
	for i := range d.Points {
		pt := &d.Points[i]
		dims := make([]dim, len(pt.Dims))
		for j, dm := range pt.Dims {
			dims[j] = dim{dm.Name, dm.Value}
		}
		slices.SortFunc(dims, func(a, b dim) int { return strings.Compare(a.Key, b.Key) })
		key := pt.Namespace + "\x00" + pt.Name + dimsKey(dims)
		if seen[key] {
			continue
		}
		seen[key] = true
		unit := pt.Unit
		if unit == "None" {
			unit = "" // no unit, as the view shows it
		}
		p.points = append(p.points, emfPoint{key: key, namespace: pt.Namespace, name: pt.Name, unit: unit, dims: dims, values: pt.Values})
	}
	return p
}

// emfError is the error Store.AddEMF returns for a refused document.
func emfError(r emfdoc.Reason) error {
	return fmt.Errorf("localview: bad EMF document: %s", cmp.Or(string(r), "refused"))
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
