package xrayotel_test

import (
	"fmt"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/seed-c77c9410/sidelight/internal/xrayotel"
)

func str(k, v string) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: v}}}
}

func ExampleTranslator_AppendSegment() {
	tr, err := xrayotel.New(&xrayotel.Config{IndexedAttributes: []string{"order.id"}})
	if err != nil {
		panic(err)
	}
	res := &resourcev1.Resource{Attributes: []*commonv1.KeyValue{str("service.name", "checkout")}}
	span := &tracev1.Span{
		TraceId: []byte{0x5f, 0x84, 0xc7, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		SpanId:  []byte{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8},
		Name:    "POST /pay",
		Kind:    tracev1.Span_SPAN_KIND_SERVER,
		// 2020-10-12T21:20:01.5Z to 0.25 s later.
		StartTimeUnixNano: 1602537601_500000000,
		EndTimeUnixNano:   1602537601_750000000,
		Attributes: []*commonv1.KeyValue{
			str("http.request.method", "POST"),
			{Key: "http.response.status_code", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: 502}}},
			str("order.id", "o-17"),
		},
	}
	doc, err := tr.AppendSegment(nil, res, span)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(doc))
	// Output:
	// {"name":"checkout","id":"53995c3f42cd8ad8","trace_id":"1-5f84c7a1-0102030405060708090a0b0c","start_time":1602537601.500000,"end_time":1602537601.750000,"fault":true,"http":{"request":{"method":"POST"},"response":{"status":502}},"annotations":{"order_id":"o-17"},"metadata":{"default":{"otel.resource.service.name":"checkout"}}}
}

func ExampleTranslator_SegmentToSpans() {
	tr, _ := xrayotel.New(nil)
	doc := `{"name":"checkout","id":"53995c3f42cd8ad8","trace_id":"1-5f84c7a1-0102030405060708090a0b0c",` +
		`"start_time":1602537601.5,"end_time":1602537601.75,"http":{"request":{"method":"GET"},"response":{"status":200}},` +
		`"subsegments":[{"name":"DynamoDB","id":"1111111111111111","start_time":1602537601.6,"end_time":1602537601.7,` +
		`"namespace":"aws","aws":{"operation":"GetItem"}}]}`
	out, err := tr.SegmentToSpans([]byte(doc))
	if err != nil {
		panic(err)
	}
	for _, kv := range out.Resource.Attributes {
		fmt.Printf("resource %s=%s\n", kv.Key, kv.Value.GetStringValue())
	}
	for _, s := range out.Spans {
		fmt.Printf("%s %x parent=%x %s %d attributes\n", s.Kind, s.SpanId, s.ParentSpanId, s.Name, len(s.Attributes))
	}
	// Output:
	// resource service.name=checkout
	// SPAN_KIND_SERVER 53995c3f42cd8ad8 parent= checkout 2 attributes
	// SPAN_KIND_CLIENT 1111111111111111 parent=53995c3f42cd8ad8 DynamoDB 3 attributes
}

func ExampleAppendTraceID() {
	w3c := []byte{0x5f, 0x84, 0xc7, 0xa1, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7, 0x08, 0x19, 0x2a, 0x3b, 0x4c, 0x5d}
	id, _ := xrayotel.AppendTraceID(nil, w3c)
	fmt.Println(string(id))
	back, _ := xrayotel.ParseTraceID(string(id))
	fmt.Printf("%x\n", back)
	// Output:
	// 1-5f84c7a1-a2b3c4d5e6f708192a3b4c5d
	// 5f84c7a1a2b3c4d5e6f708192a3b4c5d
}
