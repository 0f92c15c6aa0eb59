package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// gateway stands for an API Gateway REST API with Lambda proxy
// integrations: it turns each request into an events.APIGatewayProxyRequest
// with an X-Amzn-Trace-Id header naming a segment it records itself (as API
// Gateway records its stage), invokes the function, and maps the answer as
// API Gateway does: a proxy response becomes the HTTP response; a function
// error, a crash, a timeout or a malformed answer becomes 502 {"message":
// "Internal server error"}, and no answer within the integration timeout
// 504 {"message": "Endpoint request timed out"}, both without the
// function's (CORS) headers.
type gateway struct {
	route       func(path string) invoker // nil: no such resource
	emitter     *xray.Emitter             // nil: no segment recorded
	stage       string                    // segment name, "api/stage"
	integration time.Duration             // integration timeout
	out         *syncWriter
	requests    atomic.Uint64
}

// invoker invokes a function with an event and returns the Lambda
// invoke endpoint's answer: its HTTP status and payload.
type invoker interface {
	invoke(ctx context.Context, event []byte) (int, []byte, error)
}

var _ invoker = (*function)(nil)

const maxBody = 1 << 20

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	n := g.requests.Add(1)
	requestID := fmt.Sprintf("local-%d-%d", start.UnixNano(), n)

	// The trace: continue the caller's, else start one, sampled.
	hdr, err := xray.ParseHeader(r.Header.Get(xray.HeaderName))
	if err != nil {
		hdr = xray.Header{TraceID: xray.NewTraceID(start)}
	}
	hdr.ParentID = xray.NewSpanID()
	hdr.Sampled = xray.Sampled
	hdr.Extra = ""

	var a answer
	fn := g.route(r.URL.Path)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		a = gatewayError(http.StatusBadRequest, "Bad request")
	case len(body) > maxBody:
		a = gatewayError(http.StatusRequestEntityTooLarge, "Request Too Long")
	case fn == nil:
		a = gatewayError(http.StatusForbidden, "Missing Authentication Token") // API Gateway's answer for an unknown resource
	default:
		ev := proxyEvent(r, body, hdr.String(), requestID)
		payload, _ := json.Marshal(ev)
		ctx, cancel := context.WithTimeout(r.Context(), g.integration)
		status, raw, err := fn.invoke(ctx, payload)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			a = gatewayError(http.StatusGatewayTimeout, "Endpoint request timed out")
		case err != nil:
			a = gatewayError(http.StatusInternalServerError, "Internal server error")
		default:
			a = functionAnswer(status, raw)
		}
	}
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("X-Amzn-Trace-Id", "Root="+xray.FormatTraceID(hdr.TraceID))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	end := time.Now()
	g.record(r, hdr, start, end, a.status)
	how := ""
	if a.functionError != "" {
		how = " (function error: " + a.functionError + ")"
	}
	g.out.printf("[gateway] %s %s -> %d in %s, trace %s%s\n", r.Method, r.URL.Path, a.status, end.Sub(start).Round(time.Millisecond), xray.FormatTraceID(hdr.TraceID), how)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// record sends the stage's segment, parent of the function's subsegment.
func (g *gateway) record(r *http.Request, hdr xray.Header, start, end time.Time, status int) {
	if g.emitter == nil {
		return
	}
	seg := &xray.Segment{}
	seg.Name = g.stage
	seg.TraceID = hdr.TraceID
	seg.ID = hdr.ParentID
	seg.Origin = "AWS::ApiGateway::Stage"
	seg.Start, seg.End = start, end
	seg.HTTP.Method = r.Method
	seg.HTTP.URL = "http://" + r.Host + r.URL.Path
	seg.HTTP.UserAgent = r.UserAgent()
	seg.HTTP.ClientIP, _, _ = net.SplitHostPort(r.RemoteAddr)
	seg.HTTP.ContentLength = -1
	seg.SetHTTPStatus(status)
	g.emitter.ExportSegment(seg)
}

