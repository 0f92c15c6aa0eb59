package xray

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	testTrace, _  = ParseTraceID("1-5759e988-bd862e3fe1be46a994272793")
	testID, _     = ParseSpanID("70de5b6f19ff9a0a")
	testParent, _ = ParseSpanID("53995c3f42cd8ad8")
	testSub, _    = ParseSpanID("0d1e4e8f6a7b3c21")
	t0            = time.Unix(1700000000, 123456000)
)

func goldenSegments() map[string]*Segment {
	return map[string]*Segment{
		"minimal": {Name: "checkout", TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(25 * time.Millisecond)},
		"http-server": {
			Name: "api.example.com", TraceID: testTrace, ID: testID, ParentID: testParent,
			Start: t0, End: t0.Add(1500 * time.Microsecond), Origin: "AWS::ECS::Container",
			HTTP:  HTTP{Method: "GET", URL: "https://api.example.com/users/42", UserAgent: "curl/8.0", ClientIP: "203.0.113.9", XForwardedFor: true, Status: 503, ContentLength: 17},
			Fault: true,
			AWS:   AWS{Environment: []byte(`"ecs":{"container":"ip-10-0-0-1","container_id":"abc"}`)},
			Annotations: []Annotation{
				StringAttr("route", "GET /users/{id}"), NumberAttr("attempt", 2), BoolAttr("cache.hit", false),
				StringAttr("route", "GET /users/{id} (last wins)"),
			},
			Metadata: []Metadata{{Key: "request", JSON: []byte(`{"size":3}`)}, {Namespace: "debug", Key: "note", JSON: []byte(`"hi"`)}},
			Subsegments: []*Segment{{
				Name: "payments.internal", ID: testSub, Start: t0.Add(100 * time.Microsecond), End: t0.Add(900 * time.Microsecond),
				Namespace: "remote", Error: true, Throttle: true,
				HTTP: HTTP{Method: "POST", URL: "http://payments.internal/charge", Traced: true, Status: 429, ContentLength: -1},
			}},
		},
		"independent-aws": {
			Name: "DynamoDB", TraceID: testTrace, ID: testSub, ParentID: testID, Independent: true, Namespace: "aws",
			Start: t0, End: t0.Add(3 * time.Millisecond),
			AWS:  AWS{Operation: "GetItem", Region: "eu-west-1", RequestID: "3AIENM5J4ELQ3SPODHKBIRVIC3VV4KQNSO5AEMVJF66Q9ASUAAJG", TableName: "users", Retries: 1},
			HTTP: HTTP{Status: 200, ContentLength: 58},
		},
		"fault-cause": {
			Name: "worker", TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(time.Second), Fault: true,
			Cause: &Cause{WorkingDirectory: "/app", Exceptions: []Exception{{
				ID: testSub, Type: "*errors.errorString", Message: "boom \"quoted\"\n", Truncated: 3,
				Stack: []StackFrame{{Path: "/app/main.go", Line: 42, Label: "main.handler"}},
			}}},
		},
		"in-progress": {Name: "long job", TraceID: testTrace, ID: testID, Start: t0},
	}
}

