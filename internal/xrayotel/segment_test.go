package xrayotel

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

func TestRuleIDs(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "W3C trace ID becomes 1-first8-last24", span: span(server),
			want: map[string]any{"trace_id": testXRayID, "id": "53995c3f42cd8ad8", "parent_id": "1122334455667788"}},
		{name: "root span has no parent_id", span: with(span(server), func(s *tracev1.Span) { s.ParentSpanId = nil }),
			absent: []string{"parent_id", "type"}},
		{name: "all-zero parent is no parent", span: with(span(internal), func(s *tracev1.Span) { s.ParentSpanId = make([]byte, 8) }),
			absent: []string{"parent_id", "type"}},
	})
}

func TestRuleBadIDs(t *testing.T) {
	tr, _ := New(nil)
	cases := []struct {
		name string
		edit func(*tracev1.Span)
		want error
	}{
		{"zero trace ID", func(s *tracev1.Span) { s.TraceId = make([]byte, 16) }, ErrTraceID},
		{"short trace ID", func(s *tracev1.Span) { s.TraceId = s.TraceId[:8] }, ErrTraceID},
		{"missing trace ID", func(s *tracev1.Span) { s.TraceId = nil }, ErrTraceID},
		{"zero span ID", func(s *tracev1.Span) { s.SpanId = make([]byte, 8) }, ErrSpanID},
		{"long span ID", func(s *tracev1.Span) { s.SpanId = make([]byte, 9) }, ErrSpanID},
		{"short parent ID", func(s *tracev1.Span) { s.ParentSpanId = []byte{1, 2, 3} }, ErrParentID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := tr.AppendSegment(dst, nil, with(span(internal), c.edit))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if string(out) != "prefix" {
				t.Fatalf("dst changed on error: %q", out)
			}
		})
	}
	if _, err := tr.AppendSegment(nil, nil, nil); err == nil {
		t.Fatal("nil span: no error")
	}
}

func TestRuleSegmentOrSubsegment(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "SERVER with parent is a segment", span: span(server), absent: []string{"type", "namespace"},
			want: map[string]any{"parent_id": "1122334455667788"}},
		{name: "CONSUMER is a segment", span: span(consumer), absent: []string{"type"}},
		{name: "INTERNAL with parent is a subsegment", span: span(internal),
			want: map[string]any{"type": "subsegment", "parent_id": "1122334455667788", "trace_id": testXRayID}},
		{name: "CLIENT is a subsegment", span: span(client), want: map[string]any{"type": "subsegment"}},
		{name: "PRODUCER is a subsegment", span: span(producer), want: map[string]any{"type": "subsegment"}},
		{name: "UNSPECIFIED is a subsegment", span: span(tracev1.Span_SPAN_KIND_UNSPECIFIED), want: map[string]any{"type": "subsegment"}},
		{name: "root INTERNAL is a segment", span: with(span(internal), func(s *tracev1.Span) { s.ParentSpanId = nil }),
			res: resource(kvStr("service.name", "batch")), want: map[string]any{"name": "batch"}, absent: []string{"type"}},
	})
}