// proxyEvent is the REST API (payload 1.0) event of r.
func proxyEvent(r *http.Request, body []byte, traceHeader, requestID string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource:          r.URL.Path,
		Path:              r.URL.Path,
		HTTPMethod:        r.Method,
		Headers:           map[string]string{},
		MultiValueHeaders: map[string][]string{},
	}
	for k, vs := range r.Header {
		if strings.EqualFold(k, xray.HeaderName) {
			continue
		}
		ev.Headers[k] = vs[len(vs)-1]
		ev.MultiValueHeaders[k] = vs
	}
	ev.Headers["Host"] = r.Host
	ev.MultiValueHeaders["Host"] = []string{r.Host}
	ev.Headers["X-Amzn-Trace-Id"] = traceHeader
	ev.MultiValueHeaders["X-Amzn-Trace-Id"] = []string{traceHeader}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		ev.MultiValueQueryStringParameters = map[string][]string(q)
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev.RequestContext = events.APIGatewayProxyRequestContext{
		RequestID:    requestID,
		Stage:        "local",
		ResourcePath: r.URL.Path,
		HTTPMethod:   r.Method,
		Path:         "/local" + r.URL.Path,
		DomainName:   r.Host,
		Identity:     events.APIGatewayRequestIdentity{SourceIP: ip, UserAgent: r.UserAgent()},
	}
	return ev
}

// answer is what the gateway sends its client.
type answer struct {
	status int
	header http.Header
	body   []byte
	// functionError names why the function's answer was not used, when
	// it was not: the errorType of a function error, "timeout", or
	// "malformed".
	functionError string
}

func gatewayError(status int, message string) answer {
	body, _ := json.Marshal(map[string]string{"message": message})
	return answer{status: status, header: http.Header{"Content-Type": {"application/json"}, "X-Amzn-Errortype": {errorType(status)}}, body: body}
}

func errorType(status int) string {
	switch status {
	case http.StatusGatewayTimeout:
		return "IntegrationTimeout"
	case http.StatusForbidden:
		return "MissingAuthenticationTokenException"
	}
	return "InternalServerErrorException"
}

// functionAnswer maps the emulator's answer to an invocation (its HTTP
// status and body) to what API Gateway sends: the proxy response, or a 502
// when the function failed or answered something that is not a proxy
// response.
func functionAnswer(rieStatus int, raw []byte) answer {
	fail := func(why string) answer {
		a := gatewayError(http.StatusBadGateway, "Internal server error")
		a.functionError = why
		return a
	}
	trimmed := bytes.TrimSpace(raw)
	if bytes.HasPrefix(trimmed, []byte("Task timed out after")) {
		return fail("timeout: " + string(trimmed))
	}
	var resp struct {
		StatusCode        *int                `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
		ErrorType         string              `json:"errorType"`
		ErrorMessage      *string             `json:"errorMessage"`
	}
	if err := json.Unmarshal(trimmed, &resp); err != nil {
		if rieStatus != http.StatusOK {
			return fail("invoke status " + strconv.Itoa(rieStatus))
		}
		return fail("malformed")
	}
	if resp.ErrorType != "" || resp.ErrorMessage != nil {
		return fail(first(resp.ErrorType, "error") + ": " + clip(deref(resp.ErrorMessage), 200))
	}
	if rieStatus != http.StatusOK {
		return fail("invoke status " + strconv.Itoa(rieStatus))
	}
	if resp.StatusCode == nil || *resp.StatusCode < 100 || *resp.StatusCode > 599 {
		return fail("malformed")
	}
	a := answer{status: *resp.StatusCode, header: http.Header{}}
	for k, v := range resp.Headers {
		if validHeader(k, v) {
			a.header.Set(k, v)
		}
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			if validHeader(k, v) {
				a.header.Add(k, v)
			}
		}
	}
	if resp.Body != nil {
		if resp.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*resp.Body)
			if err != nil {
				return fail("malformed")
			}
			a.body = b
		} else {
			a.body = []byte(*resp.Body)
		}
	}
	if a.header.Get("Content-Type") == "" {
		a.header.Set("Content-Type", "application/json")
	}
	return a
}

// validHeader refuses what net/http would refuse or mangle, and headers
// the gateway owns.
func validHeader(k, v string) bool {
	if k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n\x00") {
		return false
	}
	switch http.CanonicalHeaderKey(k) {
	case "Content-Length", "Transfer-Encoding", "Connection":
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return false
		}
	}
	return true
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
