package xraykey

import (
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"route", "route"},
		{"http.route", "http_route"},
		{"Cold Start!", "Cold_Start_"},
		{"José", "Jos__"}, // each byte of a multi-byte character
		{strings.Repeat("a", 600), strings.Repeat("a", MaxLength)},
	} {
		if got := string(Append(nil, tc.in)); got != tc.want {
			t.Errorf("Append(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSame(t *testing.T) {
	long := strings.Repeat("k", MaxLength)
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"http.route", "http_route", true},
		{"http.route", "http-route", true},
		{"route", "Route", false},
		{"a", "ab", false},
		{long + "x", long + "y", true}, // equal after the cut
	} {
		if got := Same(tc.a, tc.b); got != tc.want {
			t.Errorf("Same(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := string(Append(nil, tc.a)) == string(Append(nil, tc.b)); got != tc.want {
			t.Errorf("Append disagrees with Same for %q, %q", tc.a, tc.b)
		}
	}
}
