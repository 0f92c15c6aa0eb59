package xrayotel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

// checkDocument fails unless AppendSegment gave an error (leaving dst
// alone) or a schema-valid document.
func checkDocument(t *testing.T, tr *Translator, rs *tracev1.ResourceSpans, s *tracev1.Span) {
	t.Helper()
	prefix := []byte("x")
	doc, err := tr.AppendSegment(prefix, rs.GetResource(), s)
	if err != nil {
		if string(doc) != "x" {
			t.Fatalf("error %v but dst changed", err)
		}
		if !errors.Is(err, ErrTraceID) && !errors.Is(err, ErrSpanID) && !errors.Is(err, ErrParentID) && !errors.Is(err, ErrTooLarge) && s != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if err := validate(doc[1:]); err != nil {
		t.Fatalf("invalid document: %v\n%s", err, doc[1:])
	}
}

// FuzzAppendSegment decodes arbitrary bytes as OTLP ResourceSpans and
// translates every span: it must never panic, and must give an error or a
// schema-valid document.
func FuzzAppendSegment(f *testing.F) {
	seeds := []*tracev1.Span{
		span(server, kvStr("http.request.method", "GET"), kvInt("http.response.status_code", 429), kvStr("a.b", "x")),
		span(client, kvStr("rpc.system", "aws-api"), kvStr("rpc.service", "DynamoDB"), kvStrs("aws.dynamodb.table_names", "t")),
		span(client, kvStr("db.system", "mysql"), kvStr("db.statement", "SELECT 1"), kvStr("aws.xray.metadata.ns", `{"a":1,"a":2}`)),
		with(span(internal), func(s *tracev1.Span) {
			s.Events = []*tracev1.Span_Event{exceptionEvent("E", "m", "main.f()\n\t/a.go:1 +0x1\n")}
			s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR}
		}),
	}
	for _, s := range seeds {
		rs := &tracev1.ResourceSpans{
			Resource:   resource(kvStr("service.name", "svc"), kvStr("cloud.platform", "aws_ecs"), kvStrs("aws.log.group.names", "/a")),
			ScopeSpans: []*tracev1.ScopeSpans{{Spans: []*tracev1.Span{s}}},
		}
		b, err := proto.Marshal(rs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	plain, _ := New(nil)
	all, _ := New(&Config{IndexAllAttributes: true, IndexedAttributes: []string{"otel.resource.service.name"}})
	f.Fuzz(func(t *testing.T, b []byte) {
		var rs tracev1.ResourceSpans
		if proto.Unmarshal(b, &rs) != nil {
			return
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.GetSpans() {
				checkDocument(t, plain, &rs, s)
				checkDocument(t, all, &rs, s)
			}
		}
	})
}

// FuzzAppendSegmentFields drives the text of names, keys and values
// directly, which random protobuf bytes rarely reach.
func FuzzAppendSegmentFields(f *testing.F) {
	f.Add("svc", "http.response.status_code", "503", int64(500), uint8(2), uint64(1), uint64(2))
	f.Add("\xff<é>", "a\xfeb", "\u2028x", int64(-1), uint8(3), uint64(5), uint64(1))
	f.Add("", "aws.xray.metadata.\xff", `{"\xff":1}`, int64(429), uint8(5), uint64(0), uint64(0))
	tr, _ := New(&Config{IndexAllAttributes: true})
	f.Fuzz(func(t *testing.T, name, key, value string, n int64, kind uint8, start, end uint64) {
		s := span(tracev1.Span_SpanKind(kind%6), kvStr(key, value), kvInt(key+"n", n), kvStr("url.full", value),
			kvStr("http.request.method", value), kvInt("http.response.status_code", n), kvStr("db.system", "mysql"),
			kvStr("db.statement", value), kvStr("aws.xray.metadata."+key, value), kvStr(key, name))
		s.Name = name
		s.StartTimeUnixNano, s.EndTimeUnixNano = start, end
		s.Events = []*tracev1.Span_Event{exceptionEvent(name, value, value)}
		res := resource(kvStr("service.name", name), kvStr(key, value), kvStr("cloud.platform", value))
		rs := &tracev1.ResourceSpans{Resource: res}
		checkDocument(t, tr, rs, s)
		s.Kind = tracev1.Span_SPAN_KIND_SERVER
		checkDocument(t, tr, rs, s)
	})
}

// FuzzSegmentToSpans translates arbitrary documents to spans: it must
// never panic, and what it returns must translate back to schema-valid
// documents.
func FuzzSegmentToSpans(f *testing.F) {
	f.Add([]byte(sampleSegment))
	files, _ := filepath.Glob("testdata/segments/*.json")
	for _, path := range files {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"in_progress":true,"cause":"70de5b6f19ff9a0a"}`))
	f.Add([]byte(`{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","parent_id":"70de5b6f19ff9a0b","type":"subsegment","start_time":1e9,"end_time":2,"metadata":{"default":{"otel.resource.x":{"y":[null]}},"n":{"\u2028":1}}}`))
	tr, _ := New(nil)
	f.Fuzz(func(t *testing.T, doc []byte) {
		ss, err := tr.SegmentToSpans(doc)
		if err != nil {
			if ss != nil {
				t.Fatal("result with error")
			}
			return
		}
		if len(ss.Spans) == 0 {
			t.Fatal("no spans and no error")
		}
		rs := &tracev1.ResourceSpans{Resource: ss.Resource}
		for _, s := range ss.Spans {
			if len(s.TraceId) != 16 || allZero(s.TraceId) || len(s.SpanId) != 8 || allZero(s.SpanId) {
				t.Fatalf("invalid IDs in %v", s)
			}
			if _, err := proto.Marshal(s); err != nil {
				t.Fatalf("span does not marshal: %v", err)
			}
			checkDocument(t, tr, rs, s)
		}
		for _, kv := range ss.Resource.Attributes {
			if kv.Value.GetValue() == nil {
				t.Fatalf("resource attribute %q without value", kv.Key)
			}
		}
	})
}