func TestRuleNames(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "segment named by service.name", span: span(server), res: resource(kvStr("service.name", "checkout")),
			want: map[string]any{"name": "checkout"}},
		{name: "segment without service.name uses DefaultServiceName", span: span(server), cfg: &Config{DefaultServiceName: "fallback"},
			want: map[string]any{"name": "fallback"}},
		{name: "segment without any service uses the span name", span: span(server),
			want: map[string]any{"name": "GET /users/id"}},
		{name: "subsegment keeps the span name", span: span(internal), res: resource(kvStr("service.name", "checkout")),
			want: map[string]any{"name": "GET /users/id"}},
		{name: "AWS SDK call named by rpc.service", span: span(client, kvStr("rpc.system", "aws-api"), kvStr("rpc.service", "DynamoDB")),
			want: map[string]any{"name": "DynamoDB"}},
		{name: "AWS.SDK. prefix trimmed", span: span(client, kvStr("rpc.system", "aws-api"), kvStr("rpc.service", "AWS.SDK.SQS")),
			want: map[string]any{"name": "SQS"}},
		{name: "client named by peer.service", span: span(client, kvStr("peer.service", "billing"), kvStr("server.address", "10.0.0.1")),
			want: map[string]any{"name": "billing"}},
		{name: "RPC client named by rpc.service", span: span(client, kvStr("rpc.system", "grpc"), kvStr("rpc.service", "shop.Cart"), kvStr("server.address", "10.0.0.2")),
			want: map[string]any{"name": "shop.Cart", "namespace": "remote"}},
		{name: "client named by server.address", span: span(client, kvStr("server.address", "api.example.com")),
			want: map[string]any{"name": "api.example.com"}},
		{name: "client named by old net.peer.name", span: span(client, kvStr("net.peer.name", "old.example.com")),
			want: map[string]any{"name": "old.example.com"}},
		{name: "client named by url.full host", span: span(client, kvStr("url.full", "https://h.example.com:8443/x?y=1")),
			want: map[string]any{"name": "h.example.com"}},
		{name: "database client named db@host", span: span(client, kvStr("db.system", "postgresql"), kvStr("db.namespace", "orders"), kvStr("server.address", "db.internal")),
			want: map[string]any{"name": "orders@db.internal"}},
		{name: "database client with old db.name", span: span(client, kvStr("db.system", "mysql"), kvStr("db.name", "shop")),
			want: map[string]any{"name": "shop"}},
		{name: "invalid characters dropped", span: span(server), res: resource(kvStr("service.name", "my<svc>!ü✓")),
			want: map[string]any{"name": "mysvcü"}},
		{name: "nothing valid left gives unknown", span: span(server), res: resource(kvStr("service.name", "<>!")),
			want: map[string]any{"name": "unknown"}},
		{name: "cut to 200 characters", span: span(server), res: resource(kvStr("service.name", strings.Repeat("é", 300))),
			want: map[string]any{"name": strings.Repeat("é", 200)}},
	})
}

func TestRuleNamespace(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "CLIENT is remote", span: span(client), want: map[string]any{"namespace": "remote"}},
		{name: "PRODUCER is remote", span: span(producer), want: map[string]any{"namespace": "remote"}},
		{name: "AWS SDK is aws", span: span(client, kvStr("rpc.system", "aws-api")), want: map[string]any{"namespace": "aws"}},
		{name: "aws.service marks an AWS call", span: span(client, kvStr("aws.service", "S3")), want: map[string]any{"namespace": "aws", "name": "S3"}},
		{name: "INTERNAL has none", span: span(internal), absent: []string{"namespace"}},
		{name: "segments have none", span: span(server, kvStr("rpc.system", "aws-api")), absent: []string{"namespace"}},
	})
}

func TestRuleHTTP(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "current names", span: span(server,
			kvStr("http.request.method", "GET"), kvStr("url.full", "https://shop.example.com/cart?id=1"),
			kvStr("user_agent.original", "curl/8"), kvStr("client.address", "192.0.2.7"),
			kvInt("http.response.status_code", 200), kvInt("http.response.body.size", 512)),
			want: map[string]any{
				"http.request.method": "GET", "http.request.url": "https://shop.example.com/cart?id=1",
				"http.request.user_agent": "curl/8", "http.request.client_ip": "192.0.2.7",
				"http.response.status": 200.0, "http.response.content_length": 512.0,
			},
			absent: []string{"http.request.x_forwarded_for", "metadata.default.http.request.method", "error", "fault"}},
		{name: "old names", span: span(server,
			kvStr("http.method", "POST"), kvStr("http.url", "http://old.example.com/a"),
			kvStr("http.user_agent", "ua"), kvStr("http.client_ip", "198.51.100.1"),
			kvInt("http.status_code", 201), kvInt("http.response_content_length", 3)),
			want: map[string]any{
				"http.request.method": "POST", "http.request.url": "http://old.example.com/a",
				"http.request.user_agent": "ua", "http.request.client_ip": "198.51.100.1",
				"http.request.x_forwarded_for": true, "http.response.status": 201.0, "http.response.content_length": 3.0,
			}},
		{name: "current name wins over old", span: span(server, kvStr("http.method", "OLD"), kvStr("http.request.method", "PUT")),
			want: map[string]any{"http.request.method": "PUT", "metadata.default.http\\.method": "OLD"}},
		{name: "server URL built from parts", span: span(server, kvStr("http.request.method", "GET"), kvStr("url.scheme", "https"),
			kvStr("server.address", "api.example.com"), kvInt("server.port", 8443), kvStr("url.path", "/v1/items"), kvStr("url.query", "q=1")),
			want: map[string]any{"http.request.url": "https://api.example.com:8443/v1/items?q=1"}},
		{name: "server URL from old http.target and http.host", span: span(server, kvStr("http.method", "GET"), kvStr("http.host", "h.example.com"), kvStr("http.target", "/t")),
			want: map[string]any{"http.request.url": "http://h.example.com/t"}},
		{name: "status as text", span: span(client, kvStr("http.response.status_code", "503")),
			want: map[string]any{"http.response.status": 503.0, "fault": true}},
		{name: "client_ip only on segments", span: span(client, kvStr("http.request.method", "GET"), kvStr("client.address", "192.0.2.7")),
			absent: []string{"http.request.client_ip"}},
		{name: "long URL cut to 250", span: span(client, kvStr("url.full", "https://x.example.com/"+strings.Repeat("a", 400))),
			want: map[string]any{"http.request.url": ("https://x.example.com/" + strings.Repeat("a", 400))[:250]}},
		{name: "no HTTP attributes, no block", span: span(internal), absent: []string{"http"}},
	})
}

