package xray

import (
	"encoding/hex"
	"testing"
)

// decodeHex reads a byte from every pair of bytes as encoding/hex does
// (hex digits of either case), and refuses every pair it refuses.
func TestDecodeHexAgreesWithEncodingHex(t *testing.T) {
	var in [2]byte
	var got [1]byte
	for a := range 256 {
		for b := range 256 {
			in[0], in[1] = byte(a), byte(b)
			want, err := hex.DecodeString(string(in[:]))
			ok := decodeHex(got[:], string(in[:]))
			if ok != (err == nil) || ok && got[0] != want[0] {
				t.Fatalf("%q: decodeHex %v %#x, encoding/hex %#x %v", in[:], ok, got[0], want, err)
			}
		}
	}
	if decodeHex(got[:], "a") {
		t.Fatal("decodeHex read past a short input")
	}
}
