package allocs

import "testing"

var sink []byte

func TestBytes(t *testing.T) {
	small := Bytes(10, func() { sink = make([]byte, 1<<10) })
	large := Bytes(10, func() { sink = make([]byte, 1<<16) })
	if small < 1<<10 || large < 1<<16 || large < 32*small {
		t.Fatalf("1 KiB allocation measured %d bytes, 64 KiB %d", small, large)
	}
	if n := Bytes(10, func() {}); n > 64 {
		t.Fatalf("a function that allocates nothing measured %d bytes", n)
	}
}