func TestRuleStatus(t *testing.T) {
	errStatus := func(msg string) func(*tracev1.Span) {
		return func(s *tracev1.Span) {
			s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR, Message: msg}
		}
	}
	runRules(t, []ruleCase{
		{name: "OK status, 200", span: span(server, kvInt("http.response.status_code", 200)), absent: []string{"error", "fault", "throttle", "cause"}},
		{name: "404 is an error", span: span(server, kvInt("http.response.status_code", 404)),
			want: map[string]any{"error": true}, absent: []string{"fault", "throttle"}},
		{name: "429 is error and throttle", span: span(client, kvInt("http.status_code", 429)),
			want: map[string]any{"error": true, "throttle": true}, absent: []string{"fault"}},
		{name: "500 is a fault", span: span(server, kvInt("http.response.status_code", 500)),
			want: map[string]any{"fault": true}, absent: []string{"error"}},
		{name: "ERROR status without HTTP is a fault with the message as cause", span: with(span(internal), errStatus("disk full")),
			want: map[string]any{"fault": true, "cause.exceptions.0.message": "disk full"}, absent: []string{"error"}},
		{name: "ERROR status with 4xx stays an error", span: with(span(client, kvInt("http.response.status_code", 403)), errStatus("")),
			want: map[string]any{"error": true}, absent: []string{"fault", "cause"}},
		{name: "ERROR status with 200 is a fault", span: with(span(server, kvInt("http.response.status_code", 200)), errStatus("")),
			want: map[string]any{"fault": true}},
		{name: "UNSET status with exception event records cause but no flag", span: with(span(internal), func(s *tracev1.Span) {
			s.Events = []*tracev1.Span_Event{exceptionEvent("io.EOF", "eof", "")}
		}), want: map[string]any{"cause.exceptions.0.type": "io.EOF"}, absent: []string{"fault", "error"}},
	})
}

