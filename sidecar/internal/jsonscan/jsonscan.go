package jsonscan

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays accepted.
const MaxDepth = 256

// Errors returned by the scanner.
var (
	ErrSyntax    = errors.New("jsonscan: invalid JSON")
	ErrNotObject = errors.New("jsonscan: not a JSON object")
	ErrTooDeep   = errors.New("jsonscan: nesting too deep")
)

// Valid reports whether doc is one valid JSON value.
func Valid(doc []byte) bool {
	i := skipWS(doc, 0)
	end, err := value(doc, i, 0)
	if err != nil {
		return false
	}
	return skipWS(doc, end) == len(doc)
}

// Object checks that doc is exactly one valid JSON object (whitespace
// around it allowed) and calls fn for each of its members in order, with
// the raw key (between the quotes, escapes not decoded) and the raw,
// validated value. It scans the document once: when it returns an error,
// fn may already have been called for the members before the error, so
// callers must not act on what fn saw unless the error is nil. A non-nil
// error from fn stops the walk and is returned.
func Object(doc []byte, fn func(key, value []byte) error) error {
	i := skipWS(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		if Valid(doc) {
			return ErrNotObject
		}
		return ErrSyntax
	}
	i = skipWS(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return trailing(doc, i+1)
	}
	for {
		kEnd, err := str(doc, i)
		if err != nil {
			return err
		}
		key := doc[i+1 : kEnd-1]
		i = skipWS(doc, kEnd)
		if i >= len(doc) || doc[i] != ':' {
			return ErrSyntax
		}
		i = skipWS(doc, i+1)
		vEnd, err := value(doc, i, 1)
		if err != nil {
			return err
		}
		if err := fn(key, doc[i:vEnd]); err != nil {
			return err
		}
		i = skipWS(doc, vEnd)
		if i >= len(doc) {
			return ErrSyntax
		}
		if doc[i] == '}' {
			return trailing(doc, i+1)
		}
		if doc[i] != ',' {
			return ErrSyntax
		}
		i = skipWS(doc, i+1)
	}
}

func trailing(doc []byte, i int) error {
	if skipWS(doc, i) != len(doc) {
		return ErrSyntax
	}
	return nil
}

// Members calls fn for each member of obj, which must be a valid JSON
// object (for example a value handed out by Object). It returns
// ErrNotObject when obj is not an object.
func Members(obj []byte, fn func(key, value []byte) error) error {
	if len(obj) == 0 || obj[0] != '{' {
		return ErrNotObject
	}
	i := skipWS(obj, 1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for i < len(obj) {
		kEnd, err := str(obj, i)
		if err != nil {
			return err
		}
		key := obj[i+1 : kEnd-1]
		i = skipWS(obj, kEnd)
		i = skipWS(obj, i+1) // ':'
		vEnd, err := value(obj, i, 1)
		if err != nil {
			return err
		}
		if err := fn(key, obj[i:vEnd]); err != nil {
			return err
		}
		i = skipWS(obj, vEnd)
		if i >= len(obj) || obj[i] == '}' {
			return nil
		}
		i = skipWS(obj, i+1) // ','
	}
	return ErrSyntax
}

// Elements calls fn for each element of arr, which must be a valid JSON
// array. It returns ErrSyntax when arr is not an array.
func Elements(arr []byte, fn func(elem []byte) error) error {
	if len(arr) == 0 || arr[0] != '[' {
		return ErrSyntax
	}
	i := skipWS(arr, 1)
	if i < len(arr) && arr[i] == ']' {
		return nil
	}
	for i < len(arr) {
		end, err := value(arr, i, 1)
		if err != nil {
			return err
		}
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = skipWS(arr, end)
		if i >= len(arr) || arr[i] == ']' {
			return nil
		}
		i = skipWS(arr, i+1)
	}
	return ErrSyntax
}

// String decodes a raw JSON string value. ok is false when v is not a
// string. Invalid UTF-8 becomes U+FFFD, as with encoding/json.
func String(v []byte) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	if !hasEscape(in) && utf8.Valid(in) {
		return string(in), true
	}
	out, _ := AppendString(make([]byte, 0, len(in)), v)
	return string(out), true
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// AppendString appends the decoded raw JSON string value v to dst. ok is
// false (and dst unchanged) when v is not a string.
func AppendString(dst, v []byte) (out []byte, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return dst, false
	}
	in := v[1 : len(v)-1]
	if !hasEscape(in) && utf8.Valid(in) {
		return append(dst, in...), true
	}
	out = dst
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(in[i:])
			out = utf8.AppendRune(out, r) // invalid bytes become U+FFFD, as encoding/json does
			i += size - 1
			continue
		}
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch in[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(in[i+1 : i+5])
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(in) && in[i+1] == '\\' && in[i+2] == 'u' {
				r2 := hex4(in[i+3 : i+7])
				if r2 >= 0xDC00 && r2 < 0xE000 {
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, in[i])
		}
	}
	return out, true
}

