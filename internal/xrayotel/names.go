package xrayotel

import (
	"sort"
	"unicode/utf8"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/xraykey"
)

// appendName appends name as a JSON string holding only the characters
// X-Ray accepts in segment names (Unicode letters, numbers and spaces and
// _.:/%&#=+-@), cut to MaxNameLength characters. A name left empty is
// written as fallback.
func appendName(dst []byte, name, fallback string) []byte {
	dst = append(dst, '"')
	start := len(dst)
	n := 0
	for _, r := range name {
		if n == MaxNameLength {
			break
		}
		if nameRune(r) {
			dst = utf8.AppendRune(dst, r)
			n++
		}
	}
	if len(dst) == start {
		dst = append(dst, fallback...)
	}
	return append(dst, '"')
}

// sanitizeName returns name as appendName writes it.
func sanitizeName(name, fallback string) string {
	b := appendName(nil, name, fallback)
	return string(b[1 : len(b)-1])
}

func nameRune(r rune) bool {
	if r < utf8.RuneSelf {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return true
		}
		switch r {
		case ' ', '_', '.', ':', '/', '%', '&', '#', '=', '+', '-', '@':
			return true
		}
		return false
	}
	if r > 0xFFFF {
		return false
	}
	i := sort.Search(len(nameRanges), func(i int) bool { return rune(nameRanges[i][1]) >= r })
	return i < len(nameRanges) && rune(nameRanges[i][0]) <= r
}

// AppendAnnotationKey appends key with every byte outside [A-Za-z0-9_]
// replaced by '_', cut to MaxAnnotationKeyLength bytes, as X-Ray requires
// of annotation keys.
func AppendAnnotationKey(dst []byte, key string) []byte {
	return xraykey.Append(dst, key)
}

// appendField appends ,"key":"value" when value is not empty, cutting
// value to max characters when max > 0.
func appendField(dst []byte, key, value string, max int, comma *bool) []byte {
	if value == "" {
		return dst
	}
	if max > 0 {
		value = jsonenc.CutRunes(value, max)
	}
	dst = jsonenc.AppendKey(dst, key, *comma)
	*comma = true
	return jsonenc.AppendString(dst, value)
}
