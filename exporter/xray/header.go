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
	// Extra holds the key=value pairs the header carried besides Root, Parent
	// and Sampled (Lineage, Self, and keys this version does not know),
	// joined by ';' in their original order, so they can be passed on.
	Extra string
}

// ErrMalformedHeader is returned by ParseHeader for a header without a valid Root.
var ErrMalformedHeader = errors.New("xray: malformed X-Amzn-Trace-Id header: no valid Root")

// ParseHeader parses an X-Amzn-Trace-Id value such as
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".
// Keys are matched without regard to case and spaces around fields are
// ignored. A header without a valid Root returns ErrMalformedHeader; an
// invalid Parent is dropped and the rest kept, so the trace continues. It
// does not allocate unless the header has unknown keys in more than one
// place.
func ParseHeader(s string) (Header, error) {
	var h Header
	haveRoot := false
	for len(s) > 0 {
		var part string
		if i := strings.IndexByte(s, ';'); i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			part, s = s, ""
		}
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
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
		default:
			if h.Extra == "" {
				h.Extra = part
			} else {
				h.Extra += ";" + part
			}
		}
	}
	if !haveRoot {
		return Header{}, ErrMalformedHeader
	}
	return h, nil
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
