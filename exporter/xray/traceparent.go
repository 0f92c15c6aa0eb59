package xray

import (
	"errors"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// W3C Trace Context header names, in the canonical form net/http keys
// http.Header by.
const (
	// TraceparentHeader carries a W3C trace ID, parent ID and flags.
	TraceparentHeader = "Traceparent"
	// TracestateHeader carries vendor-specific W3C trace state, passed on
	// unchanged.
	TracestateHeader = "Tracestate"
)

// Limits ParseTraceparent and BoundTracestate apply to what a client sends.
const (
	// MaxTraceparentLength is the longest traceparent ParseTraceparent
	// reads. Version 00 is exactly 55 bytes; later versions may append
	// fields, which are ignored.
	MaxTraceparentLength = 512
	// MaxTracestateLength is the longest tracestate passed on, the limit
	// W3C Trace Context asks a vendor to propagate at least.
	MaxTracestateLength = 512
	// MaxTracestateMembers is the most list members a tracestate may hold.
	MaxTracestateMembers = 32

	traceparentV0Length = 55
)

// ErrMalformedTraceparent is returned by ParseTraceparent for a value that
// is not a valid W3C traceparent.
var ErrMalformedTraceparent = errors.New("xray: malformed traceparent header")

// Traceparent is a parsed W3C traceparent value.
type Traceparent struct {
	TraceID  trace.TraceID
	ParentID trace.SpanID
	Sampled  bool // the sampled flag (bit 0 of trace-flags)
}

// Header returns the X-Ray header that carries the same trace: the same
// trace and parent IDs, Sampled=1 or Sampled=0.
func (p Traceparent) Header() Header {
	h := Header{TraceID: p.TraceID, ParentID: p.ParentID, Sampled: NotSampled}
	if p.Sampled {
		h.Sampled = Sampled
	}
	return h
}

// ParseTraceparent parses a W3C traceparent value such as
// "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01". Version 00
// must be exactly 55 bytes of lowercase hex and dashes; a later version is
// read leniently (its first four fields, with anything after a dash
// ignored), as the specification asks; version ff and all-zero IDs are
// invalid. Any other value, or one longer than MaxTraceparentLength,
// returns ErrMalformedTraceparent. It reads each byte at most once and
// does not allocate.
func ParseTraceparent(s string) (Traceparent, error) {
	var p Traceparent
	if len(s) < traceparentV0Length || len(s) > MaxTraceparentLength {
		return p, ErrMalformedTraceparent
	}
	ver, ok := lowerHexByte(s[0:2])
	if !ok || ver == 0xff || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return p, ErrMalformedTraceparent
	}
	if ver == 0 && len(s) != traceparentV0Length {
		return p, ErrMalformedTraceparent
	}
	if len(s) > traceparentV0Length && s[traceparentV0Length] != '-' {
		return p, ErrMalformedTraceparent
	}
	if !decodeLowerHex(p.TraceID[:], s[3:35]) || !decodeLowerHex(p.ParentID[:], s[36:52]) {
		return Traceparent{}, ErrMalformedTraceparent
	}
	flags, ok := lowerHexByte(s[53:55])
	if !ok || !p.TraceID.IsValid() || !p.ParentID.IsValid() {
		return Traceparent{}, ErrMalformedTraceparent
	}
	p.Sampled = flags&1 == 1
	return p, nil
}

// AppendTraceparent appends a version 00 traceparent for the trace, the
// parent span and the sampling decision.
func AppendTraceparent(dst []byte, traceID trace.TraceID, parent trace.SpanID, sampled bool) []byte {
	dst = append(dst, '0', '0', '-')
	dst = appendHex(dst, traceID[:])
	dst = append(dst, '-')
	dst = appendHex(dst, parent[:])
	if sampled {
		return append(dst, '-', '0', '1')
	}
	return append(dst, '-', '0', '0')
}

// BoundTracestate returns the part of a received tracestate value that is
// passed on: the value without surrounding spaces, cut at the last list
// member that ends within MaxTracestateLength bytes and within
// MaxTracestateMembers members. A value with control or non-ASCII bytes,
// which no valid tracestate has, returns "". The result is a substring of
// s, so it does not allocate, and the work is linear in
// min(len(s), MaxTracestateLength).
func BoundTracestate(s string) string {
	s = strings.Trim(s, " \t")
	if len(s) > MaxTracestateLength {
		// Keep whole members only: cut at the last comma within the limit.
		cut := strings.LastIndexByte(s[:MaxTracestateLength+1], ',')
		if cut < 0 {
			return ""
		}
		s = strings.TrimRight(s[:cut], " \t")
	}
	members := 1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' && c != '\t' || c > '~' {
			return ""
		}
		if c == ',' {
			if members == MaxTracestateMembers {
				return strings.TrimRight(s[:i], " \t")
			}
			members++
		}
	}
	return s
}

// lowerHexByte decodes two lowercase hex digits.
func lowerHexByte(s string) (byte, bool) {
	hi, ok1 := fromLowerHex(s[0])
	lo, ok2 := fromLowerHex(s[1])
	return hi<<4 | lo, ok1 && ok2
}

// decodeLowerHex decodes len(dst)*2 lowercase hex digits of s into dst.
func decodeLowerHex(dst []byte, s string) bool {
	for i := range dst {
		b, ok := lowerHexByte(s[2*i : 2*i+2])
		if !ok {
			return false
		}
		dst[i] = b
	}
	return true
}

func fromLowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