func TestAppendDocumentGolden(t *testing.T) {
	for name, seg := range goldenSegments() {
		t.Run(name, func(t *testing.T) {
			doc := AppendDocument(nil, seg)
			if err := schematest.Segment(doc); err != nil {
				t.Fatalf("schema: %v\n%s", err, doc)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, doc, "", "  "); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, append(pretty.Bytes(), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got := append(pretty.Bytes(), '\n'); !bytes.Equal(got, want) {
				t.Errorf("document differs from %s:\n%s", path, got)
			}
		})
	}
}

func TestAppendDocumentLastAnnotationWins(t *testing.T) {
	doc := AppendDocument(nil, goldenSegments()["http-server"])
	var m struct {
		Annotations map[string]any `json:"annotations"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if m.Annotations["route"] != "GET /users/{id} (last wins)" || m.Annotations["cache_hit"] != false {
		t.Fatalf("annotations = %v", m.Annotations)
	}
}

func TestNamesAreSanitised(t *testing.T) {
	for in, want := range map[string]string{
		"my-service":                 "my-service",
		"bad<name>!":                 "badname",
		"":                           "unknown",
		"<>":                         "unknown",
		"Zürich café":                "Zürich café",
		"tab\there":                  "tabhere",
		`back\slash`:                 "backslash",
		strings.Repeat("é", 300):     strings.Repeat("é", 200),
		"ok\xffbyte":                 "okbyte",
		"host.example.com:8080/path": "host.example.com:8080/path",
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzAppendDocument(f *testing.F) {
	f.Add("svc", "key", "value", "ns", "mkey", 1.5, "GET", "/p")
	f.Add("<\x00é\u2028", "a.b-c", "\"\\", "", "", math.Inf(1), "\xff", "\n")
	f.Fuzz(func(t *testing.T, name, akey, aval, ns, mkey string, num float64, method, url string) {
		seg := &Segment{
			Name: name, TraceID: testTrace, ID: testID, Start: t0, End: t0.Add(time.Millisecond),
			HTTP:        HTTP{Method: method, URL: url, Status: 200, ContentLength: 1},
			Annotations: []Annotation{StringAttr(akey, aval), NumberAttr(akey+"n", num)},
			Metadata:    []Metadata{{Namespace: ns, Key: mkey, JSON: AppendJSONString(nil, aval)}},
			Cause:       &Cause{Exceptions: []Exception{{Type: aval, Message: aval, Stack: []StackFrame{{Path: url, Label: name}}}}},
			Subsegments: []*Segment{{Name: name, ID: testSub, Start: t0, End: t0}},
		}
		doc := AppendDocument(nil, seg)
		if !json.Valid(doc) {
			t.Fatalf("invalid JSON: %s", doc)
		}
		var back struct {
			Name string `json:"name"`
			HTTP struct {
				Request struct {
					Method string `json:"method"`
				} `json:"request"`
			} `json:"http"`
		}
		if err := json.Unmarshal(doc, &back); err != nil {
			t.Fatal(err)
		}
		if back.Name != SanitizeName(name) {
			t.Fatalf("name %q came back %q", SanitizeName(name), back.Name)
		}
		var want string
		std, _ := json.Marshal(jsonenc.CutRunes(method, maxHTTPFieldLength))
		_ = json.Unmarshal(std, &want)
		if back.HTTP.Request.Method != want {
			t.Fatalf("method %q came back %q", method, back.HTTP.Request.Method)
		}
		if err := schematest.Segment(doc); err != nil {
			// Annotation keys made only of characters we replace may collide
			// into an empty-looking key; everything else must validate.
			t.Fatalf("schema: %v\n%s", err, doc)
		}
	})
}

func TestTraceIDRoundTrip(t *testing.T) {
	id := NewTraceID(time.Unix(0x5759e988, 0))
	s := FormatTraceID(id)
	if !strings.HasPrefix(s, "1-5759e988-") || len(s) != 35 {
		t.Fatalf("trace ID %s", s)
	}
	back, err := ParseTraceID(s)
	if err != nil || back != id {
		t.Fatalf("ParseTraceID(%s) = %v, %v", s, back, err)
	}
	if _, err := ParseTraceID("1-5759e988-bd862e3fe1be46a99427279g"); err == nil {
		t.Fatal("bad hex accepted")
	}
	var otelID trace.TraceID = id
	if otelID.String() != strings.ReplaceAll(s[2:], "-", "") {
		t.Fatalf("OpenTelemetry form %s does not match %s", otelID, s)
	}
}

func BenchmarkAppendDocument(b *testing.B) {
	seg := goldenSegments()["http-server"]
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDocument(buf[:0], seg)
	}
}

func BenchmarkEncodingJSONEquivalent(b *testing.B) {
	// The same document built as the X-Ray SDK does: maps and encoding/json.
	doc := AppendDocument(nil, goldenSegments()["http-server"])
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
