package middleware

import (
	"context"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdaurl"

	"github.com/seed-c77c9410/sidelight/middleware/internal/lambdaevent"
)

// LambdaURLHandler is the handler form LambdaURL returns: the one of
// lambdaurl.Wrap, which lambda.Start takes.
type LambdaURLHandler = func(context.Context, *events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error)

// LambdaURL serves a Lambda function URL in response-streaming mode
// (InvokeMode RESPONSE_STREAM) with an http.Handler, as
// github.com/aws/aws-lambda-go/lambdaurl does, and records each
// invocation as Lambda does:
//
//	lambda.Start(middleware.LambdaURL(mux))
//
// Each invocation is one subsegment under Lambda's facade segment, named
// in the runtime's trace header of that invocation (never in the
// environment nor, when Lambda traces, in the request), with the
// cold_start, service and tenant_id annotations, the request's method,
// URL, client and user agent, and the status the handler wrote (a 5xx is
// a fault, a 4xx an error). A panic is recorded as a fault with its stack,
// flushed, and raised again: lambdaurl does not recover it, so the process
// ends as it would without the middleware. The handler's
// request context carries the invocation, so that [AddAnnotation],
// [AddMetadata], [AddMetric], [Transport] and [AWS] work in it.
//
// The subsegment ends, and the invocation's EMF document and the segment
// are flushed, when the handler returns: after the last byte of the body
// was handed to the runtime, before the response is closed, so that the
// telemetry is out before Lambda freezes the process. Its duration
// therefore covers the whole stream.
//
// Wrapping lambdaurl.Wrap(h) with [Lambda] instead would end the
// subsegment as soon as the handler wrote its header, without the status
// (a streaming response is not one Lambda knows), and wrapping h with
// [HTTP] would start a segment of its own from the request's header rather
// than a subsegment of the invocation.
//
// When the request carries Origin, the CORS verdict a browser reaches is
// recorded as for [Lambda]: on the status and headers as the function URL
// sends them, that is as they stood when the handler first called
// WriteHeader or Write (or returned, when it wrote nothing); headers set
// after that never reach the client and do not count. A handler that
// panics before writing leaves the client the function URL's 502. LambdaURL uses the default kit, or the one WithKit
// names; lambdaurl's own options (lambdaurl.WithDetectContentType) are
// lambda.Start options and work as with lambdaurl.Start.
func LambdaURL(h http.Handler, opts ...Option) LambdaURLHandler {
	return kitFrom(opts).LambdaURL(h, opts...)
}

// LambdaURL serves a function URL in response-streaming mode; see the
// package-level [LambdaURL].
func (k *Kit) LambdaURL(h http.Handler, opts ...Option) LambdaURLHandler {
	return lambdaurl.Wrap(&lambdaURLHandler{w: newLambdaWrapper(k.config(opts)), next: h})
}

// lambdaURLHandler runs inside lambdaurl.Wrap, on the goroutine that
// writes the response into the stream: its request's context is the
// invocation's, with the event (lambdaurl.RequestFromContext).
type lambdaURLHandler struct {
	w    *lambdaWrapper
	next http.Handler
}

func (l *lambdaURLHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := l.w
	ctx := r.Context()
	var req lambdaevent.Request
	var isHTTP bool
	var corsReq any
	if w.needEvent() {
		if ev, ok := lambdaurl.RequestFromContext(ctx); ok && ev != nil {
			req, isHTTP = lambdaevent.FromEvent(ev)
			if isHTTP && w.cfg.cors {
				corsReq = corsTypedRequest(ev)
			}
		}
	}
	inv := w.begin(ctx, req, isHTTP, corsReq)
	var sent *streamedHeader
	if corsReq != nil {
		// Only requests that get a verdict pay for the copy of the
		// header.
		sent = &streamedHeader{ResponseWriter: rw}
		rw = sent
	}
	rec := &responseWriter{ResponseWriter: rw}
	defer func() {
		if v := recover(); v != nil {
			var out any
			if sent != nil && sent.committed {
				out = &sent.resp // the client has the header already
			}
			w.end(inv, nil, false, nil, v, out)
			panic(v)
		}
	}()
	l.next.ServeHTTP(rec, r.WithContext(inv.handlerContext()))
	status := rec.status
	if status == 0 {
		status = http.StatusOK // what lambdaurl sends when nothing was written
	}
	var out any
	acao := rw.Header().Get("Access-Control-Allow-Origin") != ""
	if sent != nil {
		sent.commit(http.StatusOK) // lambdaurl's own when nothing was written
		status = sent.resp.StatusCode
		_, acao = sent.resp.Headers["Access-Control-Allow-Origin"]
		out = &sent.resp
	}
	resp := lambdaevent.Response{Status: status, CORS: acao}
	w.end(inv, &resp, isHTTP, nil, nil, out)
}

// streamedHeader keeps, for the CORS verdict, the status and headers of a
// streamed response as lambdaurl hands them to the function URL: taken at
// the first WriteHeader or Write, multiple values joined with "," and
// Set-Cookie apart as cookies. A flush does not commit the header (the
// lambdaurl writer cannot flush).
type streamedHeader struct {
	http.ResponseWriter
	committed bool
	resp      events.LambdaFunctionURLResponse
}

func (s *streamedHeader) commit(code int) {
	if s.committed {
		return
	}
	s.committed = true
	s.resp.StatusCode = code
	h := s.ResponseWriter.Header()
	if len(h) == 0 {
		return
	}
	s.resp.Headers = make(map[string]string, len(h))
	for k, v := range h {
		if k == "Set-Cookie" {
			s.resp.Cookies = append([]string(nil), v...)
		} else {
			s.resp.Headers[k] = strings.Join(v, ",")
		}
	}
}

func (s *streamedHeader) WriteHeader(code int) {
	s.commit(code)
	s.ResponseWriter.WriteHeader(code)
}

func (s *streamedHeader) Write(b []byte) (int, error) {
	s.commit(http.StatusOK)
	return s.ResponseWriter.Write(b)
}

// Unwrap returns the lambdaurl writer, for http.ResponseController.
func (s *streamedHeader) Unwrap() http.ResponseWriter { return s.ResponseWriter }
