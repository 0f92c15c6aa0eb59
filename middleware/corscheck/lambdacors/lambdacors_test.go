package lambdacors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

func load(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func decode[T any](t *testing.T, js string) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal([]byte(js), v); err != nil {
		t.Fatal(err)
	}
	return v
}

type want struct {
	outcome   corscheck.Outcome
	code      corscheck.Code
	preflight bool
	status    int
}

func check(t *testing.T, e corscheck.Event, w want) {
	t.Helper()
	if e.Status != w.status {
		t.Errorf("status %d, want %d", e.Status, w.status)
	}
	v, ok := corscheck.EvaluateEvent(&e)
	if !ok {
		t.Fatal("no verdict")
	}
	if v.Outcome != w.outcome || v.Code != w.code || v.Preflight != w.preflight || v.Origin != "https://shop.example" {
		t.Errorf("verdict %+v, want %+v", v, w)
	}
}

func TestAPIGatewayProxy(t *testing.T) {
	var req events.APIGatewayProxyRequest
	load(t, "rest-preflight.json", &req)
	for _, tc := range []struct {
		name string
		resp string
		want want
	}{
		{"traceparent not allowed", `{"statusCode":204,"headers":{"Access-Control-Allow-Origin":"https://shop.example","Access-Control-Allow-Methods":"GET,PUT","Access-Control-Allow-Headers":"Content-Type","Vary":"Origin"}}`,
			want{corscheck.Blocked, corscheck.CodeHeaderNotAllowed, true, 204}},
		{"allowed, multi-value headers", `{"statusCode":204,"multiValueHeaders":{"Access-Control-Allow-Origin":["https://shop.example"],"Access-Control-Allow-Methods":["GET","PUT"],"Access-Control-Allow-Headers":["Content-Type","traceparent"],"Vary":["Origin"]}}`,
			want{corscheck.Allowed, "", true, 204}},
		{"missing statusCode: API Gateway's own 502", `{"headers":{"Access-Control-Allow-Origin":"*"}}`,
			want{corscheck.Blocked, corscheck.CodeMissingAllowOrigin, true, 502}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, APIGatewayProxy(&req, decode[events.APIGatewayProxyResponse](t, tc.resp)), tc.want)
		})
	}
}

func TestAPIGatewayV2HTTP(t *testing.T) {
	var req events.APIGatewayV2HTTPRequest
	load(t, "http-api-get.json", &req)
	// The cookies list proves credentials: 'include'.
	check(t, APIGatewayV2HTTP(&req, decode[events.APIGatewayV2HTTPResponse](t, `{"headers":{"access-control-allow-origin":"*","access-control-allow-credentials":"true"}}`)),
		want{corscheck.Blocked, corscheck.CodeWildcardWithCredentials, false, 200})
	check(t, APIGatewayV2HTTP(&req, decode[events.APIGatewayV2HTTPResponse](t, `{"statusCode":200,"headers":{"access-control-allow-origin":"https://shop.example","access-control-allow-credentials":"true","vary":"Origin"}}`)),
		want{corscheck.Allowed, "", false, 200})
}

func TestFunctionURL(t *testing.T) {
	var req events.LambdaFunctionURLRequest
	load(t, "function-url-get.json", &req)
	check(t, FunctionURL(&req, decode[events.LambdaFunctionURLResponse](t, `{"statusCode":500,"headers":{"content-type":"application/json"},"body":"{}"}`)),
		want{corscheck.Blocked, corscheck.CodeMissingAllowOrigin, false, 500})
	check(t, FunctionURL(&req, decode[events.LambdaFunctionURLResponse](t, `{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"https://shop.example, https://admin.shop.example"}}`)),
		want{corscheck.Blocked, corscheck.CodeMultipleAllowOrigin, false, 200})
}

func TestALB(t *testing.T) {
	var req events.ALBTargetGroupRequest
	load(t, "alb-multivalue-get.json", &req)
	check(t, ALB(&req, decode[events.ALBTargetGroupResponse](t, `{"statusCode":200,"multiValueHeaders":{"access-control-allow-origin":["https://shop.example"],"vary":["Accept-Encoding","Origin"]}}`)),
		want{corscheck.Allowed, "", false, 200})
	check(t, ALB(&req, decode[events.ALBTargetGroupResponse](t, `{"statusDescription":"200 OK"}`)),
		want{corscheck.Blocked, corscheck.CodeMissingAllowOrigin, false, 502})
}
