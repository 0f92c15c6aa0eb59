package xray

import (
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/allocs"
)

const (
	testTraceparent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
	testW3CTraceID  = "5759e988bd862e3fe1be46a994272793"
)

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
		sampled bool
	}{
		{name: "sampled", in: testTraceparent, sampled: true},
		{name: "not sampled", in: "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00"},
		{name: "other flags beside sampled", in: "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-03", sampled: true},
		{name: "future version with more fields", in: "cc-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-what-comes-next", sampled: true},
		{name: "future version exact length", in: "01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00"},
		{name: "version 00 with more", in: testTraceparent + "-00", wantErr: true},
		{name: "future version glued field", in: "01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01x", wantErr: true},
		{name: "version ff", in: "ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", wantErr: true},
		{name: "uppercase hex", in: "00-5759E988BD862E3FE1BE46A994272793-53995c3f42cd8ad8-01", wantErr: true},
		{name: "zero trace ID", in: "00-00000000000000000000000000000000-53995c3f42cd8ad8-01", wantErr: true},
		{name: "zero parent ID", in: "00-5759e988bd862e3fe1be46a994272793-0000000000000000-01", wantErr: true},
		{name: "short", in: testTraceparent[:54], wantErr: true},
		{name: "bad dash", in: "00_5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", wantErr: true},
		{name: "bad flags", in: "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-0g", wantErr: true},
		{name: "too long", in: "01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-" + strings.Repeat("a", MaxTraceparentLength), wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "x-ray header", in: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseTraceparent(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if p != (Traceparent{}) {
					t.Errorf("failed parse returned %+v", p)
				}
				return
			}
			if got := p.TraceID.String(); got != testW3CTraceID {
				t.Errorf("trace ID = %s", got)
			}
			if got := p.ParentID.String(); got != "53995c3f42cd8ad8" {
				t.Errorf("parent = %s", got)
			}
			if p.Sampled != tt.sampled {
				t.Errorf("sampled = %v, want %v", p.Sampled, tt.sampled)
			}
		})
	}
}

// The same 128 bits are one trace in both formats: the X-Ray form splits
// the first 8 hex digits (the epoch seconds) from the other 24.
func TestTraceparentAndXRayHeaderCarryTheSameTrace(t *testing.T) {
	p, err := ParseTraceparent(testTraceparent)
	if err != nil {
		t.Fatal(err)
	}
	h := p.Header()
	if got, want := h.String(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"; got != want {
		t.Errorf("Header() = %q, want %q", got, want)
	}
	if got := string(AppendTraceparent(nil, h.TraceID, h.ParentID, true)); got != testTraceparent {
		t.Errorf("AppendTraceparent = %q, want %q", got, testTraceparent)
	}
	if got := string(AppendTraceparent(nil, h.TraceID, h.ParentID, false)); got != testTraceparent[:53]+"00" {
		t.Errorf("AppendTraceparent not sampled = %q", got)
	}
	p.Sampled = false
	if p.Header().Sampled != NotSampled {
		t.Errorf("flags 00 gave %v, want NotSampled", p.Header().Sampled)
	}
}

func TestBoundTracestate(t *testing.T) {
	member := "vendor=" + strings.Repeat("v", 20) // 27 bytes
	many := func(n int) string {
		ms := make([]string, n)
		for i := range ms {
			ms[i] = member
		}
		return strings.Join(ms, ",")
	}
	tests := []struct {
		name, in, want string
	}{
		{name: "kept", in: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", want: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{name: "trimmed", in: "  a=1 ", want: "a=1"},
		{name: "empty", in: "", want: ""},
		{name: "32 members kept", in: many(18), want: many(18)},
		{name: "long cut at a member", in: many(40), want: many(18)}, // 18*28-1 = 503 <= 512
		{name: "one huge member dropped", in: "a=" + strings.Repeat("x", 600), want: ""},
		{name: "control byte", in: "a=1\x00", want: ""},
		{name: "non-ASCII", in: "a=é", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BoundTracestate(tt.in); got != tt.want {
				t.Errorf("BoundTracestate = %q (%d bytes), want %q", got, len(got), tt.want)
			}
		})
	}
	short := strings.Repeat("a=1,", 40)
	if got := BoundTracestate(short); strings.Count(got, ",")+1 != MaxTracestateMembers {
		t.Errorf("kept %d members of 40, want %d", strings.Count(got, ",")+1, MaxTracestateMembers)
	}
}

