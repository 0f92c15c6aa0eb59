package middleware

import (
	"context"
	"net/http"

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
// than a subsegment of the invocation. CORS verdicts are not recorded for
// streamed responses. LambdaURL uses the default kit, or the one WithKit
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
	if w.needEvent() {
		if ev, ok := lambdaurl.RequestFromContext(ctx); ok && ev != nil {
			req, isHTTP = lambdaevent.FromEvent(ev)
		}
	}
	inv := w.begin(ctx, req, isHTTP, nil)
	rec := &responseWriter{ResponseWriter: rw}
	defer func() {
		if v := recover(); v != nil {
			w.end(inv, nil, false, nil, v, nil)
			panic(v)
		}
	}()
	l.next.ServeHTTP(rec, r.WithContext(inv.handlerContext()))
	status := rec.status
	if status == 0 {
		status = http.StatusOK // what lambdaurl sends when nothing was written
	}
	resp := lambdaevent.Response{Status: status, CORS: rw.Header().Get("Access-Control-Allow-Origin") != ""}
	w.end(inv, &resp, isHTTP, nil, nil, nil)
}