func TestRuleCause(t *testing.T) {
	goStack := "goroutine 1 [running]:\nmain.handler(0x1)\n\t/app/main.go:42 +0x1d\nnet/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:2294 +0x29\n"
	javaStack := "java.lang.IllegalStateException: boom\n\tat com.example.Shop.buy(Shop.java:17)\n\tat com.example.Main.main(Main.java:5)\n"
	pyStack := "Traceback (most recent call last):\n  File \"/app/app.py\", line 10, in handler\n    raise ValueError('x')\nValueError: x\n"
	jsStack := "Error: nope\n    at handle (/app/index.js:12:5)\n    at /app/lib.js:3:1\n"
	long := strings.Repeat("\tat a.B.c(B.java:1)\n", 60)
	events := func(evs ...*tracev1.Span_Event) func(*tracev1.Span) {
		return func(s *tracev1.Span) {
			s.Events = append(evs, &tracev1.Span_Event{Name: "not-an-exception"})
			s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR, Message: "ignored when events exist"}
		}
	}
	runRules(t, []ruleCase{
		{name: "Go stack", span: with(span(server), events(exceptionEvent("*errors.errorString", "boom", goStack))),
			want: map[string]any{
				"fault": true, "cause.exceptions.0.type": "*errors.errorString", "cause.exceptions.0.message": "boom",
				"cause.exceptions.0.stack.0.path": "/app/main.go", "cause.exceptions.0.stack.0.line": 42.0, "cause.exceptions.0.stack.0.label": "main.handler",
				"cause.exceptions.0.stack.1.label": "net/http.HandlerFunc.ServeHTTP",
			}, absent: []string{"cause.exceptions.1", "cause.exceptions.0.truncated"}},
		{name: "Java stack", span: with(span(server), events(exceptionEvent("java.lang.IllegalStateException", "boom", javaStack))),
			want: map[string]any{"cause.exceptions.0.stack.0.path": "Shop.java", "cause.exceptions.0.stack.0.line": 17.0, "cause.exceptions.0.stack.0.label": "com.example.Shop.buy",
				"cause.exceptions.0.stack.1.label": "com.example.Main.main"}},
		{name: "Python stack", span: with(span(server), events(exceptionEvent("ValueError", "x", pyStack))),
			want: map[string]any{"cause.exceptions.0.stack.0.path": "/app/app.py", "cause.exceptions.0.stack.0.line": 10.0, "cause.exceptions.0.stack.0.label": "handler"}},
		{name: "JavaScript stack", span: with(span(server), events(exceptionEvent("Error", "nope", jsStack))),
			want: map[string]any{"cause.exceptions.0.stack.0.path": "/app/index.js", "cause.exceptions.0.stack.0.line": 12.0, "cause.exceptions.0.stack.0.label": "handle",
				"cause.exceptions.0.stack.1.path": "/app/lib.js", "cause.exceptions.0.stack.1.label": ""}},
		{name: "more than 50 frames are counted", span: with(span(server), events(exceptionEvent("E", "m", long))),
			want: map[string]any{"cause.exceptions.0.stack.49.path": "B.java", "cause.exceptions.0.truncated": 10.0}},
		{name: "unparsable stack leaves no stack", span: with(span(server), events(exceptionEvent("E", "m", "just text"))),
			absent: []string{"cause.exceptions.0.stack"}},
		{name: "two exceptions with distinct IDs", span: with(span(server), events(exceptionEvent("A", "a", ""), exceptionEvent("B", "b", ""))),
			want: map[string]any{"cause.exceptions.0.type": "A", "cause.exceptions.1.type": "B"}},
	})
	// Exception IDs are stable and distinct.
	m := translate(t, nil, nil, with(span(server), events(exceptionEvent("A", "", ""), exceptionEvent("B", "", ""))))
	id0, _ := lookup(m, "cause.exceptions.0.id")
	id1, _ := lookup(m, "cause.exceptions.1.id")
	again, _ := lookup(translate(t, nil, nil, with(span(server), events(exceptionEvent("A", "", "")))), "cause.exceptions.0.id")
	if id0 == id1 || id0 != again {
		t.Fatalf("exception IDs %v %v %v: want distinct and stable", id0, id1, again)
	}
}

func TestRuleAWS(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "DynamoDB call", span: span(client, kvStr("rpc.system", "aws-api"), kvStr("rpc.service", "DynamoDB"), kvStr("rpc.method", "GetItem"),
			kvStr("aws.region", "eu-west-1"), kvStr("aws.request_id", "REQ1"), kvStrs("aws.dynamodb.table_names", "orders")),
			want:   map[string]any{"aws.operation": "GetItem", "aws.region": "eu-west-1", "aws.request_id": "REQ1", "aws.table_name": "orders"},
			absent: []string{"metadata"}}, // every attribute went into the name, namespace or aws block
		{name: "SQS call with old request ID and queue URL", span: span(client, kvStr("rpc.system", "aws-api"), kvStr("rpc.service", "SQS"),
			kvStr("rpc.method", "SendMessage"), kvStr("aws.requestId", "R2"), kvStr("messaging.url", "https://sqs.eu-west-1.amazonaws.com/1/q")),
			want: map[string]any{"aws.operation": "SendMessage", "aws.request_id": "R2", "aws.queue_url": "https://sqs.eu-west-1.amazonaws.com/1/q"}},
		{name: "SQS consumer segment gets the queue", span: span(consumer, kvStr("messaging.system", "aws_sqs"), kvStr("aws.queue_url", "https://q")),
			want: map[string]any{"aws.queue_url": "https://q"}},
		{name: "aws.operation wins over rpc.method", span: span(client, kvStr("aws.service", "S3"), kvStr("rpc.method", "x"), kvStr("aws.operation", "PutObject")),
			want: map[string]any{"aws.operation": "PutObject"}},
		{name: "non-AWS client has no aws block", span: span(client, kvStr("rpc.system", "grpc"), kvStr("rpc.method", "Get"), kvStr("aws.region", "x")),
			absent: []string{"aws"}},
	})
}

