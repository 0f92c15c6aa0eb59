package sampling

import (
	"strconv"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/allocs"
)

// rulesDoc is a version 2 document with n rules.
func rulesDoc(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"version":2,"default":{"fixed_target":1,"rate":0.1},"rules":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"description":"r` + strconv.Itoa(i) + `","host":"*","http_method":"*","url_path":"/p` + strconv.Itoa(i) + `/*","fixed_target":0,"rate":0.5}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// Parsing n rules does work linear in n: bytes allocated at n and 4n. (Go
// grows slices by doubling, so 4n may cost up to about 5 times n.)
func TestParseLinear(t *testing.T) {
	work := func(n int) uint64 {
		doc := rulesDoc(n)
		return allocs.Bytes(5, func() {
			if _, err := Parse(doc); err != nil {
				t.Fatal(err)
			}
		})
	}
	const n = 500
	atN, at4N := work(n), work(4*n)
	t.Logf("bytes allocated: %d at n=%d, %d at 4n", atN, n, at4N)
	if at4N > 6*atN {
		t.Fatalf("Parse allocates %d bytes for %d rules, %d for %d: super-linear", atN, n, at4N, 4*n)
	}
}

// Matching a client's path against a rule's pattern does work linear in
// the path, even for the patterns that make wildcard matchers backtrack:
// steps counted at n and 4n.
func TestMatchLinear(t *testing.T) {
	for _, pattern := range []string{"*a*a*a*b", "*aaaaaaaab", "*?*?*b", "/api/*/x*y*z"} {
		steps := func(n int) int {
			c := 0
			if match(pattern, "/"+strings.Repeat("a", n), &c) {
				t.Fatalf("%q matched", pattern)
			}
			return c
		}
		const n = 1000
		atN, at4N := steps(n), steps(4*n)
		t.Logf("pattern %q: %d steps at n=%d, %d at 4n", pattern, atN, n, at4N)
		if at4N > 4*atN+64*len(pattern) || atN > (len(pattern)+1)*(n+1) {
			t.Errorf("pattern %q: %d steps at n=%d, %d at 4n", pattern, atN, n, at4N)
		}
	}
}
