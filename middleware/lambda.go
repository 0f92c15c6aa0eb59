package middleware

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
	"github.com/seed-c77c9410/sidelight/middleware/internal/lambdaevent"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// FunctionNameDimension is the dimension of the ColdStart document that
// names the function, spelt as in the AWS/Lambda namespace.
const FunctionNameDimension = "FunctionName"

// Metric names of the per-invocation EMF document.
const (
	MetricDuration  = "Duration"  // Milliseconds, until the handler returned
	MetricErrors    = "Errors"    // Count: 1 when the handler returned an error or panicked
	MetricColdStart = "ColdStart" // Count: 1 on a cold start
	MetricTimeout   = "Timeout"   // Count: 1 when the invocation was about to time out
)

// lambdaTraceKey is the context key under which aws-lambda-go puts the
// Lambda-Runtime-Trace-Id of each invocation (a plain string key, see its
// invoke loop). Unlike the _X_AMZN_TRACE_ID environment variable, it is
// right when one process serves several invocations at once.
const lambdaTraceKey = "x-amzn-trace-id"

// Lambda wraps a handler for github.com/aws/aws-lambda-go:
//
//	lambda.Start(middleware.Lambda(handler))
//
// Each invocation becomes a subsegment of the segment Lambda records for
// it: the facade segment named in the runtime's trace header or, when
// Lambda is not tracing, the segment named in the X-Amzn-Trace-Id header
// of an API Gateway, ALB or function URL event. The middleware never sends
// a segment of its own: a trace header without a Parent, or with
// Sampled=0, records nothing (the trace is still passed on, unsampled).
// The subsegment is named "## " and the service name (WithServiceName; by
// default the function name) and carries the cold_start and service
// annotations (and tenant_id when the function is tenant-isolated), the
// HTTP request and response of HTTP events, and a fault with the error or
// panic. Annotations, metadata ([AddAnnotation],
// [AddMetadata]) and metrics ([AddMetric]) work through the handler's
// context, and [Transport] and [AWS] record outgoing calls under the
// subsegment.
//
// For an HTTP event whose request carries Origin, the middleware records
// the CORS verdict a browser reaches on what the client receives, as the
// cors_* annotations of [HTTP] and, in the invocation's EMF document, the
// CORSBlocked metric (1 or 0) and a cors_code property. When the function
// fails (an error, a panic, a timeout, or a REST API or ALB response
// without statusCode) the client receives the gateway's 502, which has no
// CORS headers: the verdict is then blocked, missing-allow-origin, which
// is why a browser reports a failing function as a CORS error. See
// [WithCORSChecker] and [WithoutCORSVerdicts].
//
// One EMF document per invocation goes to standard output (or
// WithMetricsSink) with Duration, Errors, ColdStart, Timeout and the
// handler's own metrics (dimension Service, as in HTTP's metrics), plus a
// ColdStart document with dimensions FunctionName and Service on a cold
// start. WithoutMetrics switches them off.
//
// Everything is flushed before the wrapper returns, since Lambda freezes
// the process afterwards. A returned error is returned unchanged; a panic
// is recorded and raised again, so Lambda reports both as usual. When the
// invocation is still running WithTimeoutMargin before its deadline, the
// middleware sends a faulted subsegment and a Timeout metric at once, so
// that the timeout is visible even though Lambda then stops the function.
//
// A function URL in response-streaming mode takes [LambdaURL] instead.
// Lambda uses the default kit, or the one WithKit names.
func Lambda[In, Out any](h func(context.Context, In) (Out, error), opts ...Option) func(context.Context, In) (Out, error) {
	w := newLambdaWrapper(kitFrom(opts).config(opts))
	// Events are read through a pointer, which spares copying a large
	// event struct into an interface, unless they are pointers already.
	inPtr := reflect.TypeFor[In]().Kind() == reflect.Pointer
	outPtr := reflect.TypeFor[Out]().Kind() == reflect.Pointer
	return func(ctx context.Context, in In) (out Out, err error) {
		var req lambdaevent.Request
		var isHTTP bool
		if w.needEvent() {
			if inPtr {
				req, isHTTP = lambdaevent.FromEvent(any(in))
			} else {
				req, isHTTP = lambdaevent.FromPointer(any(&in))
			}
		}
		var corsReq any
		if isHTTP && w.cfg.cors {
			if inPtr {
				corsReq = corsTypedRequest(any(in))
			} else if corsTypedRequest(any(&in)) != nil {
				// Kept until the invocation ends: a copy, so that the
				// event stays on the stack when there is no verdict.
				p := new(In)
				*p = in
				corsReq = corsTypedRequest(any(p))
			}
		}
		inv := w.begin(ctx, req, isHTTP, corsReq)
		defer func() {
			if v := recover(); v != nil {
				w.end(inv, nil, false, nil, v, nil)
				panic(v)
			}
		}()
		out, err = h(inv.handlerContext(), in)
		var resp lambdaevent.Response
		var haveResp bool
		var outAny any
		if isHTTP {
			if outPtr {
				resp, haveResp = lambdaevent.FromResponse(any(out))
			} else {
				resp, haveResp = lambdaevent.ResponseFromPointer(any(&out))
			}
			if corsReq != nil {
				// The verdict reads the response: a copy, so that out
				// stays on the stack when there is no verdict.
				if outPtr {
					outAny = any(out)
				} else {
					p := new(Out)
					*p = out
					outAny = any(p)
				}
			}
		}
		w.end(inv, &resp, haveResp, err, nil, outAny)
		return out, err
	}
}