func TestRuleSQL(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "current names", span: span(client, kvStr("db.system.name", "postgresql"), kvStr("db.query.text", "SELECT * FROM t WHERE id = $1")),
			want: map[string]any{"sql.database_type": "postgresql", "sql.sanitized_query": "SELECT * FROM t WHERE id = $1"}},
		{name: "old names, password stripped", span: span(client, kvStr("db.system", "mysql"), kvStr("db.statement", "SELECT 1"),
			kvStr("db.connection_string", "mysql://admin:secret@db.example.com:3306/shop"), kvStr("db.user", "admin")),
			want:   map[string]any{"sql.database_type": "mysql", "sql.sanitized_query": "SELECT 1", "sql.url": "mysql://db.example.com:3306/shop", "sql.user": "admin"},
			absent: []string{"metadata.default.db\\.connection_string"}},
		{name: "key=value connection string without password", span: span(client, kvStr("db.system", "mssql"),
			kvStr("db.connection_string", "Server=db;Database=shop;User Id=app;Password=secret;")),
			want:   map[string]any{"sql.connection_string": "Server=db;Database=shop;User Id=app;"},
			absent: []string{"sql.url"}},
		{name: "non-SQL database has no sql block, statement stays metadata", span: span(client, kvStr("db.system", "redis"), kvStr("db.statement", "GET k")),
			absent: []string{"sql"}},
	})
	m := translate(t, nil, nil, span(client, kvStr("db.system", "redis"), kvStr("db.statement", "GET k")))
	if md, _ := lookup(m, "metadata.default"); md.(map[string]any)["db.statement"] != "GET k" {
		t.Fatalf("redis statement not kept as metadata: %v", md)
	}
	m = translate(t, nil, nil, span(client, kvStr("db.system", "mysql"), kvStr("db.connection_string", "mysql://u:p@h/db")))
	if strings.Contains(toJSON(m), "u:p") {
		t.Fatalf("credentials leaked: %s", toJSON(m))
	}
}

func TestRuleAnnotations(t *testing.T) {
	many := make([]*commonv1.KeyValue, 60)
	for i := range many {
		many[i] = kvInt("k"+string(rune('A'+i%26))+string(rune('a'+i/26)), int64(i))
	}
	runRules(t, []ruleCase{
		{name: "indexed keys become annotations, sanitised", cfg: &Config{IndexedAttributes: []string{"order.id", "vip", "price"}},
			span:   span(server, kvStr("order.id", "o-1"), kvBool("vip", true), kvFloat("price", 9.5), kvStr("other", "x")),
			want:   map[string]any{"annotations.order_id": "o-1", "annotations.vip": true, "annotations.price": 9.5, "metadata.default.other": "x"},
			absent: []string{"annotations.other", "metadata.default.vip"}},
		{name: "index all", cfg: &Config{IndexAllAttributes: true},
			span: span(server, kvStr("a-b", "x"), kvInt("n", 3), kvStrs("list", "x")),
			want: map[string]any{"annotations.a_b": "x", "annotations.n": 3.0, "metadata.default.list": []any{"x"}}},
		{name: "aws.xray.annotations indexes listed keys", span: span(server, kvStr("tenant", "t1"), kvStrs("aws.xray.annotations", "tenant")),
			want: map[string]any{"annotations.tenant": "t1"}, absent: []string{"metadata"}},
		{name: "non-finite number goes to metadata as text", cfg: &Config{IndexAllAttributes: true}, span: span(server, kvFloat("nan", math.NaN())),
			want: map[string]any{"metadata.default.nan": "NaN"}, absent: []string{"annotations"}},
		{name: "sanitised key collision keeps the first", cfg: &Config{IndexAllAttributes: true}, span: span(server, kvStr("a.b", "1"), kvStr("a-b", "2")),
			want: map[string]any{"annotations.a_b": "1", "metadata.default.a-b": "2"}},
		{name: "at most 50 annotations, the rest metadata", cfg: &Config{IndexAllAttributes: true}, span: span(server, many...),
			want: map[string]any{"annotations.kAa": 0.0, "metadata.default.kYb": 50.0}},
		{name: "long value cut to 1000 characters", cfg: &Config{IndexAllAttributes: true}, span: span(server, kvStr("v", strings.Repeat("ß", 1200))),
			want: map[string]any{"annotations.v": strings.Repeat("ß", 1000)}},
		{name: "indexed HTTP attribute is both block and annotation", cfg: &Config{IndexedAttributes: []string{"http.request.method"}},
			span: span(server, kvStr("http.request.method", "GET")),
			want: map[string]any{"annotations.http_request_method": "GET", "http.request.method": "GET"}},
		{name: "indexed resource attribute", cfg: &Config{IndexedAttributes: []string{"otel.resource.deployment.environment"}},
			span: span(server), res: resource(kvStr("deployment.environment", "prod")),
			want: map[string]any{"annotations.otel_resource_deployment_environment": "prod"}},
	})
	// Annotation count: exactly MaxAnnotations.
	m := translate(t, &Config{IndexAllAttributes: true}, nil, span(server, many...))
	if a := m["annotations"].(map[string]any); len(a) != MaxAnnotations {
		t.Fatalf("%d annotations, want %d", len(a), MaxAnnotations)
	}
	if md := m["metadata"].(map[string]any)["default"].(map[string]any); len(md) != len(many)-MaxAnnotations {
		t.Fatalf("%d metadata entries, want %d", len(md), len(many)-MaxAnnotations)
	}
}

