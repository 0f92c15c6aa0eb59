package middleware

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// Transport returns an http.RoundTripper that passes the trace on to the
// services it calls and records each call as a "remote" subsegment of the
// current segment: method, URL, status, response size, and a fault with the
// error when the call fails. The callee receives X-Amzn-Trace-Id with the
// trace, the subsegment as parent, the sampling decision, and the Lineage
// and the few other keys of the incoming request that xray.ParseHeader
// keeps (at most xray.MaxForwardedLength bytes in all); and the same trace,
// parent and decision as a W3C traceparent, with the tracestate of the
// current span context (the one the request came with), if any. Both replace any the caller set. A nil base means
// http.DefaultTransport. Requests whose context carries no trace pass
// through untouched.
//
// It uses the default kit, or the one WithKit names; see [Kit.Transport].
// A subsegment whose request segment has been sent already goes to the
// exporter of the middleware that made that segment.
func Transport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	return kitFrom(opts).Transport(base, opts...)
}

func newTransport(base http.RoundTripper, cfg *config) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, cfg: cfg}
}

type transport struct {
	base http.RoundTripper
	cfg  *config
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return t.base.RoundTrip(req)
	}
	st, _ := stateFrom(ctx)
	out := outgoingFor(st, sc)
	sampled := sc.IsSampled()
	var sub *xray.Segment
	if sampled {
		out.xray.Sampled = xray.Sampled
		sub = getSegment()
		sub.ID = xray.NewSpanID()
		out.xray.ParentID = sub.ID
		sub.Name = hostOnly(req.URL.Host)
		sub.Namespace = "remote"
		sub.Start = t.cfg.now()
		sub.HTTP.Method = req.Method
		sub.HTTP.URL = req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
		sub.HTTP.Traced = true
		sub.HTTP.ContentLength = -1
	}
	// A RoundTripper must not change the caller's request.
	r2 := req.Clone(ctx)
	out.set(r2.Header)
	resp, err := t.base.RoundTrip(r2)
	if sub == nil {
		return resp, err
	}
	sub.End = t.cfg.now()
	if err != nil {
		sub.Fault = true
		addCause(sub, err, 1)
	} else {
		sub.SetHTTPStatus(resp.StatusCode)
		sub.HTTP.ContentLength = resp.ContentLength
	}
	attach(ctx, st, sc, sub, t.cfg)
	return resp, err
}

// outgoingFor returns the headers for a call made under sc: the trace, sc
// as the parent, and what the request state passes on.
func outgoingFor(st *state, sc trace.SpanContext) outgoingTrace {
	out := outgoingTrace{xray: xray.Header{TraceID: sc.TraceID(), ParentID: sc.SpanID(), Sampled: xray.NotSampled}}
	if sc.IsSampled() {
		out.xray.Sampled = xray.Sampled
	}
	if st != nil {
		out.xray.Extra = st.incoming.Extra
	}
	// The tracestate the request came with travels in the span context,
	// so OpenTelemetry spans under the request carry it too.
	if ts := sc.TraceState(); ts.Len() > 0 {
		out.tracestate = ts.String()
	}
	return out
}

// attach puts a finished subsegment under the span that was current when
// it started: embedded in the request's segment when that span is the
// segment, else sent on its own with that span as its parent.
func attach(ctx context.Context, st *state, sc trace.SpanContext, sub *xray.Segment, cfg *config) {
	if st != nil && st.sc.SpanID() == sc.SpanID() {
		st.addSubsegment(sub)
		return
	}
	sub.Independent = true
	sub.TraceID = sc.TraceID()
	sub.ParentID = sc.SpanID()
	e := cfg.exporter
	if st != nil && st.cfg.exporter != nil {
		e = st.cfg.exporter
	}
	if e != nil {
		e.ExportSegment(sub)
	}
	putSegment(sub)
}
