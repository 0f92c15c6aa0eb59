package corscheck

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := New(WithNeededResponseHeaders("X-Ok", "bad name")); err == nil || !strings.Contains(err.Error(), "bad name") {
		t.Errorf("New with a bad header name: err = %v", err)
	}
	if _, err := New(WithCredentials(Credentials(9))); err == nil {
		t.Error("New with an unknown credentials mode: no error")
	}
	if c, err := New(WithNeededResponseHeaders("x-request-id")); err != nil || len(c.needed) != 1 || c.needed[0] != (name{"X-Request-Id", "x-request-id"}) {
		t.Errorf("New = %+v, %v", c, err)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Outcome(0).String(), "unknown"},
		{CredentialsUnknown.String(), "unknown"},
		{CredentialsOmit.String(), "omit"},
		{CredentialsInclude.String(), "include"},
		{Warning(0).String(), ""},
		{(WarnMissingVaryOrigin | WarnHeaderNotExposed).String(), "missing-vary-origin,header-not-exposed"},
		{Warning(0x80).String(), "unknown"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	for _, s := range []string{"short", long, "a\xffb", strings.Repeat("\xff", 300)} {
		got := clip(s, maxAnnotation)
		if len(got) > maxAnnotation || !utf8.ValidString(got) {
			t.Errorf("clip(%q) = %q", s, got)
		}
		if len(s) <= maxAnnotation && utf8.ValidString(s) && got != s {
			t.Errorf("clip changed %q", s)
		}
	}
}

// TestNoAllocations checks the promise the package makes: nothing is
// allocated for requests without Origin, nor for allowed responses.
func TestNoAllocations(t *testing.T) {
	for _, tc := range specCases {
		if tc.outcome != Allowed && !tc.notCORS || tc.warnings != 0 || tc.name == "same-origin by host" {
			continue
		}
		c, err := New(tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		x := exchange{method: tc.method, host: "example.com", req: fields{std: tc.req}, resp: fields{std: tc.resp}, status: tc.status}
		x.origin = tc.req.Get("Origin")
		if x.origin == "" {
			continue
		}
		if n := testing.AllocsPerRun(50, func() { c.evaluate(&x) }); n != 0 {
			t.Errorf("%s: %v allocations", tc.name, n)
		}
	}
}
