package jsonenc

import (
	"bytes"
	"math"
	"strconv"
	"testing"
	"unicode/utf8"
)

// referenceContents is the byte-at-a-time escaper AppendStringContents was
// before its eight-byte fast path; the two must agree byte for byte.
func referenceContents(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b == '\n':
				dst = append(dst, '\\', 'n')
			case b == '\r':
				dst = append(dst, '\\', 'r')
			case b == '\t':
				dst = append(dst, '\\', 't')
			case b < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// TestStringContentsEveryByteEveryPlace puts each byte value at each
// position of plain text of several lengths, so that the eight-byte test
// sees it in every lane and at every distance from the end.
func TestStringContentsEveryByteEveryPlace(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = byte(c)
				s := string(b)
				got, want := AppendStringContents(nil, s), referenceContents(nil, s)
				if !bytes.Equal(got, want) {
					t.Fatalf("%q: got %q, want %q", s, got, want)
				}
			}
		}
	}
}

func TestPlain8(t *testing.T) {
	if !plain8("abcdefgh") || !plain8(" ~!#$%&'") || !plain8("{}[]:/,.") {
		t.Fatal("plain text not recognised as plain")
	}
	for _, s := range []string{"abcdefg\"", "\\bcdefgh", "abc\x1fefgh", "abcdefg\x80", "abc\x00efgh", "\xffbcdefgh", "abcd\x7f\x20\x21\x5c"} {
		if plain8(s) {
			t.Errorf("plain8(%q) = true", s)
		}
	}
}

func FuzzStringContentsMatchesReference(f *testing.F) {
	for _, s := range []string{"", "plain ascii text, long enough", "a\"b\\c", "\x00\x1f\x7f\x80", "é☕\u2028 \xff\xfe", "Mozilla/5.0 (X11; Linux x86_64)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := AppendStringContents([]byte("x"), s), referenceContents([]byte("x"), s)
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
	})
}

// referenceSeconds is AppendSeconds as it was before it formatted digits
// itself.
func referenceSeconds(dst []byte, unixMicro int64) []byte {
	if unixMicro < 0 {
		dst = append(dst, '-')
		unixMicro = -unixMicro
	}
	dst = strconv.AppendInt(dst, unixMicro/1e6, 10)
	frac := unixMicro % 1e6
	dst = append(dst, '.')
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(dst, digits[:]...)
}

func TestAppendSecondsMatchesReference(t *testing.T) {
	for _, v := range []int64{0, 1, 999999, 1000000, 1700000000123456, 9999999999999999, -1, -1000001, -62135596800000000, math.MaxInt64, math.MinInt64 + 1} {
		if got, want := AppendSeconds(nil, v), referenceSeconds(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendSeconds(%d) = %s, want %s", v, got, want)
		}
	}
}

func FuzzAppendSeconds(f *testing.F) {
	f.Add(int64(1700000000123456))
	f.Add(int64(-5))
	f.Fuzz(func(t *testing.T, v int64) {
		if v == math.MinInt64 {
			return // the reference cannot negate it
		}
		if got, want := AppendSeconds(nil, v), referenceSeconds(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("AppendSeconds(%d) = %s, want %s", v, got, want)
		}
	})
}

func BenchmarkAppendStringUserAgent(b *testing.B) {
	buf := make([]byte, 0, 256)
	s := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
