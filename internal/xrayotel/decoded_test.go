package xrayotel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
)

// bothWays translates every span of the protobuf request b twice: decoded
// by protobuf-go into the generated types and given to AppendSegment (the
// path the sidecar took before otlpspans), and decoded by otlpspans.Decode
// and given to AppendSpan. It fails unless both accept the same spans and
// write the same bytes. It returns how many spans were compared.
func bothWays(t testing.TB, tr *Translator, b []byte) int {
	t.Helper()
	var req coltracev1.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("protobuf-go: %v", err)
	}
	var batch otlpspans.Batch
	if err := batch.Decode(b, 0); err != nil {
		t.Fatalf("otlpspans: %v", err)
	}
	i := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				if i >= len(batch.Spans) {
					t.Fatalf("otlpspans decoded %d spans, protobuf-go more", len(batch.Spans))
				}
				want, werr := tr.AppendSegment(nil, rs.GetResource(), sp)
				got, _, gerr := tr.AppendSpan(nil, &batch, i)
				if (werr == nil) != (gerr == nil) || !bytes.Equal(want, got) {
					t.Fatalf("span %d:\nprotobuf-go: %v %s\notlpspans:   %v %s", i, werr, want, gerr, got)
				}
				i++
			}
		}
	}
	if i != len(batch.Spans) {
		t.Fatalf("otlpspans decoded %d spans, protobuf-go %d", len(batch.Spans), i)
	}
	return i
}

// sampleRequests are export requests of the developer guide's samples
// (as SegmentToSpans gives them) and of rule-test spans.
func sampleRequests(t testing.TB) [][]byte {
	tr, _ := New(nil)
	var reqs []*coltracev1.ExportTraceServiceRequest
	files, _ := filepath.Glob("testdata/segments/*.json")
	for _, path := range files {
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := tr.SegmentToSpans(doc)
		if err != nil {
			continue
		}
		reqs = append(reqs, &coltracev1.ExportTraceServiceRequest{ResourceSpans: []*tracev1.ResourceSpans{{
			Resource: ss.Resource, ScopeSpans: []*tracev1.ScopeSpans{{Spans: ss.Spans}}}}})
	}
	nested := &commonv1.AnyValue{Value: &commonv1.AnyValue_KvlistValue{KvlistValue: &commonv1.KeyValueList{Values: []*commonv1.KeyValue{
		kvStr("a", "1"), kvInt("a", 2), {Key: "none"}, {Key: "empty", Value: &commonv1.AnyValue{}},
		{Key: "list", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_ArrayValue{ArrayValue: &commonv1.ArrayValue{Values: []*commonv1.AnyValue{
			{}, {Value: &commonv1.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}}, {Value: &commonv1.AnyValue_BoolValue{}}}}}}},
	}}}}
	spans := []*tracev1.Span{
		span(server, kvStr("http.request.method", "GET"), kvInt("http.response.status_code", 429), kvStr("a.b", "x"), kvFloat("f", 1.5), kvBool("t", true)),
		span(client, kvStr("rpc.system", "aws-api"), kvStr("rpc.service", "DynamoDB"), kvStrs("aws.dynamodb.table_names", "t"), kvStrs("aws.xray.annotations", "a.b")),
		span(client, kvStr("db.system", "mysql"), kvStr("db.statement", "SELECT 1"), kvStr("aws.xray.metadata.ns", `{"a":1,"a":2}`)),
		with(span(internal, &commonv1.KeyValue{Key: "m", Value: nested}), func(s *tracev1.Span) {
			s.Events = []*tracev1.Span_Event{exceptionEvent("E", "m", "main.f()\n\t/a.go:1 +0x1\n"), {Name: "other"}}
			s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR, Message: "boom"}
		}),
		with(span(server), func(s *tracev1.Span) {
			s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR, Message: "only status"}
		}),
		with(span(client), func(s *tracev1.Span) { s.ParentSpanId = []byte{1, 2, 3} }),
	}
	res := resource(kvStr("service.name", "svc"), kvStr("service.version", "1.2"), kvStr("cloud.platform", "aws_ecs"),
		kvStrs("aws.log.group.names", "/a", "/b"), kvStrs("aws.log.group.arns", "arn:a"), kvStr("telemetry.sdk.name", "opentelemetry"),
		kvStr("telemetry.auto.version", "1"), kvStr("container.name", "web"))
	reqs = append(reqs, &coltracev1.ExportTraceServiceRequest{ResourceSpans: []*tracev1.ResourceSpans{
		{Resource: res, ScopeSpans: []*tracev1.ScopeSpans{{Spans: spans[:3]}, {Spans: spans[3:]}}},
		{ScopeSpans: []*tracev1.ScopeSpans{{Spans: spans}}},
		{Resource: resource(kvStr("service.name", "other")), ScopeSpans: []*tracev1.ScopeSpans{{}}},
	}})
	var out [][]byte
	for _, r := range reqs {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecodedSameAsProto: the sidecar's protowire decoding into
// otlpspans gives byte for byte the documents that decoding into the
// generated types gives, over the developer guide's samples and spans
// exercising every rule block and value kind.
func TestDecodedSameAsProto(t *testing.T) {
	tr, _ := New(nil)
	all, _ := New(&Config{IndexAllAttributes: true, IndexedAttributes: []string{"otel.resource.service.name"}})
	n := 0
	for _, b := range sampleRequests(t) {
		n += bothWays(t, tr, b)
		bothWays(t, all, b)
	}
	if n < 30 {
		t.Fatalf("compared %d spans", n)
	}
}

// FuzzDecodedSameAsProto: for any bytes protobuf-go takes as an export
// request, otlpspans decodes their canonical encoding into spans that
// translate to the same documents; and otlpspans.Decode never panics on
// any bytes.
func FuzzDecodedSameAsProto(f *testing.F) {
	for _, b := range sampleRequests(f) {
		f.Add(b)
	}
	tr, _ := New(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		var batch otlpspans.Batch
		_ = batch.Decode(b, 0)
		var req coltracev1.ExportTraceServiceRequest
		if (proto.UnmarshalOptions{RecursionLimit: 100}).Unmarshal(b, &req) != nil {
			return
		}
		canon, err := proto.Marshal(&req)
		if err != nil {
			return
		}
		bothWays(t, tr, canon)
	})
}
