package xrayotel

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

// attrMap flattens attributes for comparison: strings, int64, float64,
// bool, []any and map[string]any.
func attrMap(kvs []*commonv1.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[kv.Key] = plain(kv.Value)
	}
	return m
}

func plain(v *commonv1.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return x.StringValue
	case *commonv1.AnyValue_IntValue:
		return x.IntValue
	case *commonv1.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonv1.AnyValue_BoolValue:
		return x.BoolValue
	case *commonv1.AnyValue_ArrayValue:
		var out []any
		for _, e := range x.ArrayValue.Values {
			out = append(out, plain(e))
		}
		return out
	case *commonv1.AnyValue_KvlistValue:
		return attrMap(x.KvlistValue.Values)
	}
	return nil
}

const sampleSegment = `{
  "name": "checkout", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
  "start_time": 1478293361.271, "end_time": 1478293361.449, "error": true, "user": "alice",
  "origin": "AWS::ECS::Fargate", "service": {"version": "1.2.3"},
  "http": {"request": {"method": "POST", "url": "https://shop.example.com/pay", "client_ip": "203.0.113.9", "x_forwarded_for": true, "user_agent": "Mozilla"},
           "response": {"status": 404, "content_length": 12}},
  "aws": {"account_id": "123456789012", "ecs": {"container": "web", "task_arn": "arn:t", "launch_type": "fargate"},
          "cloudwatch_logs": [{"log_group": "/ecs/web", "arn": "arn:lg"}], "xray": {"sdk": "opentelemetry for go", "sdk_version": "1.47.0"}},
  "annotations": {"order_id": "o-9", "vip": true, "amount": 12.5, "count": 3},
  "metadata": {"default": {"note": "hi", "otel.resource.team": "payments", "nested": {"a": [1, "x", null]}}, "debug": {"k": "v"}},
  "cause": {"exceptions": [{"id": "1234567890abcdef", "type": "NotFound", "message": "no order", "stack": [{"path": "/app/main.go", "line": 7, "label": "main.pay"}]}]},
  "subsegments": [
    {"name": "DynamoDB", "id": "1111111111111111", "start_time": 1478293361.3, "end_time": 1478293361.4, "namespace": "aws",
     "aws": {"operation": "GetItem", "region": "us-east-1", "request_id": "R1", "table_name": "orders"}},
    {"name": "db@host", "id": "2222222222222222", "start_time": 1478293361.31, "in_progress": true, "namespace": "remote", "fault": true,
     "sql": {"database_type": "postgresql", "sanitized_query": "SELECT 1", "url": "postgresql://host/db", "user": "app"},
     "subsegments": [{"name": "inner", "id": "3333333333333333", "start_time": 1478293361.32, "end_time": 1478293361.33}]}
  ]
}`

