package lambdaevent

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Kind is the service that invoked the function with an HTTP request.
type Kind uint8

// The HTTP event kinds.
const (
	None           Kind = iota // not an HTTP event
	APIGatewayREST             // API Gateway REST API, or HTTP API payload 1.0
	APIGatewayHTTP             // API Gateway HTTP API, payload 2.0
	ALB                        // Application Load Balancer target group
	FunctionURL                // Lambda function URL
)

// String names the kind as the Lambda documentation does.
func (k Kind) String() string {
	switch k {
	case APIGatewayREST:
		return "api-gateway-rest"
	case APIGatewayHTTP:
		return "api-gateway-http"
	case ALB:
		return "alb"
	case FunctionURL:
		return "function-url"
	}
	return "none"
}

// Request is the HTTP request an event carries.
type Request struct {
	Kind      Kind
	Method    string
	URL       string // scheme://host/path, without the query
	UserAgent string
	ClientIP  string
	// XForwardedFor is set when ClientIP comes from an X-Forwarded-For
	// header rather than from the service that saw the connection.
	XForwardedFor bool
	// TraceHeader is the request's X-Amzn-Trace-Id header, if any.
	TraceHeader string
}

// Response is what the function answered to an HTTP event.
type Response struct {
	Status int
	// CORS is set when the response carries an Access-Control-Allow-Origin
	// header.
	CORS bool
}

const traceHeader = "X-Amzn-Trace-Id"

// FromEvent reads the HTTP request of a typed event: the request types of
// package events, json.RawMessage or []byte holding the event's JSON, or a
// map[string]any decoded from it, each as a value or a pointer. It reports false
// for anything else.
func FromEvent(ev any) (Request, bool) {
	switch e := ev.(type) {
	case events.APIGatewayProxyRequest:
		return fromREST(&e), true
	case events.APIGatewayV2HTTPRequest:
		return fromHTTPAPI(&e), true
	case events.ALBTargetGroupRequest:
		return fromALB(&e), true
	case events.LambdaFunctionURLRequest:
		return fromFunctionURL(&e), true
	case json.RawMessage:
		return Parse(e)
	case []byte:
		return Parse(e)
	case map[string]any:
		return parseMap(e, Parse)
	}
	return FromPointer(ev)
}

// FromPointer is FromEvent for pointers to events only. Unlike FromEvent,
// it does not make its argument escape: a caller can pass the address of
// an event on its stack.
func FromPointer(ev any) (Request, bool) {
	switch e := ev.(type) {
	case *events.APIGatewayProxyRequest:
		if e != nil {
			return fromREST(e), true
		}
	case *events.APIGatewayV2HTTPRequest:
		if e != nil {
			return fromHTTPAPI(e), true
		}
	case *events.ALBTargetGroupRequest:
		if e != nil {
			return fromALB(e), true
		}
	case *events.LambdaFunctionURLRequest:
		if e != nil {
			return fromFunctionURL(e), true
		}
	case *json.RawMessage:
		if e != nil {
			return Parse(*e)
		}
	case *[]byte:
		if e != nil {
			return Parse(*e)
		}
	case *map[string]any:
		if e != nil {
			return parseMap(*e, Parse)
		}
	}
	return Request{}, false
}

func fromREST(e *events.APIGatewayProxyRequest) Request {
	path := e.RequestContext.Path
	if path == "" {
		path = e.Path
	}
	host := e.RequestContext.DomainName
	if host == "" {
		host = header(e.Headers, e.MultiValueHeaders, "Host")
	}
	return Request{
		Kind:        APIGatewayREST,
		Method:      e.HTTPMethod,
		URL:         joinURL("https", host, path),
		UserAgent:   first(e.RequestContext.Identity.UserAgent, header(e.Headers, e.MultiValueHeaders, "User-Agent")),
		ClientIP:    e.RequestContext.Identity.SourceIP,
		TraceHeader: header(e.Headers, e.MultiValueHeaders, traceHeader),
	}
}

func fromHTTPAPI(e *events.APIGatewayV2HTTPRequest) Request {
	h := &e.RequestContext.HTTP
	kind := APIGatewayHTTP
	if strings.Contains(e.RequestContext.DomainName, ".lambda-url.") {
		kind = FunctionURL
	}
	return Request{
		Kind:        kind,
		Method:      h.Method,
		URL:         joinURL("https", e.RequestContext.DomainName, first(e.RawPath, h.Path)),
		UserAgent:   h.UserAgent,
		ClientIP:    h.SourceIP,
		TraceHeader: header(e.Headers, nil, traceHeader),
	}
}