// LambdaHandler is Lambda for the lambda.Handler form, which receives and
// returns raw JSON:
//
//	lambda.StartHandler(middleware.LambdaHandler(h))
//
// It uses the default kit, or the one WithKit names; see
// [Kit.LambdaHandler].
func LambdaHandler(h lambda.Handler, opts ...Option) lambda.Handler {
	return kitFrom(opts).LambdaHandler(h, opts...)
}

func newLambdaHandler(h lambda.Handler, cfg *config) lambda.Handler {
	return &lambdaHandler{w: newLambdaWrapper(cfg), next: h}
}

type lambdaHandler struct {
	w    *lambdaWrapper
	next lambda.Handler
}

var requestContextKey = []byte(`"requestContext"`)

func (l *lambdaHandler) Invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	w := l.w
	var req lambdaevent.Request
	var isHTTP bool
	if w.needEvent() && bytes.Contains(payload, requestContextKey) {
		req, isHTTP = lambdaevent.Parse(payload)
	}
	var corsReq any
	if isHTTP && w.cfg.cors {
		if r := corsRawRequest(payload, req.Kind); r != nil {
			corsReq = r
		}
	}
	inv := w.begin(ctx, req, isHTTP, corsReq)
	defer func() {
		if v := recover(); v != nil {
			w.end(inv, nil, false, nil, v, nil)
			panic(v)
		}
	}()
	out, err = l.next.Invoke(inv.handlerContext(), payload)
	var resp lambdaevent.Response
	var haveResp bool
	if isHTTP && err == nil {
		resp, haveResp = lambdaevent.ParseResponse(out)
	}
	w.end(inv, &resp, haveResp, err, nil, out)
	return out, err
}

// lambdaWrapper is what Lambda and LambdaHandler share: configuration and
// a free list of EMF loggers, one per invocation in flight. The cold start
// flag is the kit's.
type lambdaWrapper struct {
	cfg      *config
	name     string // subsegment name
	function string
	service  string

	sink    emf.Sink
	coldLog *emf.Logger      // the ColdStart document
	loggers chan *emf.Logger // free per-invocation loggers
	emfOpts []emf.Option

	// coldBatch, when the sink can take several documents in one write,
	// collects the ColdStart document and the cold invocation's, so that
	// a cold start writes once (nil otherwise).
	coldBatch *docBatch
	watch     deadlineWatch

	// alias caches the alias of the last invoked function ARN seen, so
	// that invocations through one ARN parse it once.
	alias atomic.Pointer[[2]string] // {ARN, alias}
}

// aliasOf returns the alias an invocation came through: the qualifier of
// its invoked function ARN when it names an alias, else "".
func (w *lambdaWrapper) aliasOf(ctx context.Context) string {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.InvokedFunctionArn == "" {
		return ""
	}
	if c := w.alias.Load(); c != nil && c[0] == lc.InvokedFunctionArn {
		return c[1]
	}
	a := deployversion.AliasFromARN(lc.InvokedFunctionArn)
	w.alias.Store(&[2]string{lc.InvokedFunctionArn, a})
	return a
}

const maxFreeLoggers = 64

