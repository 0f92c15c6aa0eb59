// Package resourceattr parses OTEL_RESOURCE_ATTRIBUTES, the OpenTelemetry
// SDK environment variable of resource attributes, for every part of
// Sidelight that reads it (the middleware, the OTLP exporter and the
// deployment version), so that they all read it by the same rules:
//
//   - the value is a comma-separated list of key=value entries (the W3C
//     Baggage list form without properties); empty entries are skipped;
//   - white space around keys and values is trimmed;
//   - keys and values are percent-decoded (%XX; '+' stays '+'), since
//     ',' and '=' inside them must be written %2C and %3D; decoded bytes
//     that are not UTF-8 become U+FFFD, as W3C Baggage asks;
//   - an entry without '=', with an empty key or with a bad percent
//     escape is reported (an *EntryError naming the entry) and left out;
//     the other entries are kept;
//   - when a key appears twice the later value wins, in the place of the
//     first.
//
// The specification says a variable with any error SHOULD be discarded
// whole. Parse still returns the entries it could read beside the error,
// so the caller decides: the middleware and the deployment version follow
// the specification and discard them, the OTLP exporter refuses the
// configuration. ServiceName applies the precedence of OTEL_SERVICE_NAME
// over service.name. Parse runs in time and memory linear in its input.
package resourceattr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Names of the variables and attributes of the specification.
const (
	Env            = "OTEL_RESOURCE_ATTRIBUTES"
	ServiceNameEnv = "OTEL_SERVICE_NAME"
	ServiceNameKey = "service.name"
	ServiceVersion = "service.version"
)

// Attribute is one decoded key=value entry.
type Attribute struct {
	Key, Value string
}

// EntryError reports an entry Parse left out.
type EntryError struct {
	Index  int    // position of the entry among the comma-separated ones, from 1
	Entry  string // the entry as written, cut to 64 bytes
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("entry %d %q %s", e.Index, e.Entry, e.Reason)
}

// Errors is the error Parse returns when it left entries out: one
// *EntryError per entry, in order. Its message is on one line.
type Errors []*EntryError

func (e Errors) Error() string {
	var b strings.Builder
	for i, x := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x.Error())
	}
	return b.String()
}

// Unwrap returns the entries' errors, for errors.As.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, x := range e {
		out[i] = x
	}
	return out
}

// maxQuoted bounds the bytes of an entry an EntryError quotes.
const maxQuoted = 64

// Parse reads the value of OTEL_RESOURCE_ATTRIBUTES by the rules of the
// package comment. It returns the attributes in the order their keys
// first appear and, when some entries could not be read, an Errors
// holding one *EntryError per such entry.
func Parse(s string) ([]Attribute, error) {
	var (
		out  []Attribute
		at   map[string]int // index in out by key, once out is long enough to need it
		errs Errors
	)
	index := 0
	for entry := range strings.SplitSeq(s, ",") {
		index++
		if strings.TrimSpace(entry) == "" {
			continue
		}
		k, v, ok := strings.Cut(entry, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		var reason string
		switch {
		case !ok:
			reason = "is not key=value (no '=')"
		case k == "":
			reason = "is not key=value (empty key)"
		}
		if reason == "" {
			var kerr, verr error
			k, kerr = decode(k)
			v, verr = decode(v)
			switch {
			case kerr != nil:
				reason = "has a bad percent escape in its key"
			case verr != nil:
				reason = "has a bad percent escape in its value"
			}
		}
		if reason != "" {
			errs = append(errs, &EntryError{Index: index, Entry: cut(entry), Reason: reason})
			continue
		}
		out, at = set(out, at, Attribute{k, v})
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// set puts a into list, replacing the value of an earlier entry with the
// same key. Short lists are searched; longer ones indexed, so that n
// entries cost O(n).
func set(list []Attribute, at map[string]int, a Attribute) ([]Attribute, map[string]int) {
	const scan = 8
	if at == nil && len(list) < scan {
		for i := range list {
			if probe != nil {
				probe()
			}
			if list[i].Key == a.Key {
				list[i].Value = a.Value
				return list, nil
			}
		}
		return append(list, a), nil
	}
	if at == nil {
		at = make(map[string]int, 2*len(list))
		for i, e := range list {
			at[e.Key] = i
		}
	}
	if probe != nil {
		probe()
	}
	if i, ok := at[a.Key]; ok {
		list[i].Value = a.Value
		return list, at
	}
	at[a.Key] = len(list)
	return append(list, a), at
}

// probe, when set (by tests), is called for each key comparison or map
// lookup set makes: the work TestLinear counts.
var probe func()

// Lookup returns the value of key in attrs.
func Lookup(attrs []Attribute, key string) (string, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// ServiceName returns the service name as the specification ranks the
// two sources: OTEL_SERVICE_NAME (serviceNameEnv, trimmed) when it is not
// blank, else fromAttributes, the service.name of OTEL_RESOURCE_ATTRIBUTES.
func ServiceName(serviceNameEnv, fromAttributes string) string {
	if v := strings.TrimSpace(serviceNameEnv); v != "" {
		return v
	}
	return fromAttributes
}

var errEscape = errors.New("bad percent escape")

// decode undoes %XX escapes (and nothing else: '+' stays '+'), and
// replaces bytes that are not UTF-8 with U+FFFD.
func decode(s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return valid(s), nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errEscape
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", errEscape
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return valid(string(b)), nil
}

func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
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

// cut shortens an entry for an error message, at a rune boundary.
func cut(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
