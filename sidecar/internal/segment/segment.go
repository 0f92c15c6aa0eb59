package segment

import (
	"bytes"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/jsonscan"
)

// MaxDocument is the largest segment document X-Ray accepts (64 KB).
const MaxDocument = 64 << 10

// Reason names why a datagram was rejected. The set is fixed, so it can be
// used as a counter label.
type Reason string

// Rejection reasons.
const (
	OK            Reason = ""
	Empty         Reason = "empty"
	BadHeader     Reason = "bad_header"
	TooLarge      Reason = "too_large"
	NotJSON       Reason = "not_json"
	NotObject     Reason = "not_object"
	BadTraceID    Reason = "bad_trace_id"
	BadID         Reason = "bad_id"
	NoName        Reason = "no_name"
	BadStartTime  Reason = "bad_start_time"
	NoEnd         Reason = "no_end_time"
	BadParentID   Reason = "bad_parent_id"
	BadTypeFields Reason = "bad_type"
)

// Reasons lists every rejection reason, for registering counters.
var Reasons = []Reason{Empty, BadHeader, TooLarge, NotJSON, NotObject, BadTraceID, BadID, NoName, BadStartTime, NoEnd, BadParentID, BadTypeFields}

// Info is what Check learned about a valid document.
type Info struct {
	Subsegment bool // "type": "subsegment"
	// AWS is the raw "aws" member value, or nil when absent.
	AWS []byte
	// HasECS reports an "aws" object with an "ecs" member.
	HasECS bool
	// ID is the document's 16-hex-digit id (a subslice of the document).
	ID []byte
}

// SplitDatagram separates the daemon header from the document. It accepts
// the header with any JSON spacing as long as format is "json" and version
// is 1.
func SplitDatagram(pkt []byte) (doc []byte, r Reason) {
	if len(bytes.TrimSpace(pkt)) == 0 {
		return nil, Empty
	}
	nl := bytes.IndexByte(pkt, '\n')
	if nl < 0 {
		return nil, BadHeader
	}
	hdr := pkt[:nl]
	if !bytes.Equal(hdr, canonicalHeader) && !checkHeader(hdr) {
		return nil, BadHeader
	}
	// Trailing whitespace is valid JSON but not worth forwarding: Sidelight's
	// emitter pads documents when it sends them with segmentation offload.
	doc = bytes.TrimRight(pkt[nl+1:], " \t\r\n")
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, Empty
	}
	return doc, OK
}

var canonicalHeader = []byte(`{"format": "json", "version": 1}`)

func checkHeader(hdr []byte) bool {
	format, version := false, false
	err := jsonscan.Object(hdr, func(k, v []byte) error {
		switch string(k) {
		case "format":
			format = jsonscan.Equal(v, "json")
		case "version":
			n, ok := jsonscan.Number(v)
			version = ok && n == 1
		}
		return nil
	})
	return err == nil && format && version
}

// Check validates one segment document.
func Check(doc []byte) (Info, Reason) {
	var info Info
	if len(doc) > MaxDocument {
		return info, TooLarge
	}
	var traceID, id, parentID, name, start, end, inProgress, typ []byte
	err := jsonscan.Object(doc, func(k, v []byte) error {
		switch string(k) {
		case "trace_id":
			traceID = v
		case "id":
			id = v
		case "parent_id":
			parentID = v
		case "name":
			name = v
		case "start_time":
			start = v
		case "end_time":
			end = v
		case "in_progress":
			inProgress = v
		case "type":
			typ = v
		case "aws":
			info.AWS = v
		}
		return nil
	})
	switch err {
	case nil:
	case jsonscan.ErrNotObject:
		return info, NotObject
	default:
		return info, NotJSON
	}
	if !validTraceID(traceID) {
		return info, BadTraceID
	}
	if !validHexID(id) {
		return info, BadID
	}
	info.ID = id[1:17]
	if len(name) < 3 || name[0] != '"' {
		return info, NoName
	}
	if t, ok := jsonscan.Number(start); !ok || t <= 0 {
		return info, BadStartTime
	}
	if end == nil && !bytes.Equal(inProgress, []byte("true")) {
		return info, NoEnd
	}
	if end != nil {
		if t, ok := jsonscan.Number(end); !ok || t <= 0 {
			return info, NoEnd
		}
	}
	if typ != nil {
		if !jsonscan.Equal(typ, "subsegment") {
			return info, BadTypeFields
		}
		info.Subsegment = true
		if !validHexID(parentID) {
			return info, BadParentID
		}
	} else if parentID != nil && !validHexID(parentID) {
		return info, BadParentID
	}
	if len(info.AWS) > 0 && info.AWS[0] == '{' {
		_ = jsonscan.Members(info.AWS, func(k, _ []byte) error {
			if string(k) == "ecs" {
				info.HasECS = true
			}
			return nil
		})
	}
	return info, OK
}

// validTraceID checks "1-" + 8 hex + "-" + 24 hex, as a raw JSON string.
func validTraceID(v []byte) bool {
	if len(v) != 37 || v[0] != '"' || v[36] != '"' || v[1] != '1' || v[2] != '-' || v[11] != '-' {
		return false
	}
	return allHex(v[3:11]) && allHex(v[12:36])
}

// validHexID checks a 16-hex-digit id as a raw JSON string.
func validHexID(v []byte) bool {
	return len(v) == 18 && v[0] == '"' && v[17] == '"' && allHex(v[1:17])
}

func allHex(b []byte) bool {
	for _, c := range b {
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}

// AppendWithECS appends doc to dst with ecs (the members of an "ecs"
// object, without braces, such as `"cluster":"c","task_arn":"t"`) added
// under "aws", when info says the document is a segment that has no
// aws.ecs yet; otherwise it appends doc unchanged. doc must have passed
// Check, which produced info.
func AppendWithECS(dst, doc []byte, info Info, ecs []byte) []byte {
	if len(ecs) == 0 || info.Subsegment || info.HasECS {
		return append(dst, doc...)
	}
	if info.AWS != nil && info.AWS[0] == '{' {
		// Splice right after the aws object's opening brace.
		off := offsetIn(doc, info.AWS) + 1
		dst = append(dst, doc[:off]...)
		dst = append(dst, `"ecs":{`...)
		dst = append(dst, ecs...)
		dst = append(dst, '}')
		if !emptyObject(info.AWS) {
			dst = append(dst, ',')
		}
		return append(dst, doc[off:]...)
	}
	if info.AWS != nil {
		return append(dst, doc...) // "aws" is not an object: leave it alone
	}
	open := bytes.IndexByte(doc, '{') + 1
	dst = append(dst, doc[:open]...)
	dst = append(dst, `"aws":{"ecs":{`...)
	dst = append(dst, ecs...)
	dst = append(dst, "}},"...)
	return append(dst, doc[open:]...)
}

func emptyObject(v []byte) bool {
	return len(bytes.TrimSpace(v[1:len(v)-1])) == 0
}

// offsetIn returns the index of sub within doc; sub must be a subslice.
func offsetIn(doc, sub []byte) int {
	return cap(doc) - cap(sub)
}
