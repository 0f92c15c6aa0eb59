package middleware

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// TraceHeader names a trace context format that HTTP reads from incoming
// requests.
type TraceHeader uint8

const (
	// XRayHeader is X-Amzn-Trace-Id, which Application Load Balancers, API
	// Gateway, Lambda and the X-Ray SDKs set.
	XRayHeader TraceHeader = iota + 1
	// W3CHeader is W3C Trace Context: traceparent, with tracestate passed
	// on; OpenTelemetry SDKs send it by default.
	W3CHeader
)

// String returns the header's name as OTEL_PROPAGATORS spells it.
func (h TraceHeader) String() string {
	switch h {
	case XRayHeader:
		return "xray"
	case W3CHeader:
		return "tracecontext"
	}
	return "unknown"
}

// defaultTraceHeaderOrder prefers X-Amzn-Trace-Id: AWS's load balancers
// and API Gateway set it on the way in, so when the two disagree it is the
// one that names the trace X-Ray already knows about.
var defaultTraceHeaderOrder = []TraceHeader{XRayHeader, W3CHeader}

// WithTraceHeaderOrder sets which incoming trace headers HTTP continues a
// trace from, most preferred first. The default is XRayHeader, W3CHeader:
// a request's X-Amzn-Trace-Id is followed, and its traceparent only when
// X-Amzn-Trace-Id is missing or malformed. Without this option,
// OTEL_PROPAGATORS can change the preference (see
// traceHeaderOrderFromEnv). Formats left out are ignored on
// the way in (WithTraceHeaderOrder(W3CHeader) reads traceparent only).
// Unknown values are skipped; an order with none left means the default.
//
// When the headers name the same trace, what each carries beyond it is
// kept: the Lineage of X-Amzn-Trace-Id and the tracestate of traceparent,
// and an X-Amzn-Trace-Id without Parent or Sampled takes them from the
// traceparent.
// When they name different traces, the preferred one wins and the other
// is dropped whole. Whatever came in, Transport and AWS write both headers
// on outgoing calls.
func WithTraceHeaderOrder(order ...TraceHeader) Option {
	return optionFunc(func(c *config) {
		var kept []TraceHeader
		for _, h := range order {
			if (h == XRayHeader || h == W3CHeader) && !containsHeader(kept, h) {
				kept = append(kept, h)
			}
		}
		if len(kept) > 0 {
			c.headerOrder = kept
		}
	})
}

// traceHeaderOrderFromEnv reads the preference from OTEL_PROPAGATORS, the
// variable OpenTelemetry SDKs configure their propagators by: "xray" (or
// "xray-lambda") and "tracecontext" in it are ranked as those SDKs rank
// them, where the one listed last wins, so "tracecontext,xray" prefers
// X-Amzn-Trace-Id and "xray,tracecontext" prefers traceparent. The format
// it does not list is still read, last, so that setting the variable for
// an SDK never makes the middleware drop the X-Amzn-Trace-Id of a load
// balancer. Other values ("baggage", "b3", "none") are ignored; with
// neither format listed, the default order stands.
func traceHeaderOrderFromEnv(v string) []TraceHeader {
	var listed []TraceHeader
	for name := range strings.SplitSeq(v, ",") {
		var h TraceHeader
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "xray", "xray-lambda":
			h = XRayHeader
		case "tracecontext":
			h = W3CHeader
		default:
			continue
		}
		listed = withoutHeader(listed, h)
		listed = append([]TraceHeader{h}, listed...) // the last listed first
	}
	if len(listed) == 0 {
		return nil
	}
	for _, h := range defaultTraceHeaderOrder {
		if !containsHeader(listed, h) {
			listed = append(listed, h)
		}
	}
	return listed
}

func withoutHeader(hs []TraceHeader, h TraceHeader) []TraceHeader {
	out := hs[:0]
	for _, x := range hs {
		if x != h {
			out = append(out, x)
		}
	}
	return out
}

