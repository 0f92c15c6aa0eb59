package xrayotel

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNameRangesMatchSchema checks nameRune against the schema's own name
// pattern for every character of the Basic Multilingual Plane and a sample
// beyond it.
func TestNameRangesMatchSchema(t *testing.T) {
	schemaOnce.Do(loadSchema)
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	var b strings.Builder
	bad := 0
	for r := rune(1); r <= 0x10FFFF; r++ {
		if r > 0xFFFF && r%97 != 0 {
			continue
		}
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		b.Reset()
		b.WriteRune(r)
		want := namePattern.MatchString(b.String())
		if got := nameRune(r); got != want {
			bad++
			if bad < 10 {
				t.Errorf("nameRune(%U) = %v, schema pattern says %v", r, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d characters disagree", bad)
	}
	if nameRune(utf8.RuneError) {
		t.Error("U+FFFD accepted")
	}
}

func TestTraceIDForms(t *testing.T) {
	id, err := ParseTraceID(testXRayID)
	if err != nil || string(id) != string(testTraceID) {
		t.Fatalf("ParseTraceID = %x, %v", id, err)
	}
	upper, err := ParseTraceID(strings.ToUpper(testXRayID[:2]) + strings.ToUpper(testXRayID[2:]))
	if err != nil || string(upper) != string(testTraceID) {
		t.Fatalf("uppercase: %x, %v", upper, err)
	}
	out, err := AppendTraceID(nil, testTraceID)
	if err != nil || string(out) != testXRayID {
		t.Fatalf("AppendTraceID = %s, %v", out, err)
	}
	for _, s := range []string{"", "1-5f84c7a1", "2-5f84c7a1-a2b3c4d5e6f708192a3b4c5d", "1-5f84c7a1xa2b3c4d5e6f708192a3b4c5d", "1-5f84c7g1-a2b3c4d5e6f708192a3b4c5d"} {
		if _, err := ParseTraceID(s); err == nil {
			t.Errorf("ParseTraceID(%q) accepted", s)
		}
	}
	if _, err := ParseSpanID("53995c3f42cd8ad8"); err != nil {
		t.Error(err)
	}
	if _, err := ParseSpanID("53995c3f42cd8ad"); err == nil {
		t.Error("short span ID accepted")
	}
}

func TestAppendAnnotationKey(t *testing.T) {
	for in, want := range map[string]string{
		"order.id": "order_id", "ok_KEY_9": "ok_KEY_9", "é": "__", "a b-c": "a_b_c",
		strings.Repeat("k", 600): strings.Repeat("k", MaxAnnotationKeyLength),
	} {
		if got := string(AppendAnnotationKey(nil, in)); got != want {
			t.Errorf("AppendAnnotationKey(%q) = %q, want %q", in, got, want)
		}
	}
}