func TestSegmentToSpans(t *testing.T) {
	tr, _ := New(nil)
	got, err := tr.SegmentToSpans([]byte(sampleSegment))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spans) != 4 {
		t.Fatalf("%d spans, want 4", len(got.Spans))
	}
	res := attrMap(got.Resource.Attributes)
	for k, want := range map[string]any{
		"service.name": "checkout", "service.version": "1.2.3", "cloud.platform": "aws_ecs", "aws.ecs.launchtype": "fargate",
		"cloud.account.id": "123456789012", "container.name": "web", "aws.ecs.task.arn": "arn:t",
		"aws.log.group.names": []any{"/ecs/web"}, "aws.log.group.arns": []any{"arn:lg"},
		"telemetry.sdk.name": "opentelemetry", "telemetry.sdk.language": "go", "telemetry.sdk.version": "1.47.0", "team": "payments",
	} {
		if !reflect.DeepEqual(res[k], want) {
			t.Errorf("resource %s = %#v, want %#v", k, res[k], want)
		}
	}
	root := got.Spans[0]
	if root.Kind != tracev1.Span_SPAN_KIND_SERVER || root.Name != "checkout" || len(root.ParentSpanId) != 0 {
		t.Errorf("root span: kind %v name %q parent %x", root.Kind, root.Name, root.ParentSpanId)
	}
	if root.StartTimeUnixNano != 1478293361271000000 || root.EndTimeUnixNano != 1478293361449000000 {
		t.Errorf("root times %d %d", root.StartTimeUnixNano, root.EndTimeUnixNano)
	}
	ra := attrMap(root.Attributes)
	for k, want := range map[string]any{
		"http.request.method": "POST", "url.full": "https://shop.example.com/pay", "http.client_ip": "203.0.113.9",
		"user_agent.original": "Mozilla", "http.response.status_code": int64(404), "http.response.body.size": int64(12),
		"enduser.id": "alice", "order_id": "o-9", "vip": true, "amount": 12.5, "count": int64(3),
		"aws.xray.annotations": []any{"amount", "count", "order_id", "vip"},
		"note":                 "hi", "nested": map[string]any{"a": []any{int64(1), "x"}}, "aws.xray.metadata.debug": `{"k":"v"}`,
	} {
		if !reflect.DeepEqual(ra[k], want) {
			t.Errorf("root attribute %s = %#v, want %#v", k, ra[k], want)
		}
	}
	if _, ok := ra["otel.resource.team"]; ok {
		t.Error("resource metadata left on the span")
	}
	if root.Status.GetCode() != tracev1.Status_STATUS_CODE_UNSET {
		t.Errorf("server 404 status = %v, want unset", root.Status)
	}
	if len(root.Events) != 1 || attrMap(root.Events[0].Attributes)["exception.stacktrace"] != "main.pay()\n\t/app/main.go:7\n" {
		t.Errorf("events %v", root.Events)
	}
	dyn := got.Spans[1]
	da := attrMap(dyn.Attributes)
	if dyn.Kind != tracev1.Span_SPAN_KIND_CLIENT || string(dyn.ParentSpanId) != string(root.SpanId) ||
		da["rpc.system"] != "aws-api" || da["rpc.service"] != "DynamoDB" || da["rpc.method"] != "GetItem" || da["aws.table_name"] != "orders" {
		t.Errorf("DynamoDB span %v %v", dyn.Kind, da)
	}
	db := got.Spans[2]
	if db.EndTimeUnixNano != 0 || db.Status.GetCode() != tracev1.Status_STATUS_CODE_ERROR || attrMap(db.Attributes)["db.query.text"] != "SELECT 1" {
		t.Errorf("db span %v", db)
	}
	inner := got.Spans[3]
	if inner.Kind != tracev1.Span_SPAN_KIND_INTERNAL || string(inner.ParentSpanId) != string(db.SpanId) || string(inner.TraceId) != string(root.TraceId) {
		t.Errorf("inner span %v", inner)
	}
}

func TestSegmentToSpansErrors(t *testing.T) {
	tr, _ := New(nil)
	ok := `"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2`
	cases := []struct {
		name, doc string
		want      error
	}{
		{"not JSON", `{`, ErrBadDocument},
		{"not an object", `[1]`, ErrBadDocument},
		{"wrong type", `{"name":1}`, ErrBadDocument},
		{"bad trace ID", `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-zz","start_time":1}`, ErrTraceID},
		{"zero trace ID", `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-00000000-000000000000000000000000","start_time":1}`, ErrTraceID},
		{"bad ID", `{"name":"a","id":"70de","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1}`, ErrSpanID},
		{"zero ID", `{"name":"a","id":"0000000000000000","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1}`, ErrSpanID},
		{"bad parent", `{` + ok + `,"parent_id":"x"}`, ErrParentID},
		{"subsegment without parent", `{` + ok + `,"type":"subsegment"}`, ErrBadDocument},
		{"unknown type", `{` + ok + `,"type":"segment"}`, ErrBadDocument},
		{"no start", `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979"}`, ErrBadDocument},
		{"negative start", `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":-1}`, ErrBadDocument},
		{"huge start", `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1e300}`, ErrBadDocument},
		{"bad subsegment ID", `{` + ok + `,"subsegments":[{"name":"b","id":"nope","start_time":1}]}`, ErrSpanID},
		{"too deep", `{` + ok + `,"subsegments":[` + strings.Repeat(`{"name":"b","id":"70de5b6f19ff9a0b","start_time":1,"subsegments":[`, MaxSubsegmentDepth+1) +
			strings.Repeat(`]}`, MaxSubsegmentDepth+1) + `]}`, ErrBadDocument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tr.SegmentToSpans([]byte(c.doc))
			if !errors.Is(err, c.want) || got != nil {
				t.Fatalf("err = %v (result %v), want %v", err, got, c.want)
			}
		})
	}
}

