package middleware

import (
	"context"
	"net/http"
	"strings"
	"sync"

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
// The status and headers sent are those set when the handler first
// called WriteHeader or Write (or returned, when it wrote nothing), as
// with net/http: the handler's header map is its own, and lambdaurl gets
// a copy then, so that a handler changing a header afterwards changes
// only its own map (lambdaurl reads its map on another goroutine, which
// would be a data race).
//
// When the request carries Origin, the CORS verdict a browser reaches is
// recorded as for [Lambda], on that status and those headers; headers set
// later never reach the client and do not count. A handler that panics,
// or an invocation that times out, before writing leaves the client the
// function URL's 502. When the timeout report goes out after the header
// did, the client keeps that status and those headers (the function URL
// ends the stream at the timeout, with the body cut short): the report
// records them and the verdict on them. LambdaURL uses the default kit,
// or the one WithKit names; lambdaurl's own options
// (lambdaurl.WithDetectContentType) are lambda.Start options and work as
// with lambdaurl.Start.
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
	sent := &streamWriter{ResponseWriter: rw, keep: corsReq != nil}
	inv.mu.Lock()
	inv.stream = sent // for the timeout report
	inv.mu.Unlock()
	rec := &responseWriter{ResponseWriter: sent}
	defer func() {
		if v := recover(); v != nil {
			var out any
			if resp, ok := sent.sent(); ok {
				out = resp // the client has the header already
			}
			// lambdaurl sends, as it would have without the middleware,
			// the headers the handler set before panicking.
			sent.handOver()
			w.end(inv, nil, false, nil, v, out)
			panic(v)
		}
	}()
	l.next.ServeHTTP(rec, r.WithContext(inv.handlerContext()))
	// lambdaurl sends its own 200 when nothing was written: the headers
	// set so far go with it.
	sent.commit(http.StatusOK)
	status, acao := sent.status()
	var out any
	if resp, ok := sent.sent(); ok && corsReq != nil {
		out = resp
	}
	resp := lambdaevent.Response{Status: status, CORS: acao}
	w.end(inv, &resp, isHTTP, nil, nil, out)
}

// streamWriter stands between the handler and lambdaurl's writer. The
// handler writes its headers into a map of its own; at the first
// WriteHeader or Write (or when the handler returns, if it wrote nothing)
// they are copied into lambdaurl's, which then belongs to lambdaurl alone.
// lambdaurl reads its header map on the invocation's goroutine while the
// handler goes on writing the body on another, so a handler that changed
// a header after writing (which has no effect on the response sent, as in
// net/http) raced with that read; with the copy it changes its own map
// only. A flush does not commit the header (lambdaurl's writer cannot
// flush), so headers set after a flush are still sent, as before.
//
// For the CORS verdict (keep), it also keeps the status and headers as
// lambdaurl hands them to the function URL: multiple values joined with
// "," and Set-Cookie apart as cookies. The timeout report reads them on
// the timer's goroutine, hence the lock.
type streamWriter struct {
	http.ResponseWriter // lambdaurl's
	header              http.Header
	keep                bool
	handed              bool // the headers were copied into lambdaurl's map

	mu        sync.Mutex
	committed bool
	code      int
	acao      bool
	resp      events.LambdaFunctionURLResponse
}

// Header returns the handler's own header map.
func (s *streamWriter) Header() http.Header {
	if s.header == nil {
		s.header = make(http.Header)
	}
	return s.header
}

// handOver copies the handler's headers into lambdaurl's map, once.
func (s *streamWriter) handOver() {
	if s.handed {
		return
	}
	s.handed = true
	if len(s.header) == 0 {
		return
	}
	dst := s.ResponseWriter.Header()
	n := 0
	for _, vs := range s.header {
		n += len(vs)
	}
	all := make([]string, n) // one allocation for every value, as Header.Clone
	for k, vs := range s.header {
		m := copy(all, vs)
		dst[k] = all[:m:m]
		all = all[m:]
	}
}

func (s *streamWriter) commit(code int) {
	if s.committed { // written on the handler's goroutine only
		return
	}
	s.handOver()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed, s.code = true, code
	_, s.acao = s.header["Access-Control-Allow-Origin"]
	if !s.keep || len(s.header) == 0 {
		return
	}
	s.resp.Headers = make(map[string]string, len(s.header))
	for k, v := range s.header {
		if k == "Set-Cookie" {
			s.resp.Cookies = append([]string(nil), v...)
		} else {
			s.resp.Headers[k] = strings.Join(v, ",")
		}
	}
}

func (s *streamWriter) WriteHeader(code int) {
	s.commit(code)
	s.ResponseWriter.WriteHeader(code)
}

func (s *streamWriter) Write(b []byte) (int, error) {
	s.commit(http.StatusOK)
	return s.ResponseWriter.Write(b)
}

// sent returns the status and headers the client got, once the header was
// committed (kept only for a CORS verdict: Headers is nil otherwise).
func (s *streamWriter) sent() (*events.LambdaFunctionURLResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.committed {
		return nil, false
	}
	resp := s.resp
	resp.StatusCode = s.code
	return &resp, true
}

// status returns, once the header was committed, the status sent and
// whether Access-Control-Allow-Origin was among the headers sent.
func (s *streamWriter) status() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code, s.acao
}

// Unwrap returns the lambdaurl writer, for http.ResponseController.
func (s *streamWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
