package jsonenc

import (
	"math"
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe reports which ASCII bytes need no escaping inside a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends s as a quoted, escaped JSON string.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendStringContents(dst, s)
	return append(dst, '"')
}

// AppendStringContents appends s escaped for use inside a JSON string,
// without the surrounding quotes.
func AppendStringContents(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Fast path: skip eight plain bytes at a time (printable ASCII
		// other than '"' and '\\'), the whole of most strings.
		for i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript parsers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// plain8 reports whether all of the eight bytes of s need no escaping:
// none is below 0x20, at or above 0x80, '"' or '\\'. Each test is the
// exact "some byte is less than n" or "some byte is zero" word trick.
func plain8(s string) bool {
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	if w&highs != 0 {
		return false // a byte at or above 0x80
	}
	// With every byte below 0x80, (v - ones*n) &^ v has a high bit set
	// exactly when some byte of v is below n (no false alarm when none is).
	q := w ^ '"'*ones   // a zero byte where w has '"'
	bs := w ^ '\\'*ones // a zero byte where w has '\\'
	hit := (w - 0x20*ones) &^ w
	hit |= (q - ones) &^ q
	hit |= (bs - ones) &^ bs
	return hit&highs == 0
}

// AppendKey appends "key": (with a leading comma when comma is true).
func AppendKey(dst []byte, key string, comma bool) []byte {
	if comma {
		dst = append(dst, ',')
	}
	dst = AppendString(dst, key)
	return append(dst, ':')
}

// AppendFloat appends f the way encoding/json formats a float64. NaN and
// infinities are not valid JSON; they are written as null, so a caller that
// must refuse them has to check with math.IsNaN/IsInf first.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// AppendSeconds appends a Unix time in seconds with microsecond precision,
// the form X-Ray uses for start_time and end_time (for example
// 1700000000.123456). It never uses exponent notation.
func AppendSeconds(dst []byte, unixMicro int64) []byte {
	// Written right to left into a small array, then appended once.
	var buf [24]byte
	i := len(buf)
	u := uint64(unixMicro)
	if unixMicro < 0 {
		u = -u
	}
	sec, frac := u/1e6, u%1e6
	for k := 0; k < 6; k++ {
		i--
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	i--
	buf[i] = '.'
	for {
		i--
		buf[i] = byte('0' + sec%10)
		sec /= 10
		if sec == 0 {
			break
		}
	}
	if unixMicro < 0 {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}

// AppendBool appends true or false.
func AppendBool(dst []byte, v bool) []byte {
	return strconv.AppendBool(dst, v)
}

// AppendInt appends v in decimal.
func AppendInt(dst []byte, v int64) []byte {
	return strconv.AppendInt(dst, v, 10)
}

// CutRunes returns s cut to at most n characters (runes), the unit in
// which document formats such as X-Ray's limit string lengths.
func CutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
