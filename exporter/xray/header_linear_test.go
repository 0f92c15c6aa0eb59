package xray

import (
	"strconv"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/allocs"
)

const testRoot = "Root=1-5759e988-bd862e3fe1be46a994272793"

// unknownKeys returns a header with Root, Parent and Sampled followed by n
// distinct unknown keys.
func unknownKeys(n int) string {
	var b strings.Builder
	b.WriteString(testRoot + ";Parent=53995c3f42cd8ad8;Sampled=1")
	for i := range n {
		b.WriteString(";k")
		b.WriteString(strconv.Itoa(i))
		b.WriteString("=v")
	}
	return b.String()
}

// The work ParseHeader does for a header with n unknown keys must grow at
// most linearly in n: counted in bytes allocated, which grew with the square
// of n when every unknown key was appended to Extra by concatenation.
func TestParseHeaderLinear(t *testing.T) {
	const n = 200
	work := func(keys int) uint64 {
		in := unknownKeys(keys)
		return allocs.Bytes(5, func() {
			if _, err := ParseHeader(in); err != nil {
				t.Fatal(err)
			}
		})
	}
	atN, at4N := work(n), work(4*n)
	t.Logf("bytes allocated: %d at n=%d, %d at 4n", atN, n, at4N)
	if at4N > 4*atN+1024 {
		t.Fatalf("ParseHeader allocates %d bytes for %d keys but %d for %d: super-linear", atN, n, at4N, 4*n)
	}
}