// TestRoundTripSegment checks segment → spans → segment keeps what both
// models hold: every field of these documents survives.
func TestRoundTripSegment(t *testing.T) {
	docs := map[string]string{
		"server segment": `{"name":"api","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449,` +
			`"origin":"AWS::EC2::Instance","user":"bob","http":{"request":{"method":"GET","url":"https://a.example.com/x","user_agent":"ua","client_ip":"192.0.2.1"},"response":{"status":200,"content_length":5}},` +
			`"aws":{"account_id":"1","ec2":{"instance_id":"i-1","availability_zone":"us-east-1a"}},"service":{"version":"9"},` +
			`"annotations":{"tenant":"t","n":2},"metadata":{"default":{"k":"v","otel.resource.cloud.platform":"aws_ec2","otel.resource.cloud.account.id":"1","otel.resource.host.id":"i-1","otel.resource.cloud.availability_zone":"us-east-1a","otel.resource.service.name":"api","otel.resource.service.version":"9"},"extra":{"z":[1,2]}}}`,
		"aws subsegment": `{"name":"DynamoDB","id":"1111111111111111","trace_id":"1-581cf771-a006649127e371903a2de979","parent_id":"70de5b6f19ff9a0a","type":"subsegment",` +
			`"start_time":1478293361.3,"end_time":1478293361.4,"namespace":"aws","throttle":true,"error":true,"http":{"response":{"status":429}},` +
			`"aws":{"operation":"PutItem","region":"eu-west-1","request_id":"R","table_name":"t"}}`,
		"faulty subsegment": `{"name":"work","id":"1111111111111111","trace_id":"1-581cf771-a006649127e371903a2de979","parent_id":"70de5b6f19ff9a0a","type":"subsegment",` +
			`"start_time":1478293361.3,"in_progress":true,"fault":true,"cause":{"exceptions":[{"id":"%s","type":"E","message":"m","stack":[{"path":"/a.go","line":3,"label":"main.f"}]}]}}`,
		"sql subsegment": `{"name":"orders@db","id":"1111111111111111","trace_id":"1-581cf771-a006649127e371903a2de979","parent_id":"70de5b6f19ff9a0a","type":"subsegment",` +
			`"start_time":1478293361.3,"end_time":1478293361.4,"namespace":"remote","sql":{"database_type":"mysql","url":"mysql://db/orders","sanitized_query":"SELECT ?","user":"u"},"metadata":{"default":{"peer.service":"orders@db"}}}`,
	}
	tr, _ := New(nil)
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(doc, "%s") {
				// Exception IDs are derived from the span ID.
				doc = strings.Replace(doc, "%s", string(appendHex(nil, exceptionID([]byte{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11}, 0))), 1)
			}
			if err := validate([]byte(doc)); err != nil {
				t.Fatalf("input not valid: %v", err)
			}
			ss, err := tr.SegmentToSpans([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(ss.Spans) != 1 {
				t.Fatalf("%d spans", len(ss.Spans))
			}
			back, err := tr.AppendSegment(nil, ss.Resource, ss.Spans[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(back); err != nil {
				t.Fatalf("%v\n%s", err, back)
			}
			var want, got map[string]any
			json.Unmarshal([]byte(doc), &want)
			json.Unmarshal(back, &got)
			// aws.xray.annotations marks the indexed keys; it is not repeated.
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip changed the document:\n in  %s\n out %s", doc, back)
			}
		})
	}
}

