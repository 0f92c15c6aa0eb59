package lambdaevent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

var fixtures = map[string]Request{
	"apigw-rest.json": {
		Kind: APIGatewayREST, Method: "GET", URL: "https://k3x9.execute-api.eu-west-1.amazonaws.com/prod/orders/17",
		UserAgent: "shop-app/2.1", ClientIP: "203.0.113.5",
		TraceHeader: "Root=1-65f0a1b2-0123456789abcdef01234567;Parent=1a2b3c4d5e6f7081;Sampled=1",
	},
	"apigw-http.json": {
		Kind: APIGatewayHTTP, Method: "POST", URL: "https://q7w8.execute-api.us-east-1.amazonaws.com/cart",
		UserAgent: "Mozilla/5.0", ClientIP: "198.51.100.23",
		TraceHeader: "Root=1-65f0a1b2-89abcdef0123456789abcdef;Parent=8f7e6d5c4b3a2910;Sampled=0",
	},
	"function-url.json": {
		Kind: FunctionURL, Method: "PUT", URL: "https://abcdefghijklmnop.lambda-url.eu-central-1.on.aws/webhook",
		UserAgent: "hook-sender/1.0", ClientIP: "192.0.2.44", TraceHeader: "Root=1-65f0a1b2-fedcba9876543210fedcba98",
	},
	"alb.json": {
		Kind: ALB, Method: "DELETE", URL: "http://shop-alb-1234567890.eu-west-1.elb.amazonaws.com/items/9",
		UserAgent: "curl/8.5.0", ClientIP: "198.51.100.77", XForwardedFor: true, TraceHeader: "Root=1-65f0a1b2-00000000000000000000000a",
	},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// typedEvent decodes raw into the events type of kind, as aws-lambda-go
// would for a handler taking that type.
func typedEvent(raw []byte, kind Kind) (any, error) {
	var v any
	switch kind {
	case APIGatewayREST:
		v = &events.APIGatewayProxyRequest{}
	case APIGatewayHTTP:
		v = &events.APIGatewayV2HTTPRequest{}
	case FunctionURL:
		v = &events.LambdaFunctionURLRequest{}
	case ALB:
		v = &events.ALBTargetGroupRequest{}
	default:
		return nil, nil
	}
	return v, json.Unmarshal(raw, v)
}

func TestEventsTypedRawAndMap(t *testing.T) {
	for name, want := range fixtures {
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, name)
			if got, ok := Parse(raw); !ok || got != want {
				t.Errorf("Parse:\n got %+v %v\nwant %+v", got, ok, want)
			}
			typed, err := typedEvent(raw, want.Kind)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := FromEvent(typed); !ok || got != want {
				t.Errorf("FromEvent(typed):\n got %+v %v\nwant %+v", got, ok, want)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if got, ok := FromEvent(m); !ok || got != want {
				t.Errorf("FromEvent(map): %+v %v", got, ok)
			}
			if got, ok := FromEvent(json.RawMessage(raw)); !ok || got != want {
				t.Errorf("FromEvent(RawMessage): %+v %v", got, ok)
			}
		})
	}
}

func TestNotHTTPEvents(t *testing.T) {
	for _, ev := range []any{
		nil, 42, "text", events.SQSEvent{}, &events.SNSEvent{},
		json.RawMessage(`{"Records":[{"eventSource":"aws:sqs"}]}`),
		json.RawMessage(`[1,2]`), json.RawMessage(`{"requestContext":{}}`), json.RawMessage(`{"requestContext":`),
		map[string]any{"detail-type": "Scheduled Event"},
		(*events.APIGatewayProxyRequest)(nil),
	} {
		if got, ok := FromEvent(ev); ok {
			t.Errorf("FromEvent(%T %v) = %+v, want not HTTP", ev, ev, got)
		}
	}
}

