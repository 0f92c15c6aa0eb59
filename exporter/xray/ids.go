package xray

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// NewTraceID returns a new X-Ray trace ID: the first four bytes are the
// current Unix time in seconds, the other twelve are random. In text it is
// written 1-{8 hex digits}-{24 hex digits}. The same 16 bytes are a valid
// W3C trace ID (32 hex digits, as AppendTraceparent writes it); keeping
// the time in front is what lets X-Ray accept the ID from either header.
func NewTraceID(now time.Time) trace.TraceID {
	var id trace.TraceID
	binary.BigEndian.PutUint32(id[0:4], uint32(now.Unix()))
	binary.BigEndian.PutUint32(id[4:8], rand.Uint32())
	binary.BigEndian.PutUint64(id[8:16], rand.Uint64())
	return id
}

// NewSpanID returns a new random, non-zero segment or subsegment ID.
func NewSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

const hexDigits = "0123456789abcdef"

// AppendTraceID appends id in X-Ray form: 1-5759e988-bd862e3fe1be46a994272793.
func AppendTraceID(dst []byte, id trace.TraceID) []byte {
	dst = append(dst, '1', '-')
	dst = appendHex(dst, id[0:4])
	dst = append(dst, '-')
	return appendHex(dst, id[4:16])
}

// AppendSpanID appends id as 16 lowercase hex digits.
func AppendSpanID(dst []byte, id trace.SpanID) []byte {
	return appendHex(dst, id[:])
}

// FormatTraceID returns id in X-Ray form.
func FormatTraceID(id trace.TraceID) string {
	var buf [35]byte
	return string(AppendTraceID(buf[:0], id))
}

func appendHex(dst []byte, b []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(b))[:n+2*len(b)]
	out := dst[n:]
	for i, c := range b {
		out[2*i] = hexDigits[c>>4]
		out[2*i+1] = hexDigits[c&0xF]
	}
	return dst
}

var errBadID = errors.New("xray: malformed ID")

// ParseTraceID parses an X-Ray trace ID (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx).
func ParseTraceID(s string) (trace.TraceID, error) {
	var id trace.TraceID
	if len(s) != 35 || s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return id, errBadID
	}
	if !decodeHex(id[0:4], s[2:10]) || !decodeHex(id[4:16], s[11:35]) || !id.IsValid() {
		return trace.TraceID{}, errBadID
	}
	return id, nil
}

// ParseSpanID parses a 16-hex-digit segment ID.
func ParseSpanID(s string) (trace.SpanID, error) {
	var id trace.SpanID
	if len(s) != 16 || !decodeHex(id[:], s) || !id.IsValid() {
		return trace.SpanID{}, errBadID
	}
	return id, nil
}

// decodeHex decodes len(dst) bytes from the first 2*len(dst) hex digits of
// s, of either case, and reports whether they all were hex digits.
func decodeHex(dst []byte, s string) bool {
	if len(s) < 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad&0xF0 == 0
}

// hexValue maps a hex digit to its value and any other byte to 0xFF.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()
