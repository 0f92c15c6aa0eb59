package localview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// segDoc is one X-Ray segment or subsegment as decoded from its document.
// Blocks the view shows as they are (http, annotations, metadata, aws, sql,
// service, cause) are kept as raw JSON. It is also the shape of the nodes
// /api/traces/{id} returns.
type segDoc struct {
	Name        string          `json:"name"`
	ID          string          `json:"id"`
	TraceID     string          `json:"trace_id,omitempty"`
	ParentID    string          `json:"parent_id,omitempty"`
	Type        string          `json:"type,omitempty"`
	Namespace   string          `json:"namespace,omitempty"`
	Origin      string          `json:"origin,omitempty"`
	User        string          `json:"user,omitempty"`
	StartTime   float64         `json:"start_time"`
	EndTime     *float64        `json:"end_time,omitempty"`
	InProgress  bool            `json:"in_progress,omitempty"`
	Error       bool            `json:"error,omitempty"`
	Throttle    bool            `json:"throttle,omitempty"`
	Fault       bool            `json:"fault,omitempty"`
	Inferred    bool            `json:"inferred,omitempty"`
	HTTP        json.RawMessage `json:"http,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	AWS         json.RawMessage `json:"aws,omitempty"`
	SQL         json.RawMessage `json:"sql,omitempty"`
	Service     json.RawMessage `json:"service,omitempty"`
	Cause       json.RawMessage `json:"cause,omitempty"`
	Subsegments []*segDoc       `json:"subsegments,omitempty"`

	// Attached is set in API output on documents that arrived on their
	// own and were attached under their parent by the store.
	Attached bool `json:"attached,omitempty"`
	// Orphan is set in API output on a document whose parent_id names a
	// segment or subsegment the trace does not hold: the parent was never
	// received (under Lambda, the function segment Lambda sends to X-Ray
	// itself; or an invocation that timed out before its parent was sent).
	Orphan bool `json:"orphan,omitempty"`
}

type httpBlock struct {
	Request struct {
		Method    string `json:"method"`
		URL       string `json:"url"`
		UserAgent string `json:"user_agent"`
	} `json:"request"`
	Response struct {
		Status json.Number `json:"status"`
	} `json:"response"`
}

// flags is a set of the error, throttle and fault markers.
type flags uint8

const (
	flagError flags = 1 << iota
	flagThrottle
	flagFault
)

func (f flags) status() string {
	switch {
	case f&flagFault != 0:
		return "fault"
	case f&flagThrottle != 0:
		return "throttle"
	case f&flagError != 0:
		return "error"
	}
	return "ok"
}

func parseStatus(s string) (flags, bool) {
	switch s {
	case "fault":
		return flagFault, true
	case "throttle":
		return flagThrottle, true
	case "error":
		return flagError, true
	case "ok":
		return 0, true
	}
	return 0, false
}

func (d *segDoc) flags() flags {
	var f flags
	if d.Error {
		f |= flagError
	}
	if d.Throttle {
		f |= flagThrottle
	}
	if d.Fault {
		f |= flagFault
	}
	return f
}

// call is a downstream call: a subsegment in the aws or remote namespace.
type call struct {
	id, name, namespace string
	flags               flags
	dur                 float64
}

// docInfo is what the store keeps of one received segment document: the
// compacted document and what the list, filters and service map need.
type docInfo struct {
	raw         []byte
	recv        int64 // unix nanoseconds
	id          string
	parentID    string
	name        string
	independent bool
	start, end  float64 // end is the latest end in the document, 0 if none
	inProgress  bool
	flags       flags    // the document's own markers
	anyFlags    flags    // markers anywhere in the document
	annotations []string // key=value, anywhere in the document
	nestedIDs   []string // ids of embedded subsegments
	calls       []call
	method, url string
	userAgent   string
	status      int
	version     string    // the segment's serving version (versions.go)
	cmpRoute    string    // the request's route for the compare page (versions.go)
	route       string    // the document's own "route" annotation
	origin      string    // the document's origin (AWS::Lambda::Function, …)
	ov          *ovSeries // where the overview counts it, nil if it does not
}

const (
	maxDepth      = 64
	maxNameLen    = 1024
	maxAnnotation = 64   // annotations kept per document for filtering
	maxEpoch      = 1e11 // seconds: the year 5138, far beyond any real timestamp
)

var errNotObject = errors.New("not a JSON object")

// parseSegment decodes and checks one segment document.
func parseSegment(doc []byte) (*segDoc, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || doc[0] != '{' {
		return nil, errNotObject
	}
	var d segDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	if !isTraceID(d.TraceID) {
		return nil, fmt.Errorf("trace_id %q is not an X-Ray trace ID", truncate(d.TraceID))
	}
	if d.Type != "" && d.Type != "subsegment" {
		return nil, fmt.Errorf("type %q is not \"subsegment\"", truncate(d.Type))
	}
	if d.Type == "subsegment" && d.ParentID == "" {
		return nil, errors.New("independent subsegment without parent_id")
	}
	if d.ParentID != "" && !isID(d.ParentID) {
		return nil, fmt.Errorf("parent_id %q is not 16 hex digits", truncate(d.ParentID))
	}
	if err := checkNode(&d, 0); err != nil {
		return nil, err
	}
	return &d, nil
}

func checkNode(d *segDoc, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("subsegments nested deeper than %d", maxDepth)
	}
	if d.Name == "" || len(d.Name) > maxNameLen {
		return fmt.Errorf("segment %q: name is empty or over %d bytes", truncate(d.ID), maxNameLen)
	}
	if !isID(d.ID) {
		return fmt.Errorf("segment %q: id %q is not 16 hex digits", truncate(d.Name), truncate(d.ID))
	}
	if !(d.StartTime > 0 && d.StartTime < maxEpoch) {
		return fmt.Errorf("segment %q: start_time is not epoch seconds", truncate(d.Name))
	}
	if d.EndTime != nil && !(*d.EndTime < maxEpoch) {
		return fmt.Errorf("segment %q: end_time is not epoch seconds", truncate(d.Name))
	}
	if (d.EndTime != nil) == d.InProgress {
		return fmt.Errorf("segment %q: exactly one of end_time and in_progress must be set", truncate(d.Name))
	}
	if d.EndTime != nil && *d.EndTime < d.StartTime {
		return fmt.Errorf("segment %q: end_time before start_time", truncate(d.Name))
	}
	for _, s := range d.Subsegments {
		if s == nil {
			return fmt.Errorf("segment %q: null subsegment", truncate(d.Name))
		}
		if err := checkNode(s, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// info builds the store's summary of a checked document.
func (d *segDoc) info(raw []byte, recv int64) *docInfo {
	di := &docInfo{
		raw:         raw,
		recv:        recv,
		id:          d.ID,
		parentID:    d.ParentID,
		name:        d.Name,
		independent: d.Type == "subsegment",
		start:       d.StartTime,
		inProgress:  d.InProgress,
		flags:       d.flags(),
		route:       topRoute(d.Annotations),
		origin:      truncate(d.Origin),
	}
	if d.HTTP != nil {
		var h httpBlock
		if json.Unmarshal(d.HTTP, &h) == nil {
			di.method, di.url, di.userAgent = h.Request.Method, h.Request.URL, h.Request.UserAgent
			if n, err := strconv.Atoi(h.Response.Status.String()); err == nil {
				di.status = n
			}
		}
	}
	if di.independent && isCallNamespace(d.Namespace) {
		di.calls = append(di.calls, call{id: d.ID, name: d.Name, namespace: d.Namespace, flags: d.flags(), dur: d.duration()})
	}
	di.walk(d, true)
	di.version, di.cmpRoute = d.versionAndRoute(di)
	return di
}

func (di *docInfo) walk(d *segDoc, top bool) {
	di.anyFlags |= d.flags()
	if d.EndTime != nil && *d.EndTime > di.end {
		di.end = *d.EndTime
	}
	if !top {
		di.nestedIDs = append(di.nestedIDs, d.ID)
		if isCallNamespace(d.Namespace) {
			di.calls = append(di.calls, call{id: d.ID, name: d.Name, namespace: d.Namespace, flags: d.flags(), dur: d.duration()})
		}
	}
	if len(d.Annotations) > 0 && len(di.annotations) < maxAnnotation {
		var m map[string]json.RawMessage
		if json.Unmarshal(d.Annotations, &m) == nil {
			for k, v := range m {
				if len(di.annotations) >= maxAnnotation {
					break
				}
				di.annotations = append(di.annotations, k+"="+annotationText(v))
			}
		}
	}
	for _, s := range d.Subsegments {
		di.walk(s, false)
	}
}

func (d *segDoc) duration() float64 {
	if d.EndTime == nil {
		return 0
	}
	return *d.EndTime - d.StartTime
}

func isCallNamespace(ns string) bool { return ns == "remote" || ns == "aws" }

// annotationText is an annotation value as the filters compare it: strings
// unquoted, numbers and booleans as written.
func annotationText(v json.RawMessage) string {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isID(s string) bool { return len(s) == 16 && isHex(s) }

// isTraceID reports whether s looks like 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx.
func isTraceID(s string) bool {
	return len(s) == 35 && s[0] == '1' && s[1] == '-' && s[10] == '-' && isHex(s[2:10]) && isHex(s[11:])
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
