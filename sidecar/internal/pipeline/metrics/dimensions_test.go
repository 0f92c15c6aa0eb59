package metrics

import (
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// ruleOK restates the Dimension rules of the CloudWatch API reference
// independently: ASCII only, no control characters, at least one
// non-whitespace character, within the length, names not starting with ':'.
func ruleOK(s string, maxLen int, name bool) bool {
	if len(s) == 0 || len(s) > maxLen || strings.TrimSpace(s) == "" || (name && strings.HasPrefix(s, ":")) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
}

func TestDimensionRules(t *testing.T) {
	for _, tc := range []struct {
		dims []emfdoc.Dim
		want string
	}{
		{[]emfdoc.Dim{{Name: []byte("Svc"), Value: []byte("api")}, {Name: []byte("Op"), Value: []byte("a b")}}, ""},
		{[]emfdoc.Dim{{Name: []byte("user"), Value: []byte("José")}}, badDimensionValue},
		{[]emfdoc.Dim{{Name: []byte("user"), Value: []byte("   ")}}, badDimensionValue},
		{[]emfdoc.Dim{{Name: []byte("user"), Value: []byte("a\tb")}}, badDimensionValue},
		{[]emfdoc.Dim{{Name: []byte("user"), Value: []byte(strings.Repeat("v", 1025))}}, badDimensionValue},
		{[]emfdoc.Dim{{Name: []byte(":user"), Value: []byte("x")}}, badDimensionName},
		{[]emfdoc.Dim{{Name: []byte(""), Value: []byte("x")}}, badDimensionName},
		{[]emfdoc.Dim{{Name: []byte("ü"), Value: []byte("x")}}, badDimensionName},
		{[]emfdoc.Dim{{Name: []byte("B"), Value: []byte("x")}, {Name: []byte("A"), Value: []byte("y")}, {Name: []byte("B"), Value: []byte("z")}}, duplicateDim},
	} {
		sorted := []int{}
		for i := range tc.dims {
			sorted = append(sorted, i)
		}
		if len(tc.dims) == 3 {
			sorted = []int{1, 0, 2} // A, B, B
		}
		if got := dimensionProblem(tc.dims, sorted); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.dims, got, tc.want)
		}
	}
}

// FuzzDimensionRules: the intake check agrees with the rules restated.
func FuzzDimensionRules(f *testing.F) {
	f.Add("Svc", "api")
	f.Add(":a", " ")
	f.Add("a\x7f", "José")
	f.Fuzz(func(t *testing.T, name, value string) {
		got := dimensionProblem([]emfdoc.Dim{{Name: []byte(name), Value: []byte(value)}}, []int{0}) == ""
		want := ruleOK(name, 255, true) && ruleOK(value, 1024, false)
		if got != want {
			t.Fatalf("%q=%q: accepted %v, rules say %v", name, value, got, want)
		}
	})
}