func fromFunctionURL(e *events.LambdaFunctionURLRequest) Request {
	h := &e.RequestContext.HTTP
	return Request{
		Kind:        FunctionURL,
		Method:      h.Method,
		URL:         joinURL("https", e.RequestContext.DomainName, first(e.RawPath, h.Path)),
		UserAgent:   h.UserAgent,
		ClientIP:    h.SourceIP,
		TraceHeader: header(e.Headers, nil, traceHeader),
	}
}

func fromALB(e *events.ALBTargetGroupRequest) Request {
	return albRequest(e.HTTPMethod, e.Path, e.Headers, e.MultiValueHeaders)
}

func albRequest(method, path string, h map[string]string, mh map[string][]string) Request {
	scheme := header(h, mh, "X-Forwarded-Proto")
	if scheme != "https" && scheme != "http" {
		scheme = "http"
	}
	r := Request{
		Kind:        ALB,
		Method:      method,
		URL:         joinURL(scheme, header(h, mh, "Host"), path),
		UserAgent:   header(h, mh, "User-Agent"),
		TraceHeader: header(h, mh, traceHeader),
	}
	if xff := header(h, mh, "X-Forwarded-For"); xff != "" {
		if i := strings.IndexByte(xff, ','); i >= 0 {
			xff = xff[:i]
		}
		if xff = strings.TrimSpace(xff); xff != "" {
			r.ClientIP, r.XForwardedFor = xff, true
		}
	}
	return r
}

