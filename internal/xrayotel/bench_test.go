package xrayotel

import (
	"testing"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
)

// BenchmarkAppendSegment translates a typical HTTP server span with an
// ECS resource into a reused buffer.
func BenchmarkAppendSegment(b *testing.B) {
	tr, _ := New(&Config{IndexedAttributes: []string{"tenant"}})
	res := resource(kvStr("service.name", "api"), kvStr("service.version", "1.4.2"), kvStr("cloud.provider", "aws"),
		kvStr("cloud.platform", "aws_ecs"), kvStr("aws.ecs.launchtype", "fargate"), kvStr("container.name", "web"),
		kvStr("aws.ecs.task.arn", "arn:aws:ecs:eu-west-1:123456789012:task/c/0123456789abcdef"),
		kvStr("telemetry.sdk.name", "opentelemetry"), kvStr("telemetry.sdk.language", "go"), kvStr("telemetry.sdk.version", "1.47.0"))
	s := span(server, kvStr("http.request.method", "GET"), kvStr("url.full", "https://api.example.com/users/42?x=1"),
		kvStr("user_agent.original", "Mozilla/5.0"), kvStr("client.address", "192.0.2.7"), kvInt("http.response.status_code", 200),
		kvStr("http.route", "/users/{id}"), kvStr("tenant", "acme"), kvInt("retries", 0))
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = tr.AppendSegment(buf[:0], res, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSegmentToSpans translates a segment with two embedded
// subsegments.
func BenchmarkSegmentToSpans(b *testing.B) {
	tr, _ := New(nil)
	doc := []byte(sampleSegment)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.SegmentToSpans(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSpan is the span of BenchmarkAppendSegment in a decoded Batch.
func benchSpan() (*Translator, *otlpspans.Batch) {
	tr, _ := New(&Config{IndexedAttributes: []string{"tenant"}})
	res := resource(kvStr("service.name", "api"), kvStr("service.version", "1.4.2"), kvStr("cloud.provider", "aws"),
		kvStr("cloud.platform", "aws_ecs"), kvStr("aws.ecs.launchtype", "fargate"), kvStr("container.name", "web"),
		kvStr("aws.ecs.task.arn", "arn:aws:ecs:eu-west-1:123456789012:task/c/0123456789abcdef"),
		kvStr("telemetry.sdk.name", "opentelemetry"), kvStr("telemetry.sdk.language", "go"), kvStr("telemetry.sdk.version", "1.47.0"))
	s := span(server, kvStr("http.request.method", "GET"), kvStr("url.full", "https://api.example.com/users/42?x=1"),
		kvStr("user_agent.original", "Mozilla/5.0"), kvStr("client.address", "192.0.2.7"), kvInt("http.response.status_code", 200),
		kvStr("http.route", "/users/{id}"), kvStr("tenant", "acme"), kvInt("retries", 0),
		kvMap("request", kvStr("id", "r1"), kvStr("id", "r2"), kvInt("n", 3)))
	batch := new(otlpspans.Batch)
	batch.AddSpan(batch.AddResource(res), s)
	return tr, batch
}

// BenchmarkAppendSpan translates benchSpan's span from a decoded
// otlpspans.Batch, the sidecar's path.
func BenchmarkAppendSpan(b *testing.B) {
	tr, batch := benchSpan()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, _, err = tr.AppendSpan(buf[:0], batch, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func kvMap(k string, kvs ...*commonv1.KeyValue) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_KvlistValue{KvlistValue: &commonv1.KeyValueList{Values: kvs}}}}
}