// TestRoundTripSpan checks span → segment → span keeps what both models
// hold.
func TestRoundTripSpan(t *testing.T) {
	res := resource(kvStr("service.name", "api"), kvStr("service.version", "2"), kvStr("cloud.platform", "aws_eks"),
		kvStr("k8s.cluster.name", "prod"), kvStr("k8s.pod.name", "p"))
	cases := []struct {
		name string
		res  *resourcev1.Resource
		span *tracev1.Span
	}{
		{"server", res, with(span(server, kvStr("http.request.method", "GET"), kvStr("url.full", "https://x/y"),
			kvInt("http.response.status_code", 503), kvStr("tenant", "t"), kvStrs("aws.xray.annotations", "tenant"), kvFloat("ratio", 0.5)),
			func(s *tracev1.Span) {
				s.Name = "api"
				s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR}
			})},
		{"aws client", nil, with(span(client, kvStr("rpc.system", "aws-api"), kvStr("rpc.service", "SQS"), kvStr("rpc.method", "SendMessage"),
			kvStr("aws.region", "eu-west-1"), kvStr("aws.queue_url", "https://q")), func(s *tracev1.Span) { s.Name = "SQS" })},
		{"internal with error", nil, with(span(internal), func(s *tracev1.Span) {
			s.Name = "work"
			s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR, Message: "bad"}
			s.Events = []*tracev1.Span_Event{exceptionEvent("E", "bad", "main.f()\n\t/a.go:3\n")}
		})},
	}
	tr, _ := New(nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := tr.AppendSegment(nil, c.res, c.span)
			if err != nil {
				t.Fatal(err)
			}
			ss, err := tr.SegmentToSpans(doc)
			if err != nil {
				t.Fatal(err)
			}
			got := ss.Spans[0]
			if string(got.TraceId) != string(c.span.TraceId) || string(got.SpanId) != string(c.span.SpanId) ||
				string(got.ParentSpanId) != string(c.span.ParentSpanId) || got.Kind != c.span.Kind || got.Name != c.span.Name {
				t.Errorf("identity changed: %v", got)
			}
			if got.StartTimeUnixNano != c.span.StartTimeUnixNano/1000*1000 || got.EndTimeUnixNano != c.span.EndTimeUnixNano/1000*1000 {
				t.Errorf("times %d %d", got.StartTimeUnixNano, got.EndTimeUnixNano)
			}
			if got.Status.GetCode() != c.span.Status.GetCode() || got.Status.GetMessage() != c.span.Status.GetMessage() {
				t.Errorf("status %v, want %v", got.Status, c.span.Status)
			}
			wantAttrs, gotAttrs := attrMap(c.span.Attributes), attrMap(got.Attributes)
			if !reflect.DeepEqual(gotAttrs, wantAttrs) {
				t.Errorf("attributes\n got  %v\n want %v", gotAttrs, wantAttrs)
			}
			if len(got.Events) != len(c.span.Events) {
				t.Fatalf("events %v", got.Events)
			}
			for i := range got.Events {
				if g, w := attrMap(got.Events[i].Attributes), attrMap(c.span.Events[i].Attributes); !reflect.DeepEqual(g, w) {
					t.Errorf("event %d: %v, want %v", i, g, w)
				}
			}
			if c.res != nil {
				if g, w := attrMap(ss.Resource.Attributes), attrMap(c.res.Attributes); !reflect.DeepEqual(g, w) {
					t.Errorf("resource\n got  %v\n want %v", g, w)
				}
			}
		})
	}
}