func TestResponses(t *testing.T) {
	cors := map[string]string{"Access-Control-Allow-Origin": "*"}
	for _, c := range []struct {
		v    any
		want Response
		ok   bool
	}{
		{events.APIGatewayProxyResponse{StatusCode: 200, Headers: cors}, Response{200, true}, true},
		{&events.APIGatewayProxyResponse{StatusCode: 502}, Response{502, false}, true},
		{events.APIGatewayV2HTTPResponse{StatusCode: 201, MultiValueHeaders: map[string][]string{"access-control-allow-origin": {"https://a.example"}}}, Response{201, true}, true},
		{events.ALBTargetGroupResponse{StatusCode: 404, Headers: map[string]string{"ACCESS-CONTROL-ALLOW-ORIGIN": "*"}}, Response{404, true}, true},
		{&events.LambdaFunctionURLResponse{StatusCode: 204}, Response{204, false}, true},
		{json.RawMessage(`{"statusCode":429,"headers":{"access-control-allow-origin":"*"}}`), Response{429, true}, true},
		{map[string]any{"statusCode": 500}, Response{500, false}, true},
		{json.RawMessage(`"just a string"`), Response{}, false},
		{json.RawMessage(`{"statusCode":"200"}`), Response{}, false},
		{events.APIGatewayProxyResponse{}, Response{}, false}, // no status: API Gateway would answer 502 itself
		{"ok", Response{}, false},
	} {
		got, ok := FromResponse(c.v)
		if ok != c.ok || got != c.want {
			t.Errorf("FromResponse(%#v) = %+v %v, want %+v %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestHeaderLookupIsCaseInsensitiveAndDeterministic(t *testing.T) {
	h := map[string]string{"x-AMZN-trace-id": "b", "X-amzn-TRACE-id": "a"}
	for range 20 {
		if got := header(h, nil, "X-Amzn-Trace-Id"); got != "a" {
			t.Fatalf("got %q, want the value of the smallest matching key", got)
		}
	}
	if got := header(nil, map[string][]string{"x-amzn-trace-id": {"m"}}, "X-Amzn-Trace-Id"); got != "m" {
		t.Errorf("multi-value lookup: %q", got)
	}
}

// FuzzParse checks that Parse never fails badly and that it agrees with
// FromEvent on the typed event aws-lambda-go would decode from the same
// bytes.
func FuzzParse(f *testing.F) {
	for name := range fixtures {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"httpMethod":"GET","requestContext":{"elb":{}},"headers":{"X-FORWARDED-FOR":" , 1.2.3.4"}}`))
	f.Add([]byte(`{"requestContext":{"http":{"method":"GET"}},"rawPath":""}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := Parse(raw)
		if !ok {
			if got != (Request{}) {
				t.Fatalf("not HTTP but %+v", got)
			}
			return
		}
		if got.Kind == None || got.Method == "" {
			t.Fatalf("HTTP event without kind or method: %+v", got)
		}
		typed, err := typedEvent(raw, got.Kind)
		if err != nil {
			return // the typed struct is stricter about some field types
		}
		want, ok := FromEvent(typed)
		if got.Kind == FunctionURL {
			// Parse reads function URL events through the HTTP API shape.
			var v2 events.APIGatewayV2HTTPRequest
			if json.Unmarshal(raw, &v2) != nil {
				return
			}
			want, ok = FromEvent(v2)
		}
		if !ok || want != got {
			t.Fatalf("Parse %+v, FromEvent(typed) %+v", got, want)
		}
	})
}

// FuzzParseResponse checks ParseResponse against the typed response.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"*"}}`))
	f.Add([]byte(`{"statusCode":503,"multiValueHeaders":{"access-control-allow-origin":["*"]}}`))
	f.Add([]byte(`{"statusCode":1e3}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := ParseResponse(raw)
		if ok && (got.Status < 100 || got.Status > 999) {
			t.Fatalf("status %d accepted", got.Status)
		}
		var typed events.APIGatewayProxyResponse
		if json.Unmarshal(raw, &typed) != nil || !looksLikeObject(raw) {
			return
		}
		want, wok := FromResponse(typed)
		if ok != wok || got != want {
			t.Fatalf("ParseResponse %+v %v, typed %+v %v", got, ok, want, wok)
		}
	})
}

func BenchmarkFromEventTyped(b *testing.B) {
	typed, err := typedEvent(readFixture(b, "apigw-rest.json"), APIGatewayREST)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := FromEvent(typed); !ok {
			b.Fatal("not HTTP")
		}
	}
}

func BenchmarkParseRaw(b *testing.B) {
	raw := readFixture(b, "apigw-http.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, ok := Parse(raw); !ok {
			b.Fatal("not HTTP")
		}
	}
}