func TestRuleMetadata(t *testing.T) {
	kvl := &commonv1.KeyValue{Key: "obj", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_KvlistValue{KvlistValue: &commonv1.KeyValueList{
		Values: []*commonv1.KeyValue{kvInt("a", 1), kvStr("b", "x"), kvInt("a", 2)}}}}}
	bytesKV := &commonv1.KeyValue{Key: "raw", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_BytesValue{BytesValue: []byte{0xff, 0x00}}}}
	runRules(t, []ruleCase{
		{name: "values keep their JSON type", span: span(internal, kvStr("s", "x"), kvInt("i", -3), kvFloat("f", 1.25), kvBool("b", false), kvStrs("l", "p", "q"), kvl, bytesKV),
			want: map[string]any{"metadata.default.s": "x", "metadata.default.i": -3.0, "metadata.default.f": 1.25, "metadata.default.b": false,
				"metadata.default.l": []any{"p", "q"}, "metadata.default.obj": map[string]any{"a": 1.0, "b": "x"}, "metadata.default.raw": "/wA="}},
		{name: "duplicate attribute keeps the first", span: span(internal, kvStr("d", "1"), kvStr("d", "2")),
			want: map[string]any{"metadata.default.d": "1"}},
		{name: "aws.xray.metadata.<ns> holding a JSON object is a namespace", span: span(internal, kvStr("aws.xray.metadata.debug", `{"a": [1, 2]}`)),
			want: map[string]any{"metadata.debug.a": []any{1.0, 2.0}}, absent: []string{"metadata.default"}},
		{name: "reserved AWS. namespace stays default", span: span(internal, kvStr("aws.xray.metadata.AWS.x", `{"a":1}`)),
			want: map[string]any{"metadata.default.aws\\.xray\\.metadata\\.AWS\\.x": `{"a":1}`}, absent: []string{"metadata.AWS\\.x"}},
		{name: "aws.xray.metadata.<ns> not an object stays default", span: span(internal, kvStr("aws.xray.metadata.debug", `[1]`)),
			absent: []string{"metadata.debug"}},
		{name: "resource attributes on segments", span: span(server), res: resource(kvStr("team", "payments")),
			want: map[string]any{}, absent: []string{"metadata.default.team"}},
		{name: "keys equal once invalid UTF-8 is replaced appear once", span: span(internal, kvStr("k\xff", "1"), kvStr("k\xfe", "2")),
			want: map[string]any{"metadata.default.k\uFFFD": "1"}},
		{name: "namespace JSON with a repeated member keeps the last", span: span(internal, kvStr("aws.xray.metadata.ns", `{"a":1, "a":2}`)),
			want: map[string]any{"metadata.ns.a": 2.0}},
		{name: "no attributes, no metadata", span: span(internal), absent: []string{"metadata", "annotations"}},
	})
	m := translate(t, nil, resource(kvStr("team", "payments")), span(server))
	if v := m["metadata"].(map[string]any)["default"].(map[string]any)["otel.resource.team"]; v != "payments" {
		t.Fatalf("resource attribute metadata = %v", v)
	}
	m = translate(t, nil, resource(kvStr("team", "payments")), span(internal))
	if _, ok := m["metadata"]; ok {
		t.Fatalf("subsegment carries resource metadata: %v", m["metadata"])
	}
}

