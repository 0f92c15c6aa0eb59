package xray

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseHeaderLimits(t *testing.T) {
	t.Run("too long", func(t *testing.T) {
		in := unknownKeys(0) + ";" + strings.Repeat("x=y;", 256<<10/4)
		var err error
		allocs := testing.AllocsPerRun(10, func() { _, err = ParseHeader(in) })
		if !errors.Is(err, ErrHeaderTooLong) {
			t.Fatalf("err = %v, want ErrHeaderTooLong", err)
		}
		if allocs != 0 {
			t.Fatalf("rejecting a long header allocates %v times", allocs)
		}
	})
	t.Run("longest accepted", func(t *testing.T) {
		in := testRoot + ";" + strings.Repeat("x", MaxHeaderLength-len(testRoot)-1)
		if len(in) != MaxHeaderLength {
			t.Fatalf("test header is %d bytes", len(in))
		}
		if _, err := ParseHeader(in); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseHeader(in + "x"); !errors.Is(err, ErrHeaderTooLong) {
			t.Fatalf("err = %v, want ErrHeaderTooLong", err)
		}
	})
	t.Run("forwarded text is bounded", func(t *testing.T) {
		// Every field as large as the per-field limits allow, and as many
		// as fit in MaxHeaderLength.
		lineage := "Lineage=" + strings.Repeat("a87bd80c:1|", MaxLineageLength/11)
		other := func(i int) string {
			return "K" + strconv.Itoa(i) + strings.Repeat("k", maxKeyLength-3) + "=" + strings.Repeat("v", 40)
		}
		var b strings.Builder
		b.WriteString(testRoot + ";Parent=53995c3f42cd8ad8;Sampled=1;" + lineage)
		for i := 0; b.Len()+100 < MaxHeaderLength; i++ {
			b.WriteString(";" + other(i%10))
		}
		h, err := ParseHeader(b.String())
		if err != nil {
			t.Fatal(err)
		}
		out := h.String()
		if len(out) > MaxForwardedLength {
			t.Fatalf("forwarded header is %d bytes, limit %d", len(out), MaxForwardedLength)
		}
		if !strings.HasPrefix(h.Extra, lineage+";") {
			t.Fatalf("Extra %q does not start with the Lineage", h.Extra)
		}
		if got := strings.Count(h.Extra, ";"); got > maxOtherKeys {
			t.Fatalf("Extra keeps %d other keys, limit %d: %q", got, maxOtherKeys, h.Extra)
		}
	})
	t.Run("fields after the limit are ignored", func(t *testing.T) {
		in := strings.Repeat("a=b;", maxHeaderFields) + testRoot
		if _, err := ParseHeader(in); !errors.Is(err, ErrMalformedHeader) {
			t.Fatalf("err = %v, want ErrMalformedHeader for a Root after %d fields", err, maxHeaderFields)
		}
		in = strings.Repeat("a=b;", maxHeaderFields-1) + testRoot
		if _, err := ParseHeader(in); err != nil {
			t.Fatalf("Root as field %d: %v", maxHeaderFields, err)
		}
	})
	tests := []struct {
		name, in, extra string
	}{
		{"long lineage dropped", testRoot + ";Lineage=" + strings.Repeat("a", MaxLineageLength+1), ""},
		{"longest lineage kept", testRoot + ";Lineage=" + strings.Repeat("a", MaxLineageLength), "Lineage=" + strings.Repeat("a", MaxLineageLength)},
		{"lineage with odd bytes dropped", testRoot + ";Lineage=a87bd80c:1\r\nX: y", ""},
		{"second lineage dropped", testRoot + ";Lineage=a87bd80c:1;Lineage=68fd508a:5", "Lineage=a87bd80c:1"},
		{"lineage v2 kept", testRoot + ";Lineage=1:a87bd80c:0", "Lineage=1:a87bd80c:0"},
		{"fifth other key dropped", testRoot + ";a=1;b=2;c=3;d=4;e=5;Lineage=x:1", "a=1;b=2;c=3;d=4;Lineage=x:1"},
		{"other value with control byte dropped", testRoot + ";a=1\x00;b=2", "b=2"},
		{"other value with space dropped", testRoot + ";a=1 2;b=2", "b=2"},
		{"odd key dropped", testRoot + ";a:b=1;c=2", "c=2"},
		{"long key dropped", testRoot + ";" + strings.Repeat("k", maxKeyLength+1) + "=1;c=2", "c=2"},
		{"long value dropped", testRoot + ";k=" + strings.Repeat("v", maxValueLength+1) + ";c=2", "c=2"},
		{"spaced pair dropped", testRoot + ";Foo = bar;c=2", "c=2"},
		{"other bytes budget", testRoot + ";a=" + strings.Repeat("v", 120) + ";b=" + strings.Repeat("v", 120) + ";c=" + strings.Repeat("v", 120) + ";d=1",
			"a=" + strings.Repeat("v", 120) + ";b=" + strings.Repeat("v", 120) + ";d=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if h.Extra != tt.extra {
				t.Fatalf("Extra = %q, want %q", h.Extra, tt.extra)
			}
		})
	}
}

// The forwarded pairs cost one allocation at most, however they are spread.
func TestParseHeaderExtraAllocatesOnce(t *testing.T) {
	in := "Self=1-67891233-abcdef012345678912345678;" + testRoot + ";Lineage=a87bd80c:1;Parent=53995c3f42cd8ad8;Foo=bar;Sampled=1;Baz=1"
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseHeader(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("ParseHeader allocates %v times", allocs)
	}
}
