package jsonscan

import (
	"strconv"
	"strings"
	"testing"
)

// hostileDoc is an object of n members shaped like a segment document:
// strings with escapes, numbers, nested objects and arrays, and an "aws"
// object of n members for Members to walk again.
func hostileDoc(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"aws":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":{"a":[1,2.5e3,"x\u00e9\n"],"b":null}`)
	}
	b.WriteString(`}`)
	for i := range n {
		b.WriteString(`,"m` + strconv.Itoa(i) + `":"` + strings.Repeat(`\"ab`, 4) + `"`)
	}
	b.WriteString(`}`)
	return []byte(b.String())
}

// The scanner's work (values and strings scanned) for Object and Members
// on a document of n members grows linearly: counted at n and 4n.
func TestScanLinear(t *testing.T) {
	count := func(n int) int {
		doc := hostileDoc(n)
		c := 0
		work = &c
		defer func() { work = nil }()
		var aws []byte
		if err := Object(doc, func(k, v []byte) error {
			if string(k) == "aws" {
				aws = v
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		members := 0
		if err := Members(aws, func(k, v []byte) error { members++; return nil }); err != nil || members != n {
			t.Fatalf("Members: %d, %v", members, err)
		}
		if !Valid(doc) {
			t.Fatal("not valid")
		}
		return c
	}
	const n = 500
	atN, at4N := count(n), count(4*n)
	t.Logf("values and strings scanned: %d at n=%d, %d at 4n", atN, n, at4N)
	if at4N > 4*atN+16 {
		t.Fatalf("%d steps at n=%d, %d at 4n: super-linear", atN, n, at4N)
	}
	if at4N < 4*(atN-16) {
		t.Fatalf("%d steps at n=%d, %d at 4n: the counter misses work", atN, n, at4N)
	}
}