func newLambdaWrapper(cfg *config) *lambdaWrapper {
	w := &lambdaWrapper{cfg: cfg, function: lambdacontext.FunctionName}
	if w.function == "" {
		w.function = cfg.getenv("AWS_LAMBDA_FUNCTION_NAME")
	}
	w.name = xray.SanitizeName("## " + cfg.serviceName)
	w.service = first(cfg.getenv("POWERTOOLS_SERVICE_NAME"), cfg.getenv("AWS_EMF_SERVICE_NAME"), cfg.serviceName, "service_undefined")
	if !cfg.metrics.off {
		w.setupEMF()
	}
	return w
}

func (w *lambdaWrapper) setupEMF() {
	w.sink = w.cfg.metrics.sink
	if w.sink == nil {
		w.sink = emf.NewWriterSink(os.Stdout)
	}
	base := []emf.Option{emf.WithSink(w.sink), emf.WithEnvironment(emf.Lambda), emf.WithLogger(w.cfg.logger)}
	if ns := w.cfg.metrics.namespace; ns != "" {
		base = append(base, emf.WithNamespace(ns))
	}
	function := first(w.function, w.service)
	coldOpts := append(base[:len(base):len(base)],
		emf.WithDefaultDimensions(emf.Dimension{Name: FunctionNameDimension, Value: function}, emf.Dimension{Name: redmetric.Service, Value: w.service}))
	if mw, ok := w.sink.(multiDocWriter); ok {
		w.coldBatch = &docBatch{next: w.sink, multi: mw}
		coldOpts = append(coldOpts, emf.WithSink(w.coldBatch))
	}
	coldLog, err := emf.New(coldOpts...)
	if err != nil {
		w.cfg.logger.Error("sidelight: Lambda metrics are off", "error", err)
		w.sink = nil
		return
	}
	w.coldLog = coldLog
	w.emfOpts = append(base, emf.WithDefaultDimensions(emf.Dimension{Name: redmetric.Service, Value: w.service}))
	w.loggers = make(chan *emf.Logger, maxFreeLoggers)
	if l, err := emf.New(w.emfOpts...); err == nil {
		w.loggers <- l
	} else {
		w.cfg.logger.Error("sidelight: Lambda metrics are off", "error", err)
		w.sink = nil
	}
}

func (w *lambdaWrapper) getLogger() *emf.Logger {
	if w.sink == nil {
		return nil
	}
	select {
	case l := <-w.loggers:
		return l
	default:
	}
	l, err := emf.New(w.emfOpts...)
	if err != nil { // cannot happen: the same options worked at start
		return nil
	}
	return l
}

// coldLogger returns the logger of the cold invocation: one that writes
// into coldBatch, when there is one.
func (w *lambdaWrapper) coldLogger() *emf.Logger {
	if w.sink == nil || w.coldBatch == nil {
		return w.getLogger()
	}
	l, err := emf.New(append(w.emfOpts[:len(w.emfOpts):len(w.emfOpts)], emf.WithSink(w.coldBatch))...)
	if err != nil { // cannot happen: the same options worked at start
		return w.getLogger()
	}
	return l
}

func (w *lambdaWrapper) putLogger(l *emf.Logger) {
	l.Reset()
	select {
	case w.loggers <- l:
	default:
	}
}

// needEvent reports whether events are read (for their trace header, http
// block and CORS verdict): only when segments can be sent or CORS verdicts
// counted.
func (w *lambdaWrapper) needEvent() bool {
	return w.cfg.exporter != nil || (w.cfg.cors && w.sink != nil)
}

// invocation is the state of one invocation. It is the context of the
// request state, so that AddMetric finds it through the handler's context.
type invocation struct {
	context.Context
	w         *lambdaWrapper
	st        *state // &stBuf
	stBuf     state  // one allocation serves the invocation and its state
	start     time.Time
	cold      bool
	traced    bool // the invocation came with a valid trace header
	requestID string
	tenantID  string // of a tenant-isolated function
	corsReq   any    // the HTTP request, when it carries Origin (lambda_cors.go)
	isHTTP    bool
	// stream is the response writer of a streamed function URL response
	// (LambdaURL), set under mu; nil otherwise.
	stream *streamWriter

	mu       sync.Mutex
	done     bool // telemetry sent, by the timeout report or by end
	timedOut bool
	metrics  *emf.Logger

	// Registration with the wrapper's deadlineWatch (its lock guards
	// reportAt and watchIdx).
	watched  bool
	reportAt time.Time
	watchIdx int
}