func containsHeader(hs []TraceHeader, h TraceHeader) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// incomingTrace reads the trace context of an incoming request by the
// configured order. It returns the trace as an X-Ray header (a W3C one
// converted), the tracestate to pass on ("" when none, or when it belongs
// to a trace that was not followed), and false when no header named a
// valid trace. It does not allocate unless several tracestate header lines
// must be joined.
func (c *config) incomingTrace(h http.Header) (xray.Header, string, bool) {
	var (
		xr, xrOK = xray.Header{}, false
		tp, tpOK = xray.Traceparent{}, false
	)
	order := c.headerOrder
	if len(order) == 0 {
		order = defaultTraceHeaderOrder
	}
	for _, f := range order {
		switch f {
		case XRayHeader:
			var err error
			xr, err = xray.ParseHeader(headerValue(h, xray.HeaderName))
			xrOK = err == nil
		case W3CHeader:
			var err error
			tp, err = xray.ParseTraceparent(headerValue(h, xray.TraceparentHeader))
			tpOK = err == nil
		}
	}
	for _, f := range order {
		switch {
		case f == XRayHeader && xrOK:
			state := ""
			if tpOK && tp.TraceID == xr.TraceID {
				state = tracestate(h)
				// A header with Root alone (as a load balancer starts
				// one) takes the parent and decision of the traceparent
				// that names the same trace.
				if !xr.ParentID.IsValid() {
					xr.ParentID = tp.ParentID
				}
				if xr.Sampled == xray.SamplingUnknown {
					xr.Sampled = tp.Header().Sampled
				}
			}
			return xr, state, true
		case f == W3CHeader && tpOK:
			out := tp.Header()
			if xrOK && xr.TraceID == tp.TraceID {
				out.Extra = xr.Extra
			}
			return out, tracestate(h), true
		}
	}
	return xray.Header{}, "", false
}

// tracestate returns the request's tracestate, bounded by
// xray.BoundTracestate. Several header lines are one comma-separated list.
func tracestate(h http.Header) string {
	v := h[xray.TracestateHeader]
	switch len(v) {
	case 0:
		return ""
	case 1:
		return xray.BoundTracestate(v[0])
	}
	n := 0
	for i, s := range v {
		if i > 0 {
			n++
		}
		n += len(s)
		if n > xray.MaxTracestateLength {
			v = v[:i+1]
			break
		}
	}
	return xray.BoundTracestate(strings.Join(v, ","))
}

// outgoingTrace is what Transport and AWS write on a call: the X-Ray
// header and the W3C traceparent and tracestate for the same trace.
type outgoingTrace struct {
	xray       xray.Header
	tracestate string
}

// set writes the headers onto h, replacing any the caller set.
func (o *outgoingTrace) set(h http.Header) {
	var buf [xray.MaxForwardedLength + 64]byte
	h[xray.HeaderName] = []string{string(o.xray.AppendTo(buf[:0]))}
	h[xray.TraceparentHeader] = []string{string(xray.AppendTraceparent(buf[:0], o.xray.TraceID, o.xray.ParentID, o.xray.Sampled == xray.Sampled))}
	if o.tracestate != "" {
		h[xray.TracestateHeader] = []string{o.tracestate}
	} else {
		delete(h, xray.TracestateHeader)
	}
}

// withTracestate gives the request's span context the tracestate the
// request came with, so that outgoing calls, OpenTelemetry spans started
// under it and OpenTelemetry propagators carry it on. A tracestate that
// OpenTelemetry's parser rejects (bad keys or values, duplicate keys) is
// dropped, as W3C Trace Context allows.
func withTracestate(sc trace.SpanContext, ts string) trace.SpanContext {
	if ts == "" {
		return sc
	}
	parsed, err := trace.ParseTraceState(ts)
	if err != nil {
		return sc
	}
	return sc.WithTraceState(parsed)
}
