package otlpsegments_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"unsafe"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// within reports whether any byte of b lies in the memory of in.
func within(b, in []byte) bool {
	if len(b) == 0 || len(in) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	return p < lo+uintptr(len(in)) && lo < p+uintptr(len(b))
}

// bodySink checks that nothing it is given points into body, and keeps
// copies of the documents.
type bodySink struct {
	t    *testing.T
	body []byte
	docs []string
}

func (s *bodySink) AddSegments(docs [][]byte, infos []xraydoc.Info) (int, error) {
	for i, d := range docs {
		for _, part := range [][]byte{d, infos[i].ID, infos[i].AWS, infos[i].ECS} {
			if within(part, s.body) {
				s.t.Errorf("document %d points into the request's bytes", i)
			}
		}
		s.docs = append(s.docs, string(d))
	}
	return 0, nil
}

// TestDocumentsDoNotPointIntoRequest: the documents and infos
// ConsumeSpans hands the Sink are written apart from the request's
// bytes, which the receiver reuses for the next request
// (otlp.Config.ReuseTraceBodies): overwriting them afterwards changes
// nothing the Sink was given.
func TestDocumentsDoNotPointIntoRequest(t *testing.T) {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	sp1 := span(1, 2, 0, tracepb.Span_SPAN_KIND_SERVER)
	sp1.Attributes = []*commonpb.KeyValue{str("http.request.method", "GET"), str("url.full", "http://cart.local/x"),
		str("rpc.system", "aws-api"), str("rpc.service", "DynamoDB"), str("aws.dynamodb.table_names", "t"), str("custom", "v")}
	sp2 := span(1, 3, 2, tracepb.Span_SPAN_KIND_CLIENT)
	sp2.Attributes = []*commonpb.KeyValue{str("db.system", "postgresql"), str("db.statement", "select 1")}
	body, err := proto.Marshal(request(sp1, sp2))
	if err != nil {
		t.Fatal(err)
	}
	if !within(body[1:2], body) || within(make([]byte, 1), body) {
		t.Fatal("within cannot tell")
	}
	s := &bodySink{t: t, body: body}
	c, _ := newConsumer(t, s)
	var b otlpspans.Batch
	if err := b.Decode(body, 100); err != nil {
		t.Fatal(err)
	}
	if rej, msg, err := c.ConsumeSpans(context.Background(), &b); rej != 0 || err != nil {
		t.Fatalf("rejected %d (%s), %v", rej, msg, err)
	}
	if len(s.docs) != 2 {
		t.Fatalf("%d documents, want 2", len(s.docs))
	}
	kept := slices.Clone(s.docs)
	copy(body, bytes.Repeat([]byte{0xff}, len(body)))
	if !slices.Equal(s.docs, kept) {
		t.Errorf("documents changed with the request's bytes")
	}
}
