package xray

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tableSegments are documents whose bytes must not change when the encoder
// is made faster: plain ASCII, every escape, non-ASCII and invalid UTF-8,
// U+2028, strings at and past the length limits, odd names and times.
func tableSegments() []*Segment {
	long := strings.Repeat("abcdefghij", 30)
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	segs := []*Segment{
		{Name: "bench", TraceID: testTrace, ID: testID, ParentID: testParent, Start: t0, End: t0.Add(84 * time.Microsecond),
			HTTP:        HTTP{Method: "GET", URL: "http://api.example.com/users/42", UserAgent: ua, ClientIP: "203.0.113.9", XForwardedFor: true, Status: 200, ContentLength: 11},
			Annotations: []Annotation{StringAttr("route", "GET /users/{id}")}},
		{Name: "naïve café ☕ ok", TraceID: testTrace, ID: testID, Start: time.Unix(0, 0), End: time.Unix(0, 999),
			HTTP: HTTP{Method: "P\"OST", URL: "http://x/\\path?q=\n\r\t\x00\x1f\x7f", UserAgent: "ua \u2028 \u2029 é \xff\xfe end", ClientIP: "::1", Status: 599, ContentLength: 0}},
		{Name: "", TraceID: testTrace, ID: testID, Start: time.Unix(-5, -250000), End: time.Unix(-10, 0)},
		{Name: "!!!", TraceID: testTrace, ID: testID, Start: time.Unix(9999999999, 999999999), End: time.Unix(9999999999, 999999999)},
		{Name: strings.Repeat("n", 250), TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(time.Hour),
			User: long, ServiceVersion: long + "é", Origin: "AWS::EC2::Instance", Namespace: "remote", ResourceARN: "arn:aws:x\"y",
			HTTP: HTTP{Method: long, URL: strings.Repeat("é", 300), UserAgent: long + "\x01", ClientIP: strings.Repeat("\"", 260), Traced: true, Status: 404, ContentLength: -1}},
		{Name: "a\xffb", TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(time.Millisecond), Error: true, Throttle: true,
			Annotations: []Annotation{NumberAttr("n.1", 1.5e-9), NumberAttr("big", 1e21), NumberAttr("neg", -0.25), BoolAttr("b", true),
				StringAttr("k€y", "v\u2028"), StringAttr("", "skipped"), StringAttr("long", strings.Repeat("x", 1100))},
			AWS: AWS{Operation: "Put\"Item", Region: "eu", RequestID: "r", TableName: "t\n", QueueURL: "https://q", Retries: 3, Environment: []byte(`"ec2":{"instance_id":"i-1"}`)}},
		{Name: "with-subs", TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(time.Second), Origin: "AWS::ECS::Container", ServiceVersion: "1.2.3",
			Subsegments: []*Segment{{Name: "child \t", ID: testSub, Start: t0, Namespace: "aws", Origin: "ignored"}}},
	}
	for _, s := range goldenSegments() {
		segs = append(segs, s)
	}
	return segs
}

// TestAppendDocumentTable checks that the documents are byte for byte those
// the encoder wrote before it was optimised (testdata/table.golden, one
// document a line, written by that encoder; -update rewrites it).
func TestAppendDocumentTable(t *testing.T) {
	var got []byte
	// goldenSegments is a map: order the documents by their bytes so that
	// the file does not depend on map order.
	var docs [][]byte
	for _, s := range tableSegments() {
		docs = append(docs, AppendDocument(nil, s))
	}
	sortBytes(docs)
	for _, d := range docs {
		got = append(append(got, d...), '\n')
	}
	path := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := range min(len(gl), len(wl)) {
			if !bytes.Equal(gl[i], wl[i]) {
				t.Fatalf("document %d differs:\n got %s\nwant %s", i, gl[i], wl[i])
			}
		}
		t.Fatalf("%d documents, want %d", len(gl), len(wl))
	}
}

func sortBytes(docs [][]byte) {
	for i := 1; i < len(docs); i++ {
		for j := i; j > 0 && bytes.Compare(docs[j], docs[j-1]) < 0; j-- {
			docs[j], docs[j-1] = docs[j-1], docs[j]
		}
	}
}

// BenchmarkAppendDocumentRealistic encodes the segment the middleware
// records for the realistic request of peers/httpbench.
func BenchmarkAppendDocumentRealistic(b *testing.B) {
	seg := tableSegments()[0]
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDocument(buf[:0], seg)
	}
}
