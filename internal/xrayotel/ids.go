package xrayotel

import "fmt"

const hexDigits = "0123456789abcdef"

// AppendTraceID appends a 16-byte W3C trace ID in X-Ray form:
// "1-" + the first 8 hex digits + "-" + the other 24. It fails on an ID
// that is not 16 bytes or is all zeros.
func AppendTraceID(dst []byte, id []byte) ([]byte, error) {
	if len(id) != 16 || allZero(id) {
		return dst, fmt.Errorf("%w: %d bytes %x", ErrTraceID, len(id), id)
	}
	dst = append(dst, '1', '-')
	dst = appendHex(dst, id[:4])
	dst = append(dst, '-')
	return appendHex(dst, id[4:]), nil
}

// ParseTraceID parses an X-Ray trace ID (1-5759e988-bd862e3fe1be46a994272793)
// into the 16-byte W3C trace ID it stands for.
func ParseTraceID(s string) ([]byte, error) {
	if len(s) != 35 || s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return nil, fmt.Errorf("%w: %q", ErrTraceID, s)
	}
	id := make([]byte, 16)
	if !decodeHex(id[:4], s[2:10]) || !decodeHex(id[4:], s[11:]) || allZero(id) {
		return nil, fmt.Errorf("%w: %q", ErrTraceID, s)
	}
	return id, nil
}

// AppendSpanID appends an 8-byte span ID as 16 lowercase hex digits. It
// fails on an ID that is not 8 bytes or is all zeros.
func AppendSpanID(dst []byte, id []byte) ([]byte, error) {
	if len(id) != 8 || allZero(id) {
		return dst, fmt.Errorf("%w: %d bytes %x", ErrSpanID, len(id), id)
	}
	return appendHex(dst, id), nil
}

// ParseSpanID parses a 16-hex-digit segment ID into 8 bytes.
func ParseSpanID(s string) ([]byte, error) {
	if len(s) != 16 {
		return nil, fmt.Errorf("%w: %q", ErrSpanID, s)
	}
	id := make([]byte, 8)
	if !decodeHex(id, s) || allZero(id) {
		return nil, fmt.Errorf("%w: %q", ErrSpanID, s)
	}
	return id, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return dst
}

func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
