package xraydoc_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

const good = `{"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1498082657.37518,"end_time":1498082695.4042,"name":"test.elasticbeanstalk.com"}`

func TestCheckTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want xraydoc.Reason
	}{
		{"good", good, xraydoc.OK},
		{"in progress", `{"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"in_progress":true,"name":"n"}`, xraydoc.OK},
		{"subsegment", `{"type":"subsegment","parent_id":"6226467e3f845503","trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"end_time":2,"name":"n"}`, xraydoc.OK},
		{"subsegment without parent", `{"type":"subsegment","trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"end_time":2,"name":"n"}`, xraydoc.BadParentID},
		{"bad type", `{"type":"x","trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"end_time":2,"name":"n"}`, xraydoc.BadTypeFields},
		{"truncated", good[:60], xraydoc.NotJSON},
		{"array", `[1]`, xraydoc.NotObject},
		{"no trace", strings.Replace(good, `"trace_id"`, `"trace"`, 1), xraydoc.BadTraceID},
		{"short trace", strings.Replace(good, `ad72e26896b3f9d3a27054bb`, `ad72e2`, 1), xraydoc.BadTraceID},
		{"bad id", strings.Replace(good, `6226467e3f845502`, `6226467e3f84550z`, 1), xraydoc.BadID},
		{"no name", strings.Replace(good, `"name"`, `"nom"`, 1), xraydoc.NoName},
		{"empty name", strings.Replace(good, `"test.elasticbeanstalk.com"`, `""`, 1), xraydoc.NoName},
		{"string start", strings.Replace(good, `1498082657.37518`, `"1"`, 1), xraydoc.BadStartTime},
		{"no end", strings.Replace(good, `"end_time"`, `"end"`, 1), xraydoc.NoEnd},
		{"too large", `{"x":"` + strings.Repeat("a", xraydoc.MaxDocument) + `"}`, xraydoc.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := xraydoc.Check([]byte(tc.doc)); got != tc.want {
				t.Fatalf("Check = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitDatagram(t *testing.T) {
	for _, tc := range []struct {
		pkt  string
		want xraydoc.Reason
	}{
		{`{"format": "json", "version": 1}` + "\n" + good, xraydoc.OK},
		{`{"version":1,"format":"json"}` + "\n" + good, xraydoc.OK},
		{`{"format": "json", "version": 2}` + "\n" + good, xraydoc.BadHeader},
		{good, xraydoc.BadHeader},
		{`{"format": "json", "version": 1}` + "\n", xraydoc.Empty},
		{"", xraydoc.Empty},
	} {
		doc, r := xraydoc.SplitDatagram([]byte(tc.pkt))
		if r != tc.want {
			t.Errorf("SplitDatagram(%.40q) = %q, want %q", tc.pkt, r, tc.want)
		}
		if r == xraydoc.OK && string(doc) != good {
			t.Errorf("doc = %q", doc)
		}
	}
}

func TestReferenceSample(t *testing.T) {
	pkt, err := schematest.ReadReference("samples/xray-example-daemon-udp-segment.txt")
	if err != nil {
		t.Fatal(err)
	}
	doc, r := xraydoc.SplitDatagram(pkt)
	if r != xraydoc.OK {
		t.Fatalf("reference datagram: %q", r)
	}
	if _, r := xraydoc.Check(doc); r != xraydoc.OK {
		t.Fatalf("reference document: %q", r)
	}
}

func TestAppendWithECS(t *testing.T) {
	ecs := []byte(`"cluster":"c1","task_arn":"arn:t"`)
	for _, tc := range []struct{ name, doc, wantECS string }{
		{"no aws", good, `{"cluster":"c1","task_arn":"arn:t"}`},
		{"aws without ecs", strings.Replace(good, `{"trace_id"`, `{"aws":{"account_id":"1"},"trace_id"`, 1), `{"cluster":"c1","task_arn":"arn:t"}`},
		{"empty aws", strings.Replace(good, `{"trace_id"`, `{"aws":{ },"trace_id"`, 1), `{"cluster":"c1","task_arn":"arn:t"}`},
		{"has ecs: merged", strings.Replace(good, `{"trace_id"`, `{"aws":{"ecs":{"container":"x"}},"trace_id"`, 1), `{"cluster":"c1","task_arn":"arn:t","container":"x"}`},
		{"empty ecs", strings.Replace(good, `{"trace_id"`, `{"aws":{"ecs":{ }},"trace_id"`, 1), `{"cluster":"c1","task_arn":"arn:t" }`},
		{"document's fields win", strings.Replace(good, `{"trace_id"`, `{"aws":{"ecs":{"container":"x","cluster":"mine"}},"trace_id"`, 1), `{"task_arn":"arn:t","container":"x","cluster":"mine"}`},
		{"escaped key counts as present", strings.Replace(good, `{"trace_id"`, `{"aws":{"ecs":{"clu\u0073ter":"mine"}},"trace_id"`, 1), `{"task_arn":"arn:t","clu\u0073ter":"mine"}`},
		{"nothing missing", strings.Replace(good, `{"trace_id"`, `{"aws":{"ecs":{"task_arn":"a","cluster":"b"}},"trace_id"`, 1), `{"task_arn":"a","cluster":"b"}`},
		{"ecs not an object", strings.Replace(good, `{"trace_id"`, `{"aws":{"ecs":"x"},"trace_id"`, 1), `"x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := []byte(tc.doc)
			info, r := xraydoc.Check(doc)
			if r != xraydoc.OK {
				t.Fatal(r)
			}
			out := xraydoc.AppendWithECS(nil, doc, info, ecs)
			if err := schematest.Segment(out); err != nil && !strings.Contains(tc.name, "not an object") {
				t.Fatalf("%s: %v", out, err)
			}
			var m struct {
				AWS struct{ ECS json.RawMessage } `json:"aws"`
			}
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			if info.HasECS && !strings.Contains(tc.name, "nothing") && !strings.Contains(tc.name, "not an object") && len(out) <= len(doc) {
				t.Fatalf("merge added nothing: %s", out)
			}
			if string(m.AWS.ECS) != tc.wantECS {
				t.Fatalf("ecs = %s, want %s (doc %s)", m.AWS.ECS, tc.wantECS, out)
			}
		})
	}
}

// FuzzDatagram feeds arbitrary datagrams through the receive path: it must
// never panic, and accepted documents must be valid JSON objects that stay
// valid after ECS metadata is added.
func FuzzDatagram(f *testing.F) {
	f.Add([]byte(`{"format": "json", "version": 1}` + "\n" + good))
	f.Add([]byte(`{"format": "json", "version": 1}` + "\n" + `{"aws":{},"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"in_progress":true,"name":"n"}`))
	f.Add([]byte("{\n{"))
	f.Add([]byte(`{"format": "json", "version": 1}` + "\n" + `{"aws":{"ecs":{"container":"x","clu\u0073ter":"y"}},"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"in_progress":true,"name":"n"}`))
	f.Add([]byte(`{"format": "json", "version": 1}` + "\n" + `{"aws":{"ecs":{},"ecs":{"a":1}},"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"in_progress":true,"name":"n"}`))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		doc, r := xraydoc.SplitDatagram(pkt)
		if r != xraydoc.OK {
			return
		}
		info, r := xraydoc.Check(doc)
		if r != xraydoc.OK {
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("accepted invalid JSON %q", doc)
		}
		out := xraydoc.AppendWithECS(nil, doc, info, []byte(`"cluster":"c","task_arn":"t"`))
		if !json.Valid(out) {
			t.Fatalf("ECS splice broke %q into %q", doc, out)
		}
		// What AppendWithECS writes passes Check again, and merging twice
		// adds nothing more.
		info2, r := xraydoc.Check(out)
		if r != xraydoc.OK {
			t.Fatalf("merged document %q rejected: %v", out, r)
		}
		if again := xraydoc.AppendWithECS(nil, out, info2, []byte(`"cluster":"c","task_arn":"t"`)); string(again) != string(out) {
			t.Fatalf("second merge changed %q into %q", out, again)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	pkt := []byte(`{"format": "json", "version": 1}` + "\n" + good)
	b.ReportAllocs()
	for b.Loop() {
		doc, _ := xraydoc.SplitDatagram(pkt)
		xraydoc.Check(doc)
	}
}

func ExampleCheck() {
	_, r := xraydoc.Check([]byte(`{"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"name":"n"}`))
	fmt.Println(r)
	// Output: no_end_time
}