type invocationKey struct{}

func (inv *invocation) Value(key any) any {
	if key == (invocationKey{}) {
		return inv
	}
	return inv.Context.Value(key)
}

func (inv *invocation) handlerContext() context.Context { return inv.st }

func (w *lambdaWrapper) begin(ctx context.Context, req lambdaevent.Request, isHTTP bool, corsReq any) *invocation {
	cfg := w.cfg
	now := cfg.now()
	inv := &invocation{Context: ctx, w: w, start: now, cold: w.cfg.kit.warm.CompareAndSwap(false, true), corsReq: corsReq, isHTTP: isHTTP}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.requestID = lc.AwsRequestID
		inv.tenantID = lc.TenantID
	}

	raw, _ := ctx.Value(lambdaTraceKey).(string)
	if raw == "" {
		raw = req.TraceHeader
	}
	hdr, err := xray.ParseHeader(raw)
	traceID := hdr.TraceID
	if err != nil {
		hdr = xray.Header{}
		traceID = xray.NewTraceID(now)
	}
	inv.traced = err == nil
	// Without the parent's ID a subsegment has nowhere to go: the
	// middleware never makes a segment of its own.
	sampled := err == nil && hdr.ParentID.IsValid() && cfg.exporter != nil &&
		cfg.decide(hdr.Sampled, traceID, sampling.Request{Method: req.Method, ServiceName: cfg.serviceName}, now)

	st := &inv.stBuf
	st.init(inv, cfg, traceID, xray.NewSpanID(), sampled, hdr)
	st.start = now
	inv.st = st
	if sampled {
		seg := getSegment()
		seg.Name = w.name
		seg.TraceID = traceID
		seg.ID = st.sc.SpanID()
		seg.ParentID = hdr.ParentID
		seg.Independent = true
		seg.Start = now
		seg.Annotations = append(seg.Annotations,
			xray.BoolAttr(ColdStartAnnotation, inv.cold),
			xray.StringAttr(ServiceAnnotation, w.service))
		if inv.tenantID != "" {
			seg.Annotations = append(seg.Annotations, xray.StringAttr(TenantAnnotation, inv.tenantID))
		}
		if v := segmentVersion(cfg, nil); v != "" {
			seg.ServiceVersion = v
			seg.Annotations = append(seg.Annotations, xray.StringAttr(VersionAnnotation, v))
		}
		if a := w.aliasOf(ctx); a != "" {
			seg.Annotations = append(seg.Annotations, xray.StringAttr(AliasAnnotation, a))
		}
		if isHTTP {
			setHTTPRequest(seg, &req)
		}
		st.seg = seg
	}
	if inv.cold {
		inv.metrics = w.coldLogger()
	} else {
		inv.metrics = w.getLogger()
	}

	if m := w.cfg.timeoutMargin; m > 0 {
		if deadline, ok := ctx.Deadline(); ok {
			clock := time.Now()
			left := deadline.Sub(clock)
			wait := left - m
			if wait <= 0 {
				wait = left / 2
			}
			w.watch.add(inv, clock.Add(wait))
			inv.watched = true
		}
	}
	return inv
}

// deadlineWatch reports the timeouts of a wrapper's invocations with one
// timer, armed for the earliest report due. Arming a timer costs more than
// its allocation: when the process has no other timer, the runtime wakes
// an idle thread to watch it, a few microseconds of CPU per invocation.
// Invocations therefore only register and unregister: the timer is reset
// when an invocation's report is due before it fires (the first
// invocation, and then about once per function timeout), and when it
// fires it reports the invocations due and arms itself for the next one.
type deadlineWatch struct {
	mu     sync.Mutex
	timer  *time.Timer
	armed  time.Time     // when the timer fires; zero when it is not armed
	active []*invocation // invocations with a report to make, in no order
	arms   int           // times the timer was set (tests count them)
}

// add registers inv, whose timeout report is due at.
func (d *deadlineWatch) add(inv *invocation, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	inv.reportAt, inv.watchIdx = at, len(d.active)
	d.active = append(d.active, inv)
	if !d.armed.IsZero() && !at.Before(d.armed) {
		return // the timer fires first; it re-arms itself for inv
	}
	d.armed = at
	d.arms++
	if d.timer == nil {
		d.timer = time.AfterFunc(time.Until(at), d.fire)
	} else {
		d.timer.Reset(time.Until(at))
	}
}

