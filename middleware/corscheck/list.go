package corscheck

import "strings"

// This file parses the comma-separated header lists of the CORS protocol
// (Access-Control-Allow-Methods, -Allow-Headers, -Expose-Headers,
// -Request-Headers, Vary) the way Chromium does: split on commas, trim
// optional whitespace, ignore empty elements, and require every element to
// be an RFC 9110 token. None of these functions allocate.

// trimOWS removes leading and trailing spaces and tabs (and the CR/LF that
// net/http also strips when it writes a value).
func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// nextItem returns the first non-empty element of the list s and the rest
// of the list. ok is false when no element is left.
func nextItem(s string) (item, rest string, ok bool) {
	for s != "" {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			item, s = s, ""
		} else {
			item, s = s[:i], s[i+1:]
		}
		if item = trimOWS(item); item != "" {
			return item, s, true
		}
	}
	return "", "", false
}

// validList reports whether every element of s is a token.
func validList(s string) bool {
	for item, rest, ok := nextItem(s); ok; item, rest, ok = nextItem(rest) {
		if !isToken(item) {
			return false
		}
	}
	return true
}

// listHas reports whether the list s contains x: exactly when exact is true
// (methods), ASCII case-insensitively otherwise (header names).
func listHas(s, x string, exact bool) bool {
	for item, rest, ok := nextItem(s); ok; item, rest, ok = nextItem(rest) {
		if item == x || !exact && len(item) == len(x) && strings.EqualFold(item, x) {
			return true
		}
	}
	return false
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// safelistedMethod reports whether m is a CORS-safelisted method.
func safelistedMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "POST" }

// safelistedResponseHeader reports whether the page can read the response
// header n without Access-Control-Expose-Headers.
func safelistedResponseHeader(n string) bool {
	for _, s := range [...]string{"Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires", "Last-Modified", "Pragma"} {
		if len(n) == len(s) && strings.EqualFold(n, s) {
			return true
		}
	}
	return false
}