func TestRuleResource(t *testing.T) {
	ecs := resource(kvStr("service.name", "api"), kvStr("service.version", "1.4.2"), kvStr("cloud.provider", "aws"), kvStr("cloud.platform", "aws_ecs"),
		kvStr("aws.ecs.launchtype", "fargate"), kvStr("cloud.account.id", "123456789012"), kvStr("cloud.availability_zone", "eu-west-1a"),
		kvStr("container.name", "web"), kvStr("container.id", "abc"), kvStr("aws.ecs.task.arn", "arn:aws:ecs:eu-west-1:1:task/c/t"),
		kvStr("aws.ecs.cluster.arn", "arn:aws:ecs:eu-west-1:1:cluster/c"), kvStr("aws.ecs.task.family", "api"),
		kvStrs("aws.log.group.names", "/ecs/api", "/ecs/side"), kvStrs("aws.log.group.arns", "arn:aws:logs:eu-west-1:1:log-group:/ecs/api"),
		kvStr("telemetry.sdk.name", "opentelemetry"), kvStr("telemetry.sdk.language", "go"), kvStr("telemetry.sdk.version", "1.47.0"))
	runRules(t, []ruleCase{
		{name: "ECS Fargate", span: span(server), res: ecs, want: map[string]any{
			"name": "api", "origin": "AWS::ECS::Fargate", "service.version": "1.4.2", "aws.account_id": "123456789012",
			"aws.ecs.container": "web", "aws.ecs.container_id": "abc", "aws.ecs.task_arn": "arn:aws:ecs:eu-west-1:1:task/c/t",
			"aws.ecs.cluster_arn": "arn:aws:ecs:eu-west-1:1:cluster/c", "aws.ecs.task_family": "api", "aws.ecs.availability_zone": "eu-west-1a",
			"aws.cloudwatch_logs.0.log_group": "/ecs/api", "aws.cloudwatch_logs.0.arn": "arn:aws:logs:eu-west-1:1:log-group:/ecs/api",
			"aws.cloudwatch_logs.1.log_group": "/ecs/side", "aws.xray.sdk": "opentelemetry for go", "aws.xray.sdk_version": "1.47.0",
		}, absent: []string{"aws.cloudwatch_logs.1.arn", "aws.xray.auto_instrumentation"}},
		{name: "subsegments carry no resource", span: span(client), res: ecs, absent: []string{"origin", "service", "aws"}},
		{name: "ECS on EC2", span: span(server), res: resource(kvStr("cloud.platform", "aws_ecs"), kvStr("aws.ecs.launchtype", "ec2")),
			want: map[string]any{"origin": "AWS::ECS::EC2"}},
		{name: "ECS without launch type", span: span(server), res: resource(kvStr("cloud.platform", "aws_ecs"), kvStr("host.name", "h1")),
			want: map[string]any{"origin": "AWS::ECS::Container", "aws.ecs.container": "h1"}},
		{name: "EC2", span: span(server), res: resource(kvStr("cloud.platform", "aws_ec2"), kvStr("host.id", "i-1"), kvStr("host.type", "t3.micro"), kvStr("host.image.id", "ami-1")),
			want: map[string]any{"origin": "AWS::EC2::Instance", "aws.ec2.instance_id": "i-1", "aws.ec2.instance_size": "t3.micro", "aws.ec2.ami_id": "ami-1"}},
		{name: "EKS", span: span(server), res: resource(kvStr("cloud.platform", "aws_eks"), kvStr("k8s.cluster.name", "prod"), kvStr("k8s.pod.name", "p-1")),
			want: map[string]any{"origin": "AWS::EKS::Container", "aws.eks.cluster_name": "prod", "aws.eks.pod": "p-1"}},
		{name: "Elastic Beanstalk", span: span(server), res: resource(kvStr("cloud.platform", "aws_elastic_beanstalk"), kvStr("service.namespace", "env"),
			kvStr("service.version", "v7"), kvStr("service.instance.id", "23")),
			want: map[string]any{"origin": "AWS::ElasticBeanstalk::Environment", "aws.elastic_beanstalk.environment_name": "env",
				"aws.elastic_beanstalk.version_label": "v7", "aws.elastic_beanstalk.deployment_id": 23.0}},
		{name: "App Runner", span: span(server), res: resource(kvStr("cloud.platform", "aws_app_runner")), want: map[string]any{"origin": "AWS::AppRunner::Service"}},
		{name: "other cloud has no origin", span: span(server), res: resource(kvStr("cloud.provider", "gcp"), kvStr("cloud.platform", "aws_ec2")),
			absent: []string{"origin"}},
		{name: "auto-instrumented", span: span(server), res: resource(kvStr("telemetry.sdk.name", "opentelemetry"), kvStr("telemetry.auto.version", "2.1")),
			want: map[string]any{"aws.xray.sdk": "opentelemetry", "aws.xray.auto_instrumentation": true}},
		{name: "single log group as text", span: span(server), res: resource(kvStr("aws.log.group.names", "/app")),
			want: map[string]any{"aws.cloudwatch_logs.0.log_group": "/app"}},
	})
}

