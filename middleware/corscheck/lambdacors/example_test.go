package lambdacors_test

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck/lambdacors"
)

func ExampleFunctionURL() {
	req := &events.LambdaFunctionURLRequest{
		Headers: map[string]string{"origin": "https://shop.example", "host": "abc.lambda-url.eu-west-1.on.aws"},
		RequestContext: events.LambdaFunctionURLRequestContext{
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET"},
		},
	}
	resp := &events.LambdaFunctionURLResponse{StatusCode: 500, Body: `{"error":"boom"}`}

	e := lambdacors.FunctionURL(req, resp)
	v, _ := corscheck.EvaluateEvent(&e)
	fmt.Println(v.Outcome, v.Code)
	// Output: blocked missing-allow-origin
}

func ExampleAPIGatewayProxy() {
	req := &events.APIGatewayProxyRequest{
		HTTPMethod: "OPTIONS",
		Headers: map[string]string{
			"Origin":                         "https://shop.example",
			"Host":                           "k3x9q2.execute-api.eu-west-1.amazonaws.com",
			"Access-Control-Request-Method":  "DELETE",
			"Access-Control-Request-Headers": "x-amzn-trace-id",
		},
	}
	resp := &events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET, POST",
	}}
	e := lambdacors.APIGatewayProxy(req, resp)
	v, _ := corscheck.EvaluateEvent(&e)
	fmt.Println(v.Reason)
	// Output: Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response.
}

func ExampleAPIGatewayV2HTTP() {
	req := &events.APIGatewayV2HTTPRequest{
		Headers: map[string]string{"origin": "https://shop.example", "host": "p8w1z7.execute-api.eu-west-1.amazonaws.com"},
		Cookies: []string{"session=1"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"},
		},
	}
	resp := &events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"access-control-allow-origin": "https://shop.example"}}
	e := lambdacors.APIGatewayV2HTTP(req, resp)
	v, _ := corscheck.EvaluateEvent(&e)
	fmt.Println(v.Outcome, v.Code, v.Credentials)
	// Output: blocked credentials-not-allowed include
}

func ExampleALB() {
	req := &events.ALBTargetGroupRequest{
		HTTPMethod:        "GET",
		MultiValueHeaders: map[string][]string{"origin": {"https://shop.example"}, "host": {"api.shop.example"}},
	}
	resp := &events.ALBTargetGroupResponse{StatusCode: 200, MultiValueHeaders: map[string][]string{
		"access-control-allow-origin": {"https://shop.example"},
		"vary":                        {"Origin"},
	}}
	e := lambdacors.ALB(req, resp)
	v, _ := corscheck.EvaluateEvent(&e)
	fmt.Println(v.Outcome)
	// Output: allowed
}