// parseMap encodes a decoded event back to JSON and parses that: the
// fallback for handlers that take map[string]any.
func parseMap[T any](m map[string]any, parse func([]byte) (T, bool)) (T, bool) {
	if _, ok := m["requestContext"]; !ok {
		var zero T
		if _, ok := m["statusCode"]; !ok {
			return zero, false
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		var zero T
		return zero, false
	}
	return parse(raw)
}

// rawEvent names the fields of every HTTP event kind that Parse reads.
type rawEvent struct {
	Version           string              `json:"version"`
	HTTPMethod        string              `json:"httpMethod"`
	Path              string              `json:"path"`
	RawPath           string              `json:"rawPath"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	RequestContext    *struct {
		DomainName string `json:"domainName"`
		Path       string `json:"path"`
		Identity   struct {
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"identity"`
		HTTP *struct {
			Method    string `json:"method"`
			Path      string `json:"path"`
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"http"`
		ELB *struct {
			TargetGroupArn string `json:"targetGroupArn"`
		} `json:"elb"`
	} `json:"requestContext"`
}

// Parse reads the HTTP request of an event given as JSON. It reports false
// for JSON that is not an object shaped like one of the HTTP events, and
// for malformed JSON.
func Parse(raw []byte) (Request, bool) {
	if !looksLikeObject(raw) {
		return Request{}, false
	}
	var e rawEvent
	if err := json.Unmarshal(raw, &e); err != nil || e.RequestContext == nil {
		return Request{}, false
	}
	rc := e.RequestContext
	switch {
	case rc.ELB != nil && e.HTTPMethod != "":
		return albRequest(e.HTTPMethod, e.Path, e.Headers, e.MultiValueHeaders), true
	case rc.HTTP != nil && rc.HTTP.Method != "":
		v2 := events.APIGatewayV2HTTPRequest{RawPath: e.RawPath, Headers: e.Headers}
		v2.RequestContext.DomainName = rc.DomainName
		v2.RequestContext.HTTP.Method = rc.HTTP.Method
		v2.RequestContext.HTTP.Path = rc.HTTP.Path
		v2.RequestContext.HTTP.SourceIP = rc.HTTP.SourceIP
		v2.RequestContext.HTTP.UserAgent = rc.HTTP.UserAgent
		return fromHTTPAPI(&v2), true
	case e.HTTPMethod != "":
		v1 := events.APIGatewayProxyRequest{HTTPMethod: e.HTTPMethod, Path: e.Path, Headers: e.Headers, MultiValueHeaders: e.MultiValueHeaders}
		v1.RequestContext.DomainName = rc.DomainName
		v1.RequestContext.Path = rc.Path
		v1.RequestContext.Identity.SourceIP = rc.Identity.SourceIP
		v1.RequestContext.Identity.UserAgent = rc.Identity.UserAgent
		return fromREST(&v1), true
	}
	return Request{}, false
}

// FromResponse reads the status and CORS headers of a typed response: the
// response types of package events, json.RawMessage or []byte holding
// JSON, or a map[string]any, each as a value or a pointer. It reports false for
// anything else, and for a response without a status code.
func FromResponse(v any) (Response, bool) {
	switch r := v.(type) {
	case events.APIGatewayProxyResponse:
		return response(r.StatusCode, r.Headers, r.MultiValueHeaders)
	case events.APIGatewayV2HTTPResponse:
		return response(r.StatusCode, r.Headers, r.MultiValueHeaders)
	case events.ALBTargetGroupResponse:
		return response(r.StatusCode, r.Headers, r.MultiValueHeaders)
	case events.LambdaFunctionURLResponse:
		return response(r.StatusCode, r.Headers, nil)
	case json.RawMessage:
		return ParseResponse(r)
	case []byte:
		return ParseResponse(r)
	case map[string]any:
		return parseMap(r, ParseResponse)
	}
	return ResponseFromPointer(v)
}

// ResponseFromPointer is FromResponse for pointers to responses only.
// Unlike FromResponse, it does not make its argument escape.
func ResponseFromPointer(v any) (Response, bool) {
	switch r := v.(type) {
	case *events.APIGatewayProxyResponse:
		if r != nil {
			return response(r.StatusCode, r.Headers, r.MultiValueHeaders)
		}
	case *events.APIGatewayV2HTTPResponse:
		if r != nil {
			return response(r.StatusCode, r.Headers, r.MultiValueHeaders)
		}
	case *events.ALBTargetGroupResponse:
		if r != nil {
			return response(r.StatusCode, r.Headers, r.MultiValueHeaders)
		}
	case *events.LambdaFunctionURLResponse:
		if r != nil {
			return response(r.StatusCode, r.Headers, nil)
		}
	case *json.RawMessage:
		if r != nil {
			return ParseResponse(*r)
		}
	case *[]byte:
		if r != nil {
			return ParseResponse(*r)
		}
	case *map[string]any:
		if r != nil {
			return parseMap(*r, ParseResponse)
		}
	}
	return Response{}, false
}

type rawResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
}

// ParseResponse reads the status and CORS headers of a response given as
// JSON.
func ParseResponse(raw []byte) (Response, bool) {
	if !looksLikeObject(raw) {
		return Response{}, false
	}
	var r rawResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return Response{}, false
	}
	return response(r.StatusCode, r.Headers, r.MultiValueHeaders)
}

func response(status int, h map[string]string, mh map[string][]string) (Response, bool) {
	if status < 100 || status > 999 {
		return Response{}, false
	}
	return Response{Status: status, CORS: header(h, mh, "Access-Control-Allow-Origin") != ""}, true
}

func looksLikeObject(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// header looks name up in single- and multi-value header maps, first by
// the canonical and lower-case spellings, then without regard to case.
func header(h map[string]string, mh map[string][]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	lower := lowerASCII(name)
	if v, ok := h[lower]; ok {
		return v
	}
	if v, ok := mh[name]; ok && len(v) > 0 {
		return v[0]
	}
	if v, ok := mh[lower]; ok && len(v) > 0 {
		return v[0]
	}
	// Keys that differ from name only in case: take the smallest, so that
	// the answer does not depend on map order.
	best, found := "", false
	bestVal := ""
	for k, v := range h {
		if strings.EqualFold(k, name) && (!found || k < best) {
			best, bestVal, found = k, v, true
		}
	}
	if found {
		return bestVal
	}
	for k, v := range mh {
		if strings.EqualFold(k, name) && len(v) > 0 && (!found || k < best) {
			best, bestVal, found = k, v[0], true
		}
	}
	return bestVal
}

// lowerASCII lower-cases the few constant header names used here; the
// results are interned so that lookups do not allocate.
func lowerASCII(name string) string {
	switch name {
	case traceHeader:
		return "x-amzn-trace-id"
	case "Host":
		return "host"
	case "User-Agent":
		return "user-agent"
	case "X-Forwarded-For":
		return "x-forwarded-for"
	case "X-Forwarded-Proto":
		return "x-forwarded-proto"
	case "Access-Control-Allow-Origin":
		return "access-control-allow-origin"
	}
	return strings.ToLower(name)
}

func joinURL(scheme, host, path string) string {
	if host == "" {
		return path
	}
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
