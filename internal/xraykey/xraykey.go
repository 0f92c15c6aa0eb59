// Package xraykey holds X-Ray's rule for annotation keys, shared by the
// segment encoder (exporter/xray) and the OpenTelemetry translation
// (internal/xrayotel), so that both write the same key for the same name.
package xraykey

// MaxLength is the longest annotation key X-Ray keeps, in bytes.
const MaxLength = 500

// Append appends key as X-Ray requires of annotation keys: cut to
// MaxLength bytes, every byte outside [A-Za-z0-9_] replaced by '_'.
func Append(dst []byte, key string) []byte {
	key = cut(key)
	for i := 0; i < len(key); i++ {
		dst = append(dst, keyByte(key[i]))
	}
	return dst
}

// Same reports whether a and b become the same key under Append, without
// building either.
func Same(a, b string) bool {
	a, b = cut(a), cut(b)
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if keyByte(a[i]) != keyByte(b[i]) {
			return false
		}
	}
	return true
}

func cut(key string) string {
	if len(key) > MaxLength {
		return key[:MaxLength]
	}
	return key
}

func keyByte(c byte) byte {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
		return c
	}
	return '_'
}