// remove unregisters inv, if it still is.
func (d *deadlineWatch) remove(inv *invocation) {
	d.mu.Lock()
	d.removeLocked(inv)
	d.mu.Unlock()
}

func (d *deadlineWatch) removeLocked(inv *invocation) {
	i := inv.watchIdx
	if i < 0 || i >= len(d.active) || d.active[i] != inv {
		return
	}
	last := len(d.active) - 1
	d.active[i] = d.active[last]
	d.active[i].watchIdx = i
	d.active[last] = nil
	d.active = d.active[:last]
	inv.watchIdx = -1
}

// fire runs on the timer's goroutine: it reports the invocations due and
// arms the timer for the next report.
func (d *deadlineWatch) fire() {
	var due []*invocation
	d.mu.Lock()
	now := time.Now()
	var next time.Time
	for i := 0; i < len(d.active); {
		inv := d.active[i]
		if !inv.reportAt.After(now) {
			due = append(due, inv)
			d.removeLocked(inv) // moves the last one to i
			continue
		}
		if next.IsZero() || inv.reportAt.Before(next) {
			next = inv.reportAt
		}
		i++
	}
	d.armed = next
	if !next.IsZero() {
		d.arms++
		d.timer.Reset(next.Sub(now))
	}
	d.mu.Unlock()
	for _, inv := range due {
		inv.timeout()
	}
}

// trimPanicFrames drops, from the stack recorded while panicking, the
// frames of the middleware's deferred function and of the runtime's panic
// machinery, so that the stack starts where the handler panicked.
func trimPanicFrames(c *xray.Cause) {
	if c == nil || len(c.Exceptions) == 0 {
		return
	}
	ex := &c.Exceptions[0]
	for i, f := range ex.Stack {
		if f.Label != "runtime.gopanic" {
			continue
		}
		j := i + 1
		for j < len(ex.Stack)-1 && strings.HasPrefix(ex.Stack[j].Label, "runtime.") {
			j++
		}
		ex.Stack = ex.Stack[j:]
		return
	}
}

// setHTTPRequest records the request of an HTTP event.
func setHTTPRequest(seg *xray.Segment, req *lambdaevent.Request) {
	seg.HTTP.Method = req.Method
	seg.HTTP.URL = req.URL
	seg.HTTP.UserAgent = req.UserAgent
	seg.HTTP.ClientIP = req.ClientIP
	seg.HTTP.XForwardedFor = req.XForwardedFor
	seg.HTTP.ContentLength = -1
	seg.Annotations = append(seg.Annotations, xray.StringAttr(EventAnnotation, req.Kind.String()))
}

// setHTTPResponse records the response the function returned.
func setHTTPResponse(seg *xray.Segment, resp *lambdaevent.Response) {
	seg.SetHTTPStatus(resp.Status)
	seg.Annotations = append(seg.Annotations, xray.BoolAttr(CORSAnnotation, resp.CORS))
}

// timeout runs on the timer's goroutine when the handler is still running
// the margin before the deadline.
func (inv *invocation) timeout() {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.done {
		return
	}
	inv.done, inv.timedOut = true, true
	w := inv.w
	now := w.cfg.now()
	left := time.Duration(0)
	if deadline, ok := inv.Context.Deadline(); ok {
		left = deadline.Sub(now)
	}
	seg := inv.st.finish()
	if seg != nil {
		seg.End = now
		seg.Fault = true
		seg.Annotations = append(seg.Annotations, xray.BoolAttr(TimeoutAnnotation, true))
		seg.Cause = &xray.Cause{Exceptions: []xray.Exception{{
			ID:      xray.NewSpanID(),
			Type:    "sidelight.Timeout",
			Message: fmt.Sprintf("invocation about to time out: still running after %s, %s before the deadline", now.Sub(inv.start).Round(time.Millisecond), left.Round(time.Millisecond)),
		}}}
	}
	// The client will get the gateway's error answer, unless a streamed
	// response's status and headers went out already: the function URL
	// then ends the stream at the timeout, and the client keeps that
	// status and those headers with a truncated body.
	var out any
	failed := true
	if inv.stream != nil {
		if resp, ok := inv.stream.sent(); ok {
			if seg != nil && inv.isHTTP {
				status, acao := inv.stream.status()
				setHTTPResponse(seg, &lambdaevent.Response{Status: status, CORS: acao})
			}
			if inv.corsReq != nil {
				out = resp
			}
			failed = false
		}
	}
	inv.recordCORS(seg, out, failed)
	inv.flushLocked(now, seg, nil, nil)
}

