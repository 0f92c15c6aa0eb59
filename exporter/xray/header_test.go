package xray

import (
	"testing"
)

func TestParseHeader(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	tests := []struct {
		name    string
		in      string
		wantErr bool
		sampled SamplingDecision
		parent  string
		extra   string
		out     string
	}{
		{name: "full", in: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1", sampled: Sampled, parent: "53995c3f42cd8ad8", out: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"},
		{name: "alb root only", in: "Root=" + root, out: "Root=" + root},
		{name: "requested", in: "Root=" + root + ";Sampled=?", sampled: SamplingRequested, out: "Root=" + root + ";Sampled=?"},
		{name: "not sampled", in: "Root=" + root + ";Sampled=0", sampled: NotSampled, out: "Root=" + root + ";Sampled=0"},
		{name: "lineage and unknown kept in order", in: "Self=1-67891233-abcdef012345678912345678;Root=" + root + ";Lineage=a87bd80c:1|68fd508a:5;Foo=bar", extra: "Self=1-67891233-abcdef012345678912345678;Lineage=a87bd80c:1|68fd508a:5;Foo=bar", out: "Root=" + root + ";Self=1-67891233-abcdef012345678912345678;Lineage=a87bd80c:1|68fd508a:5;Foo=bar"},
		{name: "spaces and case", in: " root = " + root + " ; parent=53995C3F42CD8AD8 ; sampled=1 ", sampled: Sampled, parent: "53995c3f42cd8ad8", out: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"},
		{name: "bad parent dropped", in: "Root=" + root + ";Parent=xyz;Sampled=1", sampled: Sampled, out: "Root=" + root + ";Sampled=1"},
		{name: "bad sampled ignored", in: "Root=" + root + ";Sampled=yes", out: "Root=" + root},
		{name: "no root", in: "Parent=53995c3f42cd8ad8;Sampled=1", wantErr: true},
		{name: "bad root", in: "Root=1-5759e988-bd862e3fe1be46a99427279", wantErr: true},
		{name: "zero root", in: "Root=1-00000000-000000000000000000000000", wantErr: true},
		{name: "version 2 root", in: "Root=2-5759e988-bd862e3fe1be46a994272793", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "garbage", in: ";;;==;", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := FormatTraceID(h.TraceID); got != root {
				t.Errorf("root = %s", got)
			}
			if h.Sampled != tt.sampled {
				t.Errorf("sampled = %v, want %v", h.Sampled, tt.sampled)
			}
			gotParent := ""
			if h.ParentID.IsValid() {
				gotParent = h.ParentID.String()
			}
			if gotParent != tt.parent {
				t.Errorf("parent = %q, want %q", gotParent, tt.parent)
			}
			if h.Extra != tt.extra {
				t.Errorf("extra = %q, want %q", h.Extra, tt.extra)
			}
			if got := h.String(); got != tt.out {
				t.Errorf("String() = %q, want %q", got, tt.out)
			}
		})
	}
}

func TestParseHeaderDoesNotAllocate(t *testing.T) {
	in := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseHeader(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ParseHeader allocates %v times", allocs)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=x:1;Sampled=?")
	f.Add(";=;Root=;")
	f.Add("Self=1-67891233-abcdef012345678912345678;Root=1-5759e988-bd862e3fe1be46a994272793;a=1;b=2;c=3;d=4;e=5;Lineage=a87bd80c:1|68fd508a:5")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793; Foo = bar ;k=v\r\n;Lineage=1:a87bd80c:0")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000;Sampled=1")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=x")
	f.Add("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=0")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeader(s)
		// The positional reading of the common forms agrees with the
		// field-by-field one.
		if fast, ok := parseCommonHeader(s); ok {
			slow, serr := parseHeaderFields(s)
			if serr != nil || slow != fast {
				t.Fatalf("%q: common form read as %+v, fields as %+v (%v)", s, fast, slow, serr)
			}
		}
		if err != nil {
			return
		}
		// What we write must parse back to the same header.
		out := h.String()
		h2, err := ParseHeader(out)
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", out, s, err)
		}
		if h2.TraceID != h.TraceID || h2.ParentID != h.ParentID || h2.Sampled != h.Sampled {
			t.Fatalf("round trip changed %+v to %+v", h, h2)
		}
		if len(out) > MaxForwardedLength {
			t.Fatalf("output of %d bytes, limit %d", len(out), MaxForwardedLength)
		}
		for i := 0; i < len(out); i++ {
			if out[i] <= ' ' || out[i] > '~' {
				t.Fatalf("output %q has byte %#x", out, out[i])
			}
		}
		// Extra is kept as it is: parsing the output keeps it whole.
		if h2.Extra != h.Extra {
			t.Fatalf("Extra %q re-parsed as %q", h.Extra, h2.Extra)
		}
	})
}

func BenchmarkParseHeader(b *testing.B) {
	in := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseHeader(in)
	}
}
