package middleware

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck/lambdacors"
	"github.com/seed-c77c9410/sidelight/middleware/internal/lambdaevent"
)

// CORS verdicts of HTTP events.
//
// An invocation whose event is an HTTP request carrying Origin keeps the
// request (corsReq: a pointer to the typed event, or a *rawCORSRequest
// decoded from the raw payload). When it ends, the browser's verdict on
// what the client will receive is recorded: the function's response, or,
// when the function failed (returned an error, panicked or is about to
// time out), the gateway's own 502, which carries none of the function's
// headers. Requests without Origin cost a map lookup.

// gatewayErrorHeaders are the headers of the 502 API Gateway, the load
// balancer and function URLs answer when the function fails. Read only.
var gatewayErrorHeaders = map[string]string{"Content-Type": "application/json"}

// rawCORSRequest holds what a verdict needs of an HTTP event given as JSON.
type rawCORSRequest struct {
	kind              lambdaevent.Kind
	HTTPMethod        string              `json:"httpMethod"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	RequestContext    struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

type rawCORSResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
}

var originKeys = [][]byte{[]byte(`"Origin"`), []byte(`"origin"`), []byte(`"ORIGIN"`)}

// corsRawRequest decodes the request side of a raw HTTP event, when it
// seems to carry an Origin header; it returns nil otherwise.
func corsRawRequest(payload []byte, kind lambdaevent.Kind) *rawCORSRequest {
	found := false
	for _, k := range originKeys {
		if bytes.Contains(payload, k) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	r := &rawCORSRequest{kind: kind}
	if err := json.Unmarshal(payload, r); err != nil {
		return nil
	}
	e := r.event()
	if _, ok := peekOrigin(&e); !ok {
		return nil
	}
	return r
}

func (r *rawCORSRequest) event() corscheck.Event {
	return corscheck.Event{
		Method:                   first(r.HTTPMethod, r.RequestContext.HTTP.Method),
		RequestHeaders:           r.Headers,
		MultiValueRequestHeaders: r.MultiValueHeaders,
		Cookies:                  r.Cookies,
	}
}

// peekOrigin reports whether the event's request carries a non-empty
// Origin, the way the checker reads it.
func peekOrigin(e *corscheck.Event) (string, bool) {
	if vs, ok := e.MultiValueRequestHeaders["Origin"]; ok && len(vs) > 0 {
		return vs[0], vs[0] != ""
	}
	for _, k := range [...]string{"Origin", "origin"} {
		if v, ok := e.RequestHeaders[k]; ok {
			return v, v != ""
		}
	}
	// Other spellings are rare; the checker matches them anyway.
	for k, v := range e.RequestHeaders {
		if len(k) == 6 && http.CanonicalHeaderKey(k) == "Origin" {
			return v, v != ""
		}
	}
	for k, vs := range e.MultiValueRequestHeaders {
		if len(k) == 6 && http.CanonicalHeaderKey(k) == "Origin" && len(vs) > 0 {
			return vs[0], vs[0] != ""
		}
	}
	return "", false
}

// corsTypedRequest returns ev (a pointer to a typed HTTP event) when it
// carries Origin, else nil.
func corsTypedRequest(ev any) any {
	var e corscheck.Event
	switch r := ev.(type) {
	case *events.APIGatewayProxyRequest:
		e = corscheck.Event{RequestHeaders: r.Headers, MultiValueRequestHeaders: r.MultiValueHeaders}
	case *events.APIGatewayV2HTTPRequest:
		e = corscheck.Event{RequestHeaders: r.Headers}
	case *events.LambdaFunctionURLRequest:
		e = corscheck.Event{RequestHeaders: r.Headers}
	case *events.ALBTargetGroupRequest:
		e = corscheck.Event{RequestHeaders: r.Headers, MultiValueRequestHeaders: r.MultiValueHeaders}
	default:
		return nil
	}
	if _, ok := peekOrigin(&e); !ok {
		return nil
	}
	return ev
}

// gatewayFailure is the 502 the client receives when the function failed.
func gatewayFailure(e corscheck.Event) corscheck.Event {
	e.Status = http.StatusBadGateway
	e.ResponseHeaders = gatewayErrorHeaders
	e.MultiValueResponseHeaders = nil
	return e
}

// corsEvent pairs the kept request with what the client receives: the
// response out (a typed response, by value or pointer, or raw JSON), or
// the gateway's 502 when failed. It reports false when out is not a
// response of the request's kind.
func corsEvent(req any, out any, failed bool) (corscheck.Event, bool) {
	switch r := req.(type) {
	case *events.APIGatewayProxyRequest:
		if failed {
			return gatewayFailure(lambdacors.APIGatewayProxy(r, &events.APIGatewayProxyResponse{})), true
		}
		switch o := out.(type) {
		case *events.APIGatewayProxyResponse:
			return lambdacors.APIGatewayProxy(r, o), true
		case events.APIGatewayProxyResponse:
			return lambdacors.APIGatewayProxy(r, &o), true
		}
	case *events.APIGatewayV2HTTPRequest:
		if failed {
			return gatewayFailure(lambdacors.APIGatewayV2HTTP(r, &events.APIGatewayV2HTTPResponse{})), true
		}
		switch o := out.(type) {
		case *events.APIGatewayV2HTTPResponse:
			return lambdacors.APIGatewayV2HTTP(r, o), true
		case events.APIGatewayV2HTTPResponse:
			return lambdacors.APIGatewayV2HTTP(r, &o), true
		}
	case *events.LambdaFunctionURLRequest:
		if failed {
			return gatewayFailure(lambdacors.FunctionURL(r, &events.LambdaFunctionURLResponse{})), true
		}
		switch o := out.(type) {
		case *events.LambdaFunctionURLResponse:
			return lambdacors.FunctionURL(r, o), true
		case events.LambdaFunctionURLResponse:
			return lambdacors.FunctionURL(r, &o), true
		}
	case *events.ALBTargetGroupRequest:
		if failed {
			return gatewayFailure(lambdacors.ALB(r, &events.ALBTargetGroupResponse{})), true
		}
		switch o := out.(type) {
		case *events.ALBTargetGroupResponse:
			return lambdacors.ALB(r, o), true
		case events.ALBTargetGroupResponse:
			return lambdacors.ALB(r, &o), true
		}
	case *rawCORSRequest:
		e := r.event()
		if failed {
			return gatewayFailure(e), true
		}
		raw, ok := out.([]byte)
		if !ok {
			return corscheck.Event{}, false
		}
		var resp rawCORSResponse
		if len(raw) > 0 && raw[0] == '{' {
			_ = json.Unmarshal(raw, &resp) // not a response object: no status
		}
		e.Status = resp.StatusCode
		e.ResponseHeaders = resp.Headers
		e.MultiValueResponseHeaders = resp.MultiValueHeaders
		if e.Status == 0 {
			switch r.kind {
			case lambdaevent.APIGatewayREST, lambdaevent.ALB:
				return gatewayFailure(e), true
			default:
				// HTTP APIs and function URLs send such an answer as a
				// 200 body.
				e.Status = http.StatusOK
				e.ResponseHeaders, e.MultiValueResponseHeaders = nil, nil
			}
		}
		return e, true
	}
	return corscheck.Event{}, false
}

// recordCORS evaluates the verdict of the invocation's HTTP exchange and
// records it on seg (when traced) as cors_* annotations and in the
// invocation's EMF document as the CORSBlocked metric (1 when blocked, 0
// otherwise) with the cors_code property. Called with inv.mu held.
func (inv *invocation) recordCORS(seg *xray.Segment, out any, failed bool) {
	if inv.corsReq == nil {
		return
	}
	e, ok := corsEvent(inv.corsReq, out, failed)
	if !ok {
		return
	}
	v, ok := inv.w.cfg.corsChecker.EvaluateEvent(&e)
	if !ok {
		return
	}
	if seg != nil {
		v.Annotate(func(key string, value any) {
			switch x := value.(type) {
			case bool:
				seg.Annotations = append(seg.Annotations, xray.BoolAttr(key, x))
			case string:
				seg.Annotations = append(seg.Annotations, xray.StringAttr(key, x))
			}
		})
	}
	if l := inv.metrics; l != nil {
		_ = l.PutMetric(corscheck.MetricBlocked, b2f(v.Outcome == corscheck.Blocked), emf.Count)
		if v.Code != "" {
			_ = l.SetProperty("cors_code", string(v.Code))
		}
	}
}