// end sends the invocation's telemetry unless the timeout report already
// did. resp is the HTTP response when haveResp is set; out is what the
// handler returned (for the CORS verdict).
func (w *lambdaWrapper) end(inv *invocation, resp *lambdaevent.Response, haveResp bool, err error, panicked any, out any) {
	if inv.watched {
		w.watch.remove(inv)
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.done {
		// The timeout report went out; subsegments the handler finished
		// since then were sent on their own: deliver them too.
		if w.cfg.exporter != nil {
			inv.flushExporter()
		}
		return
	}
	inv.done = true
	now := w.cfg.now()
	seg := inv.st.finish()
	if seg != nil {
		seg.End = now
		if haveResp {
			setHTTPResponse(seg, resp)
		}
		switch {
		case panicked != nil:
			seg.Fault = true
			addCause(seg, panicked, 1)
			trimPanicFrames(seg.Cause)
		case err != nil:
			// The stack starts at the wrapper's call of the handler: a
			// returned error does not say where it was made.
			seg.Fault = true
			addCause(seg, err, 1)
		}
	}
	// A panic after a streamed response's header went out leaves the
	// client that header (out is set then); otherwise a failure leaves it
	// the gateway's error answer.
	inv.recordCORS(seg, out, err != nil || (panicked != nil && out == nil))
	inv.flushLocked(now, seg, err, panicked)
}

// flushLocked writes the EMF documents, then sends seg (when traced) and
// waits until the segments are on their way to the daemon.
func (inv *invocation) flushLocked(now time.Time, seg *xray.Segment, err error, panicked any) {
	w := inv.w
	ctx := inv.Context
	if ctx.Err() != nil {
		// The handler returned after its deadline: Lambda is about to stop
		// the function, so take what little time is left.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 100*time.Millisecond)
		defer cancel()
	}
	if l := inv.metrics; l != nil {
		inv.metrics = nil
		failed := 0.0
		if err != nil || panicked != nil || inv.timedOut {
			failed = 1
		}
		_ = l.PutMetric(MetricDuration, float64(now.Sub(inv.start))/float64(time.Millisecond), emf.Milliseconds)
		_ = l.PutMetric(MetricErrors, failed, emf.Count)
		_ = l.PutMetric(MetricColdStart, b2f(inv.cold), emf.Count)
		_ = l.PutMetric(MetricTimeout, b2f(inv.timedOut), emf.Count)
		// [Service], and [Service, Version] and [Service, TenantID] when
		// those are on.
		v := metricVersion(w.cfg, nil)
		tenant := metricTenant(w.cfg, inv.tenantID)
		if v != "" || tenant != "" {
			_ = l.PutDimensions()
		}
		if v != "" {
			_ = l.PutDimensions(emf.Dimension{Name: redmetric.Version, Value: v})
		}
		if tenant != "" {
			_ = l.PutDimensions(emf.Dimension{Name: TenantDimension, Value: tenant})
		}
		if inv.requestID != "" {
			_ = l.SetProperty("function_request_id", inv.requestID)
		}
		if inv.tenantID != "" {
			_ = l.SetProperty("tenant_id", inv.tenantID)
		}
		if inv.traced {
			_ = l.SetProperty("xray_trace_id", xray.FormatTraceID(inv.st.sc.TraceID()))
		}
		if inv.cold && w.coldLog != nil {
			_ = w.coldLog.PutMetric(MetricColdStart, 1, emf.Count)
			if ferr := w.coldLog.Flush(ctx); ferr != nil {
				w.cfg.logger.Warn("sidelight: ColdStart metric not written", "error", ferr)
			}
		}
		if ferr := l.Flush(ctx); ferr != nil {
			w.cfg.logger.Warn("sidelight: invocation metrics not written", "error", ferr)
		}
		if inv.cold && w.coldBatch != nil {
			// Both documents of a cold start go out in one write; the
			// logger writing into the batch is not reused.
			if ferr := w.coldBatch.send(ctx); ferr != nil {
				w.cfg.logger.Warn("sidelight: cold start metrics not written", "error", ferr)
			}
		} else {
			w.putLogger(l)
		}
	}
	if seg != nil {
		// An exporter that can send on this goroutine does so: the
		// invocation waits for the segment anyway, and handing it to a
		// background sender would cost two goroutine switches more.
		if se, ok := w.cfg.exporter.(xray.SyncSegmentExporter); ok {
			if serr := se.ExportSegmentSync(ctx, seg); serr != nil {
				w.cfg.logger.Warn("sidelight: invocation segment not sent", "error", serr)
			}
		} else {
			w.cfg.exporter.ExportSegment(seg)
		}
		putSegment(seg)
	}
	if w.cfg.exporter != nil {
		// Subsegments sent on their own during the invocation (or by the
		// timeout report) may still be queued.
		if ferr := w.cfg.exporter.ForceFlush(ctx); ferr != nil {
			w.cfg.logger.Warn("sidelight: segments not flushed before the invocation ended", "error", ferr)
		}
	}
}

// flushExporter waits, for at most 100 ms, until the segments exported so
// far are sent.
func (inv *invocation) flushExporter() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(inv.Context), 100*time.Millisecond)
	defer cancel()
	if err := inv.w.cfg.exporter.ForceFlush(ctx); err != nil {
		inv.w.cfg.logger.Warn("sidelight: segments not flushed before the invocation ended", "error", err)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ErrNoInvocation is returned by AddMetric when the context does not come
// from an invocation handled by Lambda or LambdaHandler.
var ErrNoInvocation = fmt.Errorf("sidelight: no Lambda invocation in this context (is the handler wrapped by middleware.Lambda?)")

// ErrInvocationEnded is returned by AddMetric after the invocation's
// metrics were written (the handler returned, or the timeout report went
// out).
var ErrInvocationEnded = fmt.Errorf("sidelight: the invocation's metrics were already written")

// AddMetric adds a value to a metric of the invocation ctx belongs to; it
// is written in the invocation's EMF document with the Service
// dimension. Units are the CloudWatch units of package emf. Invalid names,
// units and values are refused with the emf package's errors; a metric
// keeps the unit it was first given.
func AddMetric(ctx context.Context, name string, value float64, unit emf.Unit) error {
	inv, ok := ctx.Value(invocationKey{}).(*invocation)
	if !ok {
		return ErrNoInvocation
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.done {
		return ErrInvocationEnded
	}
	if inv.metrics == nil {
		return nil // metrics are off
	}
	return inv.metrics.PutMetric(name, value, unit)
}

// Compile-time checks.
var (
	_ lambda.Handler  = (*lambdaHandler)(nil)
	_ context.Context = (*invocation)(nil)
)

// multiDocWriter is implemented by sinks that write several documents at
// once (emf.NewWriterSink's: one Write call).
type multiDocWriter interface {
	WriteDocuments(ctx context.Context, docs ...[]byte) error
}

// docBatch is the sink of the cold start's loggers: it keeps what they
// write until send hands it all to the sink underneath in one call.
type docBatch struct {
	next  emf.Sink
	multi multiDocWriter
	mu    sync.Mutex
	docs  [][]byte
}

func (b *docBatch) WriteDocument(_ context.Context, doc []byte) error {
	b.mu.Lock()
	b.docs = append(b.docs, bytes.Clone(doc))
	b.mu.Unlock()
	return nil
}

// Flush does nothing: the documents are written by send.
func (b *docBatch) Flush(context.Context) error { return nil }

// Shutdown does nothing: the sink underneath is not the batch's.
func (b *docBatch) Shutdown(context.Context) error { return nil }

// MaxDocumentSize passes on the limit of the sink underneath, if any.
func (b *docBatch) MaxDocumentSize() int {
	if ls, ok := b.next.(interface{ MaxDocumentSize() int }); ok {
		return ls.MaxDocumentSize()
	}
	return 0
}

// send writes the documents kept so far in one call and forgets them.
func (b *docBatch) send(ctx context.Context) error {
	b.mu.Lock()
	docs := b.docs
	b.docs = nil
	b.mu.Unlock()
	if len(docs) == 0 {
		return nil
	}
	return b.multi.WriteDocuments(ctx, docs...)
}