func TestRuleTimes(t *testing.T) {
	runRules(t, []ruleCase{
		{name: "nanoseconds to seconds, microsecond precision", span: span(server),
			want: map[string]any{"start_time": 1700000000.123456, "end_time": 1700000000.623456}, absent: []string{"in_progress"}},
		{name: "no end time is in progress", span: with(span(server), func(s *tracev1.Span) { s.EndTimeUnixNano = 0 }),
			want: map[string]any{"in_progress": true}, absent: []string{"end_time"}},
		{name: "end before start is clamped", span: with(span(server), func(s *tracev1.Span) { s.EndTimeUnixNano = s.StartTimeUnixNano - 5e9 }),
			want: map[string]any{"end_time": 1700000000.123456}},
	})
	// The exact text, not just the float: six decimals.
	tr, _ := New(nil)
	doc, _ := tr.AppendSegment(nil, nil, span(server))
	if !strings.Contains(string(doc), `"start_time":1700000000.123456,"end_time":1700000000.623456`) {
		t.Fatalf("times not written with microsecond precision: %s", doc)
	}
}

func TestRuleSize(t *testing.T) {
	// A span whose metadata alone exceeds the limit is written without it.
	big := span(server, kvStr("blob", strings.Repeat("x", MaxDocumentBytes)), kvInt("http.response.status_code", 200))
	big.Events = []*tracev1.Span_Event{exceptionEvent("E", "m", strings.Repeat("\tat a.B.c(B.java:1)\n", 10))}
	m := translate(t, nil, nil, big)
	if _, ok := m["metadata"]; ok {
		t.Fatal("oversized document kept its metadata")
	}
	if _, ok := lookup(m, "cause.exceptions.0.stack"); ok {
		t.Fatal("oversized document kept its stacks")
	}
	if s, _ := lookup(m, "http.response.status"); s != 200.0 {
		t.Fatalf("lean document lost the http block: %v", m)
	}
	// One that is too large even then is refused with ErrTooLarge.
	huge := span(server)
	huge.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR, Message: strings.Repeat("m", MaxDocumentBytes)}
	tr, _ := New(nil)
	out, err := tr.AppendSegment([]byte("keep"), nil, huge)
	if !errors.Is(err, ErrTooLarge) || string(out) != "keep" {
		t.Fatalf("err = %v, out %q", err, out)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(&Config{IndexedAttributes: []string{"a", ""}}); err == nil {
		t.Fatal("empty indexed key accepted")
	}
}

// TestAppendSegmentLinear checks the work per attribute is constant: the
// allocations for 4n attributes are no more than for n (the buffer is
// reused), and the bytes written grow by 4.
func TestAppendSegmentLinear(t *testing.T) {
	tr, _ := New(&Config{IndexAllAttributes: true})
	mk := func(n int) *tracev1.Span {
		attrs := make([]*commonv1.KeyValue, n)
		for i := range attrs {
			attrs[i] = kvStr(fmt.Sprintf("key%06d", i), "value")
		}
		return span(server, attrs...)
	}
	measure := func(n int) (allocs float64, size int) {
		s := mk(n)
		buf := make([]byte, 0, 1<<20)
		allocs = testing.AllocsPerRun(20, func() {
			out, err := tr.AppendSegment(buf[:0], nil, s)
			if err != nil {
				t.Fatal(err)
			}
			size = len(out)
		})
		return allocs, size
	}
	a1, s1 := measure(200)
	a4, s4 := measure(800)
	if a4 > a1+2 {
		t.Errorf("allocations grow with attributes: %v at n, %v at 4n", a1, a4)
	}
	if s4 > 5*s1 {
		t.Errorf("output grows faster than input: %d bytes at n, %d at 4n", s1, s4)
	}
}
