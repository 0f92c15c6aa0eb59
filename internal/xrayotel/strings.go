package xrayotel

import "github.com/seed-c77c9410/sidelight/internal/jsonenc"

// appendString is jsonenc.AppendString with a fast path for the common
// case, text of printable ASCII without quotes or backslashes, which JSON
// takes as is: it is checked eight bytes at a time and copied whole.
// Anything else goes to jsonenc, so the output is always jsonenc's.
func appendString(dst []byte, s string) []byte {
	if !plainASCII(s) {
		return jsonenc.AppendString(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendKey is jsonenc.AppendKey using appendString.
func appendKey(dst []byte, key string, comma bool) []byte {
	if comma {
		dst = append(dst, ',')
	}
	dst = appendString(dst, key)
	return append(dst, ':')
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainASCII reports whether every byte of s is ASCII at or above 0x20 and is
// neither '"' nor '\\'.
func plainASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// With no high bit set, a byte below 0x20 borrows into its own
		// high bit (w - 0x20 in each byte), and a byte equal to c makes
		// w^c zero in that byte, which borrows the same way.
		if w&highs != 0 ||
			(w-0x20*ones)&^w&highs != 0 ||
			hasZeroByte(w^('"'*ones)) || hasZeroByte(w^('\\'*ones)) {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func hasZeroByte(v uint64) bool { return (v-ones)&^v&highs != 0 }
