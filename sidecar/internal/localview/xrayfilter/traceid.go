package xrayfilter

import "strings"

// TraceID reports whether s names one trace rather than being a filter
// expression, and returns its X-Ray trace ID (lower case). s may be an
// X-Ray trace ID (1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy), a W3C trace ID (32
// hex digits), an X-Amzn-Trace-Id header (Root=...;Parent=...;Sampled=...)
// or a traceparent header (00-<trace id>-<parent id>-<flags>), each with or
// without its "Name:" prefix.
func TraceID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 512 {
		return "", false
	}
	if name, v, ok := strings.Cut(s, ":"); ok {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "x-amzn-trace-id", "traceparent":
			s = strings.TrimSpace(v)
		}
	}
	switch {
	case isXRayID(s):
		return strings.ToLower(s), true
	case len(s) == 32 && isHex(s):
		return fromW3C(s), true
	case len(s) == 55 && s[2] == '-' && s[35] == '-' && s[52] == '-' && isHex(s[:2]) && isHex(s[3:35]) && isHex(s[36:52]) && isHex(s[53:]):
		return fromW3C(s[3:35]), true
	}
	// X-Amzn-Trace-Id: Root=...; fields in any order, spaces allowed.
	for part := range strings.SplitSeq(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "Root") && isXRayID(v) {
			return strings.ToLower(v), true
		}
	}
	return "", false
}

func fromW3C(s string) string {
	s = strings.ToLower(s)
	return "1-" + s[:8] + "-" + s[8:]
}

func isXRayID(s string) bool {
	return len(s) == 35 && s[0] == '1' && s[1] == '-' && s[10] == '-' && isHex(s[2:10]) && isHex(s[11:])
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
