package resourceattr

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestParse has one row per rule of the package comment.
func TestParse(t *testing.T) {
	type attrs = []Attribute
	for _, tc := range []struct {
		rule, in string
		want     attrs
		bad      []int // indexes of the entries reported
		reason   string
	}{
		{rule: "empty", in: "", want: nil},
		{rule: "list of key=value", in: "service.name=orders,service.version=1.4.2",
			want: attrs{{"service.name", "orders"}, {"service.version", "1.4.2"}}},
		{rule: "empty entries skipped", in: ",,k=v, ,", want: attrs{{"k", "v"}}},
		{rule: "white space trimmed", in: " k = v \t, \tj=\tw x ", want: attrs{{"k", "v"}, {"j", "w x"}}},
		{rule: "empty value", in: "k=", want: attrs{{"k", ""}}},
		{rule: "value keeps later '='", in: "k=a=b", want: attrs{{"k", "a=b"}}},
		{rule: "values percent-decoded", in: "k=a%2Cb%3Dc%20d%2fe", want: attrs{{"k", "a,b=c d/e"}}},
		{rule: "keys percent-decoded", in: "team%2Cname=x", want: attrs{{"team,name", "x"}}},
		{rule: "plus stays plus", in: "service.version=1.0.0+build.7", want: attrs{{"service.version", "1.0.0+build.7"}}},
		{rule: "UTF-8 escapes", in: "k=%C3%A9t%C3%A9", want: attrs{{"k", "été"}}},
		{rule: "non-UTF-8 bytes become U+FFFD", in: "k=a%FFb", want: attrs{{"k", "a\uFFFDb"}}},
		{rule: "later value wins in the first place", in: "a=1,b=2,a=3", want: attrs{{"a", "3"}, {"b", "2"}}},
		{rule: "no '=' reported, the rest kept", in: "service.name=a,oops,service.version=2",
			want: attrs{{"service.name", "a"}, {"service.version", "2"}}, bad: []int{2}, reason: "no '='"},
		{rule: "empty key reported", in: "=1,k=v", want: attrs{{"k", "v"}}, bad: []int{1}, reason: "empty key"},
		{rule: "bad escape in value reported", in: "k=1%ZZ,j=2", want: attrs{{"j", "2"}}, bad: []int{1}, reason: "in its value"},
		{rule: "truncated escape reported", in: "j=2,k=1%2", want: attrs{{"j", "2"}}, bad: []int{2}, reason: "in its value"},
		{rule: "lone percent reported", in: "k=%", want: nil, bad: []int{1}, reason: "in its value"},
		{rule: "bad escape in key reported", in: "k%G0=1", want: nil, bad: []int{1}, reason: "in its key"},
		{rule: "every bad entry reported", in: "a,=b,c=%,d=1", want: attrs{{"d", "1"}}, bad: []int{1, 2, 3}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
			}
			var idx []int
			for _, e := range entryErrors(err) {
				idx = append(idx, e.Index)
				if !strings.Contains(tc.in, e.Entry) || !strings.Contains(err.Error(), fmt.Sprintf("%q", e.Entry)) {
					t.Errorf("error %v does not quote the entry %q of %q", err, e.Entry, tc.in)
				}
			}
			if !reflect.DeepEqual(idx, tc.bad) {
				t.Errorf("Parse(%q) reported entries %v (%v), want %v", tc.in, idx, err, tc.bad)
			}
			if tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)) {
				t.Errorf("error %v does not say %q", err, tc.reason)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is on more than one line", err)
			}
		})
	}
}

func entryErrors(err error) []*EntryError {
	if err == nil {
		return nil
	}
	var out []*EntryError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			var ee *EntryError
			if errors.As(e, &ee) {
				out = append(out, ee)
			}
		}
	}
	return out
}

func TestLongEntryQuotedShort(t *testing.T) {
	_, err := Parse("k=" + strings.Repeat("é", 100) + "%")
	es := entryErrors(err)
	if len(es) != 1 || len(es[0].Entry) > maxQuoted+len("…") || !utf8.ValidString(es[0].Entry) {
		t.Fatalf("error %v", err)
	}
}

