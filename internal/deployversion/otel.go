package deployversion

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceAttributesEnv is the OpenTelemetry variable that carries
// resource attributes, among them service.version.
const ResourceAttributesEnv = "OTEL_RESOURCE_ATTRIBUTES"

// ServiceVersionKey is the OpenTelemetry resource attribute of the
// service's version.
const ServiceVersionKey = "service.version"

// FromResourceAttributes returns service.version from the value of
// OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value members, keys and
// values trimmed of spaces, values percent-decoded ('+' stays '+'). When a
// key appears twice the last value wins. As the OpenTelemetry
// specification asks, a malformed value (a member without '=', an empty
// key, a bad percent escape) discards the whole variable: the result is
// the zero Version and an error that says why.
func FromResourceAttributes(attrs string) (Version, error) {
	var value string
	for member := range strings.SplitSeq(attrs, ",") {
		if strings.TrimSpace(member) == "" {
			continue
		}
		k, v, ok := strings.Cut(member, "=")
		if !ok {
			return Version{}, fmt.Errorf("deployversion: %s member %q has no '='", ResourceAttributesEnv, short(member))
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return Version{}, fmt.Errorf("deployversion: %s member %q has an empty key", ResourceAttributesEnv, short(member))
		}
		dv, err := percentDecode(strings.TrimSpace(v))
		if err != nil {
			return Version{}, fmt.Errorf("deployversion: %s value of %q: %w", ResourceAttributesEnv, short(k), err)
		}
		if k == ServiceVersionKey {
			value = dv
		}
	}
	return newVersion(value, SourceOTel), nil
}

var errBadEscape = errors.New("bad percent escape")

// percentDecode decodes %XX escapes and nothing else.
func percentDecode(s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	b := []byte(s[:i])
	for ; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errBadEscape
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", errBadEscape
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// short cuts s for an error message.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
