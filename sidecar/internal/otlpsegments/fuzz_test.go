package otlpsegments_test

import (
	"bytes"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/xrayotel"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlpsegments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

func kv(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// FuzzTranslationPassesCheck: every document the translator writes
// passes xraydoc.Check (the UDP receiver's check, which the consumer no
// longer runs on translated documents) unless the consumer refuses the
// span beforehand (checkable), and the Info the consumer derives
// from the translator's Layout is the one Check finds.
func FuzzTranslationPassesCheck(f *testing.F) {
	ecs := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "svc"), kv("cloud.platform", "aws_ecs"),
		kv("cloud.account_id", "123456789012"), kv("container.name", "web"), kv("aws.ecs.task.arn", "arn:t"),
		kv("telemetry.sdk.name", "opentelemetry"), kv("telemetry.sdk.language", "go")}}
	server := span(1, 2, 0, tracepb.Span_SPAN_KIND_SERVER)
	server.Attributes = []*commonpb.KeyValue{kv("http.request.method", "GET"), kv("url.path", "/x"), kv("aws.xray.annotations", "a")}
	call := span(1, 3, 2, tracepb.Span_SPAN_KIND_CLIENT)
	call.Attributes = []*commonpb.KeyValue{kv("rpc.system", "aws-api"), kv("rpc.service", "DynamoDB"), kv("aws.region", "eu-west-1")}
	for _, res := range []*resourcepb.Resource{nil, ecs} {
		for _, sp := range []*tracepb.Span{server, call, span(1, 4, 0, tracepb.Span_SPAN_KIND_INTERNAL)} {
			b, err := proto.Marshal(&tracepb.ResourceSpans{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}}})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	tr, err := xrayotel.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var rs tracepb.ResourceSpans
		if proto.Unmarshal(b, &rs) != nil {
			return
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if sp.GetStartTimeUnixNano() < 1000 {
					continue // refused before translation (checkable)
				}
				doc, lay, err := tr.AppendSegmentLayout([]byte("prefix"), rs.GetResource(), sp)
				if err != nil {
					continue
				}
				doc = doc[len("prefix"):]
				want, r := xraydoc.Check(doc)
				if r != xraydoc.OK {
					t.Fatalf("translated document fails the check (%s):\n%s", r, doc)
				}
				got := otlpsegments.LayoutInfo(doc, lay)
				if got.Subsegment != want.Subsegment || !bytes.Equal(got.ID, want.ID) || !bytes.Equal(got.AWS, want.AWS) ||
					got.HasECS != want.HasECS || !bytes.Equal(got.ECS, want.ECS) {
					t.Fatalf("layout gives %+v, the check %+v, for\n%s", got, want, doc)
				}
			}
		}
	})
}
