package lambdacors

import (
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

// APIGatewayProxy describes a REST API (payload format 1.0) exchange. A
// response without statusCode makes API Gateway answer 502 itself, without
// the function's headers.
func APIGatewayProxy(req *events.APIGatewayProxyRequest, resp *events.APIGatewayProxyResponse) corscheck.Event {
	e := corscheck.Event{
		Method:                    req.HTTPMethod,
		RequestHeaders:            req.Headers,
		MultiValueRequestHeaders:  req.MultiValueHeaders,
		Status:                    resp.StatusCode,
		ResponseHeaders:           resp.Headers,
		MultiValueResponseHeaders: resp.MultiValueHeaders,
	}
	return gatewayError(e)
}

// APIGatewayV2HTTP describes an HTTP API (payload format 2.0) exchange. A
// response without statusCode is sent as 200.
func APIGatewayV2HTTP(req *events.APIGatewayV2HTTPRequest, resp *events.APIGatewayV2HTTPResponse) corscheck.Event {
	return corscheck.Event{
		Method:                    req.RequestContext.HTTP.Method,
		RequestHeaders:            req.Headers,
		Cookies:                   req.Cookies,
		Status:                    orOK(resp.StatusCode),
		ResponseHeaders:           resp.Headers,
		MultiValueResponseHeaders: resp.MultiValueHeaders,
	}
}

// FunctionURL describes a Lambda function URL exchange. A response without
// statusCode is sent as 200.
func FunctionURL(req *events.LambdaFunctionURLRequest, resp *events.LambdaFunctionURLResponse) corscheck.Event {
	return corscheck.Event{
		Method:          req.RequestContext.HTTP.Method,
		RequestHeaders:  req.Headers,
		Cookies:         req.Cookies,
		Status:          orOK(resp.StatusCode),
		ResponseHeaders: resp.Headers,
	}
}

// ALB describes an Application Load Balancer target exchange, with or
// without multi-value headers. A response without statusCode makes the load
// balancer answer 502 itself.
func ALB(req *events.ALBTargetGroupRequest, resp *events.ALBTargetGroupResponse) corscheck.Event {
	e := corscheck.Event{
		Method:                    req.HTTPMethod,
		RequestHeaders:            req.Headers,
		MultiValueRequestHeaders:  req.MultiValueHeaders,
		Status:                    resp.StatusCode,
		ResponseHeaders:           resp.Headers,
		MultiValueResponseHeaders: resp.MultiValueHeaders,
	}
	return gatewayError(e)
}

func orOK(status int) int {
	if status == 0 {
		return http.StatusOK
	}
	return status
}

// gatewayError replaces a response without a status by the service's own
// 502, which carries none of the function's headers.
func gatewayError(e corscheck.Event) corscheck.Event {
	if e.Status == 0 {
		e.Status = http.StatusBadGateway
		e.ResponseHeaders = map[string]string{"Content-Type": "application/json"}
		e.MultiValueResponseHeaders = nil
	}
	return e
}
