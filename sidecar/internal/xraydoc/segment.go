package xraydoc

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
	// ECS is the raw value of the "aws" object's "ecs" member when there
	// is exactly one such member, else nil.
	ECS []byte
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
		n := 0
		_ = jsonscan.Members(info.AWS, func(k, v []byte) error {
			if string(k) == "ecs" {
				info.HasECS = true
				info.ECS = v
				n++
			}
			return nil
		})
		if n > 1 {
			info.ECS = nil // which one a reader takes is not ours to guess
		}
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
// object, without braces, such as `"cluster":"c","task_arn":"t"`) merged
// into its aws.ecs object: members the document already has win, the ones
// it lacks are added, so a document that arrives with the container's
// fields (from the middleware) also gets the task's. It appends doc
// unchanged when it is a subsegment, when "aws" or aws.ecs is not an
// object, when aws.ecs appears twice, or when nothing is missing. doc must
// have passed Check, which produced info. It runs in time linear in
// len(doc) for a fixed ecs.
func AppendWithECS(dst, doc []byte, info Info, ecs []byte) []byte {
	if len(ecs) == 0 || info.Subsegment {
		return append(dst, doc...)
	}
	if info.HasECS {
		return appendMergedECS(dst, doc, info, ecs, nil)
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

// maxECSMembers bounds the task members AppendWithECS merges (task metadata
// gives six).
const maxECSMembers = 16

// ecsMember is one member of the ecs argument: its raw key and the whole
// "key":value text, as offsets into ecs.
type ecsMember struct {
	key, member [2]int
	present     bool
}

// appendMergedECS adds to the document's aws.ecs object the members of ecs
// whose keys it does not have. Each document member is compared with each
// of at most maxECSMembers task keys, so the work is linear in len(doc);
// work, when not nil, counts the comparisons (for tests).
func appendMergedECS(dst, doc []byte, info Info, ecs []byte, work *int) []byte {
	if len(info.ECS) == 0 || info.ECS[0] != '{' {
		return append(dst, doc...)
	}
	// Read the task members once, from a braced copy kept at the end of
	// dst and cut off again before anything is written.
	base := len(dst)
	dst = append(dst, '{')
	dst = append(dst, ecs...)
	dst = append(dst, '}')
	wrapped := dst[base:]
	var members [maxECSMembers]ecsMember
	n := 0
	err := jsonscan.Members(wrapped, func(k, v []byte) error {
		if n == maxECSMembers {
			return nil
		}
		ks := offsetIn(wrapped, k) - 1 // skip the brace we added
		members[n] = ecsMember{key: [2]int{ks, ks + len(k)}, member: [2]int{ks - 1, offsetIn(wrapped, v) - 1 + len(v)}}
		n++
		return nil
	})
	dst = dst[:base]
	if err != nil || n == 0 {
		return append(dst, doc...)
	}
	missing, longest := n, 0
	for _, m := range members[:n] {
		longest = max(longest, m.key[1]-m.key[0])
	}
	var scratch [64]byte
	_ = jsonscan.Members(info.ECS, func(k, _ []byte) error {
		key := k
		if bytes.IndexByte(k, '\\') >= 0 {
			// Compare the unescaped key, decoded once; a key longer than
			// six bytes per character of the longest task key is none.
			if len(k) > 6*longest {
				return nil
			}
			off := offsetIn(doc, k)
			d, ok := jsonscan.AppendString(scratch[:0], doc[off-1:off+len(k)+1])
			if !ok {
				return nil
			}
			key = d
		}
		for i := range members[:n] {
			m := &members[i]
			if work != nil {
				*work++
			}
			if !m.present && bytes.Equal(key, ecs[m.key[0]:m.key[1]]) {
				m.present = true
				missing--
			}
		}
		return nil
	})
	if missing == 0 {
		return append(dst, doc...)
	}
	off := offsetIn(doc, info.ECS) + 1
	dst = append(dst, doc[:off]...)
	first := true
	for _, m := range members[:n] {
		if m.present {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, ecs[m.member[0]:m.member[1]]...)
	}
	if !emptyObject(info.ECS) {
		dst = append(dst, ',')
	}
	return append(dst, doc[off:]...)
}

func emptyObject(v []byte) bool {
	return len(bytes.TrimSpace(v[1:len(v)-1])) == 0
}

// offsetIn returns the index of sub within doc; sub must be a subslice.
func offsetIn(doc, sub []byte) int {
	return cap(doc) - cap(sub)
}
