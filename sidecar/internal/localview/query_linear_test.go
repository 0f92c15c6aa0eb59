package localview

import (
	"net/url"
	"strings"
	"testing"
)

// The list and metrics query parsers take work linear in the query: the
// allocations for a query of 4n parameters and a 4n-byte annotation are at
// most 4 times those at n (the parsers read the first value of each name;
// url.ParseQuery, which the handler runs first, is counted too).
func TestQueryParserLinear(t *testing.T) {
	allocs := func(n int) float64 {
		var b strings.Builder
		b.WriteString("annotation=" + strings.Repeat("k", n) + "%3D" + strings.Repeat("v", n))
		for i := range n {
			b.WriteString("&service=s&min_ms=1&limit=5&bucket=60&status=fault&seg_service=s&seg_route=r&seg_status=error&seg_min_ms=2&seg_since=15m&seg_until=1e9")
			if i%2 == 0 {
				b.WriteString("&namespace=x")
			}
		}
		raw := b.String()
		return testing.AllocsPerRun(5, func() {
			v, err := url.ParseQuery(raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseListQuery(v); err != nil {
				t.Fatal(err)
			}
			if _, err := parseMetricsQuery(v); err != nil {
				t.Fatal(err)
			}
		})
	}
	const n = 200
	a1, a4 := allocs(n), allocs(4*n)
	t.Logf("allocations: %.0f at n=%d, %.0f at 4n", a1, n, a4)
	if a1 == 0 || a4 > 4*a1 {
		t.Errorf("allocations grew from %.0f to %.0f for 4x the query: not linear", a1, a4)
	}
}
