package xrayotel

import (
	"bytes"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// FuzzAppendString checks that appendString writes what
// jsonenc.AppendString writes, whichever path it takes, and that
// plainASCII agrees with a byte-by-byte check.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain text", "GET /users/{id}", `a"b`, `a\b`, "tab\there", "\x1f23456789",
		"é", "0123456\"", "0123456\\", "01234567\x00", "\u2028", "abcdefgh\xff", "~~~~~~~~ !!!!!!!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := jsonenc.AppendString([]byte("x"), s)
		if got := appendString([]byte("x"), s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
		plain := true
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				plain = false
			}
		}
		if plainASCII(s) != plain {
			t.Fatalf("plainASCII(%q) = %v, want %v", s, !plain, plain)
		}
	})
}

// TestPlainASCIIEachByte puts each byte value at each position of a
// 16-byte text, so every lane of the eight-byte check sees every byte.
func TestPlainASCIIEachByte(t *testing.T) {
	for c := range 256 {
		want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
		for pos := range 17 {
			b := []byte("abcdefghijklmnopq")
			b[pos] = byte(c)
			if got := plainASCII(string(b)); got != want {
				t.Fatalf("byte %#x at %d: plainASCII = %v, want %v", c, pos, got, want)
			}
		}
	}
}