// Equal reports whether the raw JSON string value v equals s without
// allocating when v has no escapes.
func Equal(v []byte, s string) bool {
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	in := v[1 : len(v)-1]
	if !hasEscape(in) && utf8.Valid(in) {
		return string(in) == s
	}
	d, _ := String(v)
	return d == s
}

// Number decodes a raw JSON number value.
func Number(v []byte) (float64, bool) {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64) // does not escape: no allocation
	if err != nil {
		// Out-of-range numbers are valid JSON but not usable values.
		return 0, false
	}
	return f, true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// work, when not nil, counts the values and strings scanned; only this
// package's tests set it, to check the scanner's work grows linearly.
var work *int

// value validates the value starting at b[i] and returns the index after it.
func value(b []byte, i, depth int) (int, error) {
	if work != nil {
		*work++
	}
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch c := b[i]; {
	case c == '{':
		if depth >= MaxDepth {
			return 0, ErrTooDeep
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			end, err := str(b, i)
			if err != nil {
				return 0, err
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, ErrSyntax
			}
			i = skipWS(b, i+1)
			if i, err = value(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, ErrSyntax
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, ErrSyntax
			}
			i = skipWS(b, i+1)
		}
	case c == '[':
		if depth >= MaxDepth {
			return 0, ErrTooDeep
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = value(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, ErrSyntax
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, ErrSyntax
			}
			i = skipWS(b, i+1)
		}
	case c == '"':
		return str(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return number(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return 0, ErrSyntax
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return 0, ErrSyntax
}

// str validates the string starting at b[i] (which must be '"').
func str(b []byte, i int) (int, error) {
	if work != nil {
		*work++
	}
	if i >= len(b) || b[i] != '"' {
		return 0, ErrSyntax
	}
	i++
	for i < len(b) {
		// Skip eight plain bytes at a time, then straight to the first
		// byte that may need a look.
		for i+8 <= len(b) {
			m := special(binary.LittleEndian.Uint64(b[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, ErrSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, ErrSyntax
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return 0, ErrSyntax
					}
				}
				i += 6
			default:
				return 0, ErrSyntax
			}
		case c < 0x20:
			return 0, ErrSyntax
		default:
			i++
		}
	}
	return 0, ErrSyntax
}

// special returns a mask with the high bit set in bytes of the
// little-endian word x that may be '"', '\\' or a control character
// (< 0x20). The lowest set bit is exact: the subtractions can only mark a
// byte above a real match too (a borrow runs upwards), never below one, so
// a word without a match gives 0 and otherwise the first match is at
// TrailingZeros64/8.
func special(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	bslash := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (bslash-ones)&^bslash) & highs
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func number(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return 0, ErrSyntax
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, ErrSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, ErrSyntax
		}
	}
	return i, nil
}
