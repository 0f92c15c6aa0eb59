package xrayotel

import (
	"encoding/hex"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// AppendTraceID appends a 16-byte W3C trace ID in X-Ray form:
// "1-" + the first 8 hex digits + "-" + the other 24. It fails on an ID
// that is not 16 bytes or is all zeros.
func AppendTraceID(dst []byte, id []byte) ([]byte, error) {
	var t trace.TraceID
	if len(id) != len(t) || allZero(id) {
		return dst, fmt.Errorf("%w: %d bytes %x", ErrTraceID, len(id), id)
	}
	copy(t[:], id)
	return xray.AppendTraceID(dst, t), nil
}

// ParseTraceID parses an X-Ray trace ID (1-5759e988-bd862e3fe1be46a994272793)
// into the 16-byte W3C trace ID it stands for.
func ParseTraceID(s string) ([]byte, error) {
	t, err := xray.ParseTraceID(s)
	if err != nil || !t.IsValid() {
		return nil, fmt.Errorf("%w: %q", ErrTraceID, s)
	}
	return t[:], nil
}

// AppendSpanID appends an 8-byte span ID as 16 lowercase hex digits. It
// fails on an ID that is not 8 bytes or is all zeros.
func AppendSpanID(dst []byte, id []byte) ([]byte, error) {
	var s trace.SpanID
	if len(id) != len(s) || allZero(id) {
		return dst, fmt.Errorf("%w: %d bytes %x", ErrSpanID, len(id), id)
	}
	copy(s[:], id)
	return xray.AppendSpanID(dst, s), nil
}

// ParseSpanID parses a 16-hex-digit segment ID into 8 bytes.
func ParseSpanID(s string) ([]byte, error) {
	id, err := xray.ParseSpanID(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrSpanID, s)
	}
	return id[:], nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func appendHex(dst, b []byte) []byte { return hex.AppendEncode(dst, b) }
