package xray

import (
	"errors"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// HeaderName is the HTTP header that carries X-Ray trace context.
const HeaderName = "X-Amzn-Trace-Id"

// SamplingDecision is the Sampled field of a trace header.
type SamplingDecision uint8

const (
	// SamplingUnknown means the header carried no decision: the receiver decides.
	SamplingUnknown SamplingDecision = iota
	// Sampled means Sampled=1.
	Sampled
	// NotSampled means Sampled=0.
	NotSampled
	// SamplingRequested means Sampled=?: the receiver decides and says what it
	// decided in its response header.
	SamplingRequested
)

// Header is a parsed X-Amzn-Trace-Id value.
type Header struct {
	TraceID  trace.TraceID
	ParentID trace.SpanID // zero when the header had no (valid) Parent
	Sampled  SamplingDecision
	// Extra holds the key=value pairs besides Root, Parent and Sampled that
	// are passed on to the services this one calls, joined by ';' in their
	// original order. ParseHeader keeps the first well-formed Lineage (at
	// most MaxLineageLength bytes) and at most four other well-formed pairs
	// (Self, and keys this version does not know) of at most 256 bytes in
	// all; it drops the rest, so a header ParseHeader produced is never
	// longer than MaxForwardedLength.
	Extra string
}

// Limits ParseHeader applies to what a client sends.
const (
	// MaxHeaderLength is the longest X-Amzn-Trace-Id value ParseHeader
	// reads (the limit AWS Lambda puts on a trace header). A longer one is
	// rejected with ErrHeaderTooLong without being scanned.
	MaxHeaderLength = 8192
	// MaxLineageLength is the longest Lineage value passed on.
	MaxLineageLength = 128
	// MaxForwardedLength bounds the wire form of any header ParseHeader
	// returns: Root, Parent, Sampled, Lineage and the other keys kept.
	MaxForwardedLength = 1024

	// maxHeaderFields is how many ';'-separated fields ParseHeader looks
	// at; fields after it are ignored.
	maxHeaderFields = 32
	// maxOtherKeys and maxOtherBytes bound the pairs other than Lineage
	// that are passed on.
	maxOtherKeys  = 4
	maxOtherBytes = 256
	// maxKeyLength and maxValueLength bound one other pair.
	maxKeyLength   = 32
	maxValueLength = 128
)

var (
	// ErrMalformedHeader is returned by ParseHeader for a header without a
	// valid Root.
	ErrMalformedHeader = errors.New("xray: malformed X-Amzn-Trace-Id header: no valid Root")
	// ErrHeaderTooLong is returned by ParseHeader for a header longer than
	// MaxHeaderLength.
	ErrHeaderTooLong = errors.New("xray: X-Amzn-Trace-Id header longer than 8192 bytes")
)

// span is the byte range [start, end) of one field kept for Extra.
type span struct{ start, end int }

// ParseHeader parses an X-Amzn-Trace-Id value such as
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".
// Keys are matched without regard to case and spaces around fields are
// ignored. A header without a valid Root returns ErrMalformedHeader; an
// invalid Parent is dropped and the rest kept, so the trace continues.
//
// The header comes from clients, so ParseHeader bounds its work: a value
// longer than MaxHeaderLength is rejected with ErrHeaderTooLong, only the
// first 32 fields are read, and Extra keeps only a bounded Lineage and a
// small budget of other pairs (see Header.Extra). It runs in time linear in
// the length of s and does not allocate unless the pairs it keeps for Extra
// are not next to each other in s, and then only once.
func ParseHeader(s string) (Header, error) {
	if h, ok := parseCommonHeader(s); ok {
		return h, nil
	}
	return parseHeaderFields(s)
}

// Lengths of the two forms parseCommonHeader reads.
const (
	rootOnlyLength = len("Root=1-5759e988-bd862e3fe1be46a994272793")
	fullLength     = len("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
)

// parseCommonHeader reads, by position, the two forms nearly every request
// carries: a load balancer's "Root=…" and an SDK's
// "Root=…;Parent=…;Sampled=…" with a valid Parent. It returns false for
// anything else, which parseHeaderFields reads; where it returns true, it
// returns what parseHeaderFields would (FuzzParseHeader checks).
func parseCommonHeader(s string) (Header, bool) {
	if (len(s) != rootOnlyLength && len(s) != fullLength) || s[:5] != "Root=" {
		return Header{}, false
	}
	id, err := ParseTraceID(s[5:rootOnlyLength])
	if err != nil {
		return Header{}, false
	}
	if len(s) == rootOnlyLength {
		return Header{TraceID: id}, true
	}
	if s[rootOnlyLength:rootOnlyLength+8] != ";Parent=" || s[rootOnlyLength+24:fullLength-1] != ";Sampled=" {
		return Header{}, false
	}
	parent, err := ParseSpanID(s[rootOnlyLength+8 : rootOnlyLength+24])
	if err != nil {
		return Header{}, false
	}
	h := Header{TraceID: id, ParentID: parent}
	switch s[fullLength-1] {
	case '1':
		h.Sampled = Sampled
	case '0':
		h.Sampled = NotSampled
	case '?':
		h.Sampled = SamplingRequested
	default:
		return Header{}, false
	}
	return h, true
}

// parseHeaderFields is ParseHeader for any form: field by field.
func parseHeaderFields(s string) (Header, error) {
	if len(s) > MaxHeaderLength {
		return Header{}, ErrHeaderTooLong
	}
	var (
		h           Header
		haveRoot    bool
		kept        [1 + maxOtherKeys]span
		nkept       int
		haveLineage bool
		others      int
		otherBytes  int
	)
	pos := 0
	for fields := 0; pos < len(s) && fields < maxHeaderFields; {
		end := strings.IndexByte(s[pos:], ';')
		if end < 0 {
			end = len(s)
		} else {
			end += pos
		}
		start, stop := trimSpan(s, pos, end)
		pos = end + 1
		if start == stop {
			continue
		}
		fields++
		part := s[start:stop]
		eq := strings.IndexByte(part, '=')
		if eq < 0 {
			continue // a bare word carries nothing we can pass on faithfully
		}
		key, val := strings.TrimSpace(part[:eq]), strings.TrimSpace(part[eq+1:])
		switch {
		case strings.EqualFold(key, "Root"):
			id, err := ParseTraceID(val)
			if err != nil {
				return Header{}, ErrMalformedHeader
			}
			h.TraceID, haveRoot = id, true
		case strings.EqualFold(key, "Parent"):
			if id, err := ParseSpanID(val); err == nil {
				h.ParentID = id
			}
		case strings.EqualFold(key, "Sampled"):
			switch val {
			case "1":
				h.Sampled = Sampled
			case "0":
				h.Sampled = NotSampled
			case "?":
				h.Sampled = SamplingRequested
			}
		case strings.EqualFold(key, "Lineage"):
			if !haveLineage && len(key)+1+len(val) == len(part) && validLineage(val) {
				haveLineage = true
				kept[nkept] = span{start, stop}
				nkept++
			}
		default:
			if others < maxOtherKeys && otherBytes+len(part) <= maxOtherBytes &&
				len(key)+1+len(val) == len(part) && validKey(key) && validValue(val) {
				others++
				otherBytes += len(part)
				kept[nkept] = span{start, stop}
				nkept++
			}
		}
	}
	if !haveRoot {
		return Header{}, ErrMalformedHeader
	}
	h.Extra = joinSpans(s, kept[:nkept])
	return h, nil
}

// trimSpan narrows [start, end) of s to exclude ASCII spaces and tabs at
// either end.
func trimSpan(s string, start, end int) (int, int) {
	for start < end && (s[start] == ' ' || s[start] == '\t') {
		start++
	}
	for end > start && (s[end-1] == ' ' || s[end-1] == '\t') {
		end--
	}
	return start, end
}

// joinSpans joins the kept fields of s with ';': a substring of s when they
// are next to each other there, else one allocation.
func joinSpans(s string, spans []span) string {
	if len(spans) == 0 {
		return ""
	}
	n, adjacent := 0, true
	for i, sp := range spans {
		n += sp.end - sp.start
		if i > 0 {
			n++
			if sp.start != spans[i-1].end+1 {
				adjacent = false
			}
		}
	}
	if adjacent {
		return s[spans[0].start:spans[len(spans)-1].end]
	}
	var b strings.Builder
	b.Grow(n)
	for i, sp := range spans {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(s[sp.start:sp.end])
	}
	return b.String()
}

// validLineage reports whether v looks like a Lineage value: letters,
// digits, ':' and '|' (such as "a87bd80c:1|68fd508a:5" or "1:a87bd80c:0"),
// at most MaxLineageLength bytes.
func validLineage(v string) bool {
	if v == "" || len(v) > MaxLineageLength {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && c != ':' && c != '|' {
			return false
		}
	}
	return true
}

// validKey reports whether k is a key worth passing on: letters, digits,
// '-', '_' and '.', at most maxKeyLength bytes.
func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// validValue reports whether v is a value worth passing on: printable ASCII
// without spaces, at most maxValueLength bytes.
func validValue(v string) bool {
	if v == "" || len(v) > maxValueLength {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// AppendTo appends the header in its wire form: Root, then Parent and
// Sampled when set, then Extra.
func (h Header) AppendTo(dst []byte) []byte {
	dst = append(dst, "Root="...)
	dst = AppendTraceID(dst, h.TraceID)
	if h.ParentID.IsValid() {
		dst = append(dst, ";Parent="...)
		dst = AppendSpanID(dst, h.ParentID)
	}
	switch h.Sampled {
	case Sampled:
		dst = append(dst, ";Sampled=1"...)
	case NotSampled:
		dst = append(dst, ";Sampled=0"...)
	case SamplingRequested:
		dst = append(dst, ";Sampled=?"...)
	}
	if h.Extra != "" {
		dst = append(dst, ';')
		dst = append(dst, h.Extra...)
	}
	return dst
}

// String returns the header in its wire form.
func (h Header) String() string {
	var buf [128]byte
	return string(h.AppendTo(buf[:0]))
}