func TestServiceName(t *testing.T) {
	attrs, _ := Parse("service.name=fromattrs")
	fromAttrs, _ := Lookup(attrs, ServiceNameKey)
	for _, tc := range []struct{ env, attr, want string }{
		{"svc", fromAttrs, "svc"},      // OTEL_SERVICE_NAME wins
		{" svc\n", fromAttrs, "svc"},   // trimmed
		{"  ", fromAttrs, "fromattrs"}, // blank is unset
		{"", fromAttrs, "fromattrs"},
		{"", "", ""},
	} {
		if got := ServiceName(tc.env, tc.attr); got != tc.want {
			t.Errorf("ServiceName(%q, %q) = %q, want %q", tc.env, tc.attr, got, tc.want)
		}
	}
	if _, ok := Lookup(attrs, ServiceVersion); ok {
		t.Error("Lookup found an absent key")
	}
}

// TestLinear checks that Parse's work grows linearly with its input: at
// 4n entries at most 4.5 times the key probes (comparisons and map
// lookups) and allocations at n, and 6 times the bytes (slices grow by doubling; quadratic work would be 16 times), for
// distinct keys, one key repeated, bad entries and one long escaped value.
func TestLinear(t *testing.T) {
	shapes := map[string]func(n int) string{
		"distinct keys": func(n int) string {
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, "key%d=value%%20%d,", i, i)
			}
			return b.String()
		},
		"one key repeated": func(n int) string { return strings.Repeat("k=v%2C,", n) },
		"bad entries":      func(n int) string { return strings.Repeat("oops,k=%Z,", n) },
		"one long value":   func(n int) string { return "k=" + strings.Repeat("%41b", n) },
	}
	for name, gen := range shapes {
		t.Run(name, func(t *testing.T) {
			const n = 500
			small, large := gen(n), gen(4*n)
			as, bs, ps := cost(small)
			al, bl, pl := cost(large)
			if al > 4.5*as+8 || bl > 6*bs+1024 || float64(pl) > 4.5*float64(ps)+8 {
				t.Errorf("n=%d: %.0f allocs, %.0f bytes, %d key probes; 4n: %.0f allocs, %.0f bytes, %d key probes (want at most 4.5×, 6×, 4.5×)",
					n, as, bs, ps, al, bl, pl)
			}
		})
	}
}

// cost returns the allocations, bytes allocated and key probes of one
// Parse of s (allocations averaged over a few runs).
func cost(s string) (allocs, bytes float64, probes int) {
	const runs = 5
	allocs = testing.AllocsPerRun(runs, func() { _, _ = Parse(s) })
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		_, _ = Parse(s)
	}
	runtime.ReadMemStats(&after)
	probe = func() { probes++ }
	defer func() { probe = nil }()
	_, _ = Parse(s)
	return allocs, float64(after.TotalAlloc-before.TotalAlloc) / runs, probes
}

// FuzzParse: no panic; every attribute has a key, distinct keys, UTF-8
// text; each entry is either kept or reported; and writing the attributes
// back (percent-encoded) and parsing again gives them back unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"service.name=a,service.version=1%2C2", "k=%", "=", ",,", "a=b=c", "k%2C=v", " a = b ", "k=%FF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		attrs, err := Parse(s)
		seen := map[string]bool{}
		for _, a := range attrs {
			if a.Key == "" || seen[a.Key] || !utf8.ValidString(a.Key) || !utf8.ValidString(a.Value) {
				t.Fatalf("Parse(%q) gave %q", s, attrs)
			}
			seen[a.Key] = true
		}
		if n := strings.Count(s, ",") + 1; len(attrs)+len(entryErrors(err)) > n {
			t.Fatalf("Parse(%q): %d attributes and %d errors from %d entries", s, len(attrs), len(entryErrors(err)), n)
		}
		var b strings.Builder
		for _, a := range attrs {
			fmt.Fprintf(&b, "%s=%s,", encode(a.Key), encode(a.Value))
		}
		again, err := Parse(b.String())
		if err != nil || !reflect.DeepEqual(again, attrs) {
			t.Fatalf("round trip of %q: %q, %v; want %q", s, again, err, attrs)
		}
	})
}

// encode percent-encodes everything but unreserved URI characters.
func encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
