package jsonenc

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rret",
		"\x00\x01\x1f\x7f", "<script>&</script>", "héllo wörld ✓ 🎉",
		"bad \xff utf8 \xc3", "\u2028\u2029", strings.Repeat("a", 300),
	}
	for _, s := range cases {
		checkString(t, s)
	}
}

func checkString(t *testing.T, s string) {
	t.Helper()
	got := AppendString(nil, s)
	if !json.Valid(got) {
		t.Fatalf("AppendString(%q) = %s: not valid JSON", s, got)
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("AppendString(%q) = %s: %v", s, got, err)
	}
	want := strings.ToValidUTF8(s, "\uFFFD")
	// encoding/json replaces each invalid byte, not each run of them.
	var viaStd string
	std, _ := json.Marshal(s)
	_ = json.Unmarshal(std, &viaStd)
	if back != viaStd {
		t.Fatalf("AppendString(%q) decodes to %q; encoding/json round trip gives %q (ToValidUTF8 %q)", s, back, viaStd, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00", "\xff\xfe", "é", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkString(t, s)
		if utf8.ValidString(s) {
			var back string
			_ = json.Unmarshal(AppendString(nil, s), &back)
			if back != s {
				t.Fatalf("valid UTF-8 %q came back as %q", s, back)
			}
		}
	})
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.5, 1e-7, 1e21, 123456789.125, 1e-6, 3.0e20, math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-9} {
		want, _ := json.Marshal(f)
		if got := AppendFloat(nil, f); string(got) != string(want) {
			t.Errorf("AppendFloat(%v) = %s, encoding/json %s", f, got, want)
		}
	}
	if got := string(AppendFloat(nil, math.NaN())); got != "null" {
		t.Errorf("NaN = %s", got)
	}
}

func FuzzAppendFloat(f *testing.F) {
	f.Add(1.5)
	f.Add(1e-300)
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		want, _ := json.Marshal(v)
		if got := AppendFloat(nil, v); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json %s", v, got, want)
		}
	})
}

func TestAppendSeconds(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{{1700000000123456, "1700000000.123456"}, {1000001, "1.000001"}, {0, "0.000000"}} {
		if got := string(AppendSeconds(nil, c.in)); got != c.want {
			t.Errorf("AppendSeconds(%d) = %s, want %s", c.in, got, c.want)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	buf := make([]byte, 0, 256)
	s := `GET /api/users/{id} "quoted" héllo`
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}

func TestCutRunes(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"héllo", 2, "hé"}, // counts characters, not bytes
		{"日本語", 3, "日本語"},
		{"日本語", 1, "日"},
		{"abc", 0, ""},
	} {
		if got := CutRunes(tc.s, tc.n); got != tc.want {
			t.Errorf("CutRunes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