// Parsing the two W3C headers of a request allocates nothing.
func TestTraceparentDoesNotAllocate(t *testing.T) {
	ts := "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	n := testing.AllocsPerRun(100, func() {
		if _, err := ParseTraceparent(testTraceparent); err != nil {
			t.Fatal(err)
		}
		if BoundTracestate(ts) == "" {
			t.Fatal("tracestate dropped")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per parse, want 0", n)
	}
}

// The work done on hostile W3C headers must not grow with their length
// beyond the limits: bytes allocated (none, bar the runtime's own noise)
// and bytes kept are the same at n and 4n, and a traceparent over the
// limit is rejected unread.
func TestW3CHeadersBoundedWork(t *testing.T) {
	const n = 16 << 10
	work := func(size int) (uint64, int) {
		tp := "01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-" + strings.Repeat("a", size)
		ts := strings.Repeat("k=v,", size/4)
		kept := 0
		b := allocs.Bytes(5, func() {
			if _, err := ParseTraceparent(tp); err != ErrMalformedTraceparent {
				t.Fatalf("oversized traceparent: err = %v", err)
			}
			kept = len(BoundTracestate(ts))
		})
		return b, kept
	}
	bN, keptN := work(n)
	b4N, kept4N := work(4 * n)
	t.Logf("bytes allocated: %d at n=%d, %d at 4n; kept %d and %d bytes", bN, n, b4N, keptN, kept4N)
	if b4N > 4*bN+2048 {
		t.Fatalf("allocated %d bytes at n but %d at 4n: super-linear", bN, b4N)
	}
	if keptN != kept4N || keptN > MaxTracestateLength {
		t.Fatalf("kept %d bytes at n and %d at 4n, want the same and at most %d", keptN, kept4N, MaxTracestateLength)
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add(testTraceparent)
	f.Add("cc-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra")
	f.Add("00-00000000000000000000000000000000-0000000000000000-00")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseTraceparent(s)
		if err != nil {
			if p != (Traceparent{}) {
				t.Fatalf("error with non-zero result %+v", p)
			}
			return
		}
		if len(s) < traceparentV0Length || len(s) > MaxTraceparentLength {
			t.Fatalf("accepted a %d-byte value", len(s))
		}
		if !p.TraceID.IsValid() || !p.ParentID.IsValid() {
			t.Fatalf("accepted zero IDs: %q", s)
		}
		// What was read writes back as the same first 55 bytes, bar the
		// version and the flags other than sampled.
		out := string(AppendTraceparent(nil, p.TraceID, p.ParentID, p.Sampled))
		if out[3:52] != s[3:52] {
			t.Fatalf("round trip %q -> %q", s, out)
		}
		if again, err := ParseTraceparent(out); err != nil || again != p {
			t.Fatalf("re-parse of %q: %+v, %v", out, again, err)
		}
	})
}

func FuzzBoundTracestate(f *testing.F) {
	f.Add("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	f.Add(strings.Repeat("a=1,", 200))
	f.Fuzz(func(t *testing.T, s string) {
		got := BoundTracestate(s)
		if len(got) > MaxTracestateLength {
			t.Fatalf("kept %d bytes", len(got))
		}
		if strings.Count(got, ",") >= MaxTracestateMembers {
			t.Fatalf("kept %d members", strings.Count(got, ",")+1)
		}
		if !strings.Contains(s, got) {
			t.Fatalf("%q is not part of %q", got, s)
		}
		if BoundTracestate(got) != got {
			t.Fatalf("not stable: %q", got)
		}
	})
}
