package middleware

import (
	"net"
	"net/http"
	"strings"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// HTTP returns middleware that traces every request as an X-Ray segment.
//
// The segment is named by WithServiceName (or WithHostNaming), records the
// request (method, URL without the query, user agent, client IP honouring
// X-Forwarded-For) and the response (status, bytes written), is an error
// for 4xx, a throttle for 429 and a fault for 5xx, and carries the route
// pattern as the "route" annotation. A panic in the handler is recorded as
// a fault with its stack, and then re-panicked.
//
// An incoming X-Amzn-Trace-Id or W3C traceparent continues its trace, and
// its sampling decision is followed (traceparent's sampled flag counts as
// Sampled=1 or Sampled=0); with neither, or only malformed ones, a new
// trace starts. When both come and name different traces,
// X-Amzn-Trace-Id wins unless WithTraceHeaderOrder says otherwise. A
// tracestate that came with the trace followed is passed on, bounded by
// xray.BoundTracestate, in the request's span context (one that
// OpenTelemetry's trace.ParseTraceState rejects is dropped). The response
// carries an X-Amzn-Trace-Id naming the trace, as the X-Ray SDK writes it.
//
// It uses the default kit, or the one WithKit names; see [Kit.HTTP].
func HTTP(opts ...Option) func(http.Handler) http.Handler {
	return kitFrom(opts).HTTP(opts...)
}

func newHTTP(cfg *config) func(http.Handler) http.Handler {
	var metrics *httpMetrics
	if !cfg.metrics.off {
		metrics = newHTTPMetrics(cfg)
	}
	env := newEnvironment(cfg)
	return func(next http.Handler) http.Handler {
		return &handler{cfg: cfg, env: env, metrics: metrics, next: next}
	}
}

type handler struct {
	cfg     *config
	env     *environment
	metrics *httpMetrics // nil when off
	next    http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := h.cfg
	start := cfg.now()

	incoming, tracestate, continued := cfg.incomingTrace(r.Header)
	traceID := incoming.TraceID
	if !continued {
		traceID = xray.NewTraceID(start)
	}
	sampled := cfg.exporter != nil &&
		cfg.decide(incoming.Sampled, traceID, sampling.Request{Host: r.Host, Method: r.Method, Path: r.URL.Path, ServiceName: cfg.serviceName}, start)

	st := newState(r.Context(), cfg, traceID, xray.NewSpanID(), sampled, incoming)
	st.start = start
	st.sc = withTracestate(st.sc, tracestate)
	if sampled {
		seg := getSegment()
		seg.Name = h.segmentName(r)
		seg.ServiceVersion = cfg.serviceVersion
		seg.TraceID = traceID
		seg.ID = st.sc.SpanID()
		seg.ParentID = incoming.ParentID
		seg.Start = start
		seg.HTTP.Method = r.Method
		seg.HTTP.URL = requestURL(r)
		seg.HTTP.UserAgent = r.UserAgent()
		seg.HTTP.ClientIP, seg.HTTP.XForwardedFor = clientIP(r)
		h.env.fill(seg)
		st.seg = seg
	}
	st.respTrace[0] = responseHeader(traceID, incoming, continued, sampled)
	w.Header()[xray.HeaderName] = st.respTrace[:]

	rw := &st.rw
	rw.ResponseWriter = w
	r2 := r.WithContext(st)
	defer func() {
		if v := recover(); v != nil {
			h.end(st, r2, rw, v)
			panic(v)
		}
	}()
	h.next.ServeHTTP(rw, r2)
	h.end(st, r2, rw, nil)
}

func (h *handler) end(st *state, r *http.Request, rw *responseWriter, panicked any) {
	end := h.cfg.now()
	status := rw.status
	if status == 0 {
		if panicked != nil {
			status = http.StatusInternalServerError
		} else {
			status = http.StatusOK
		}
	}
	route := h.route(r)
	seg := st.finish()
	h.corsVerdict(seg, r, rw, status, route)
	if seg != nil {
		seg.End = end
		if panicked != nil {
			seg.Fault = true
			addCause(seg, panicked, 3)
			if rw.status != 0 {
				seg.SetHTTPStatus(rw.status)
			}
		} else {
			seg.SetHTTPStatus(status)
		}
		seg.HTTP.ContentLength = rw.written
		if route != "" {
			seg.Annotations = append(seg.Annotations, xray.StringAttr(RouteAnnotation, route))
		}
		h.cfg.exporter.ExportSegment(seg)
		putSegment(seg)
	}
	if h.metrics != nil {
		h.metrics.observe(route, r.Method, status, end.Sub(st.start), st)
	}
}

func (h *handler) route(r *http.Request) string {
	if h.cfg.routeFunc != nil {
		return h.cfg.routeFunc(r)
	}
	return r.Pattern
}

func (h *handler) segmentName(r *http.Request) string {
	if h.cfg.hostPattern != "" && r.Host != "" && sampling.Match(h.cfg.hostPattern, hostOnly(r.Host)) {
		return hostOnly(r.Host)
	}
	return h.cfg.serviceName
}

// headerValue reads a header by its canonical key without allocating.
func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func responseHeader(traceID [16]byte, in xray.Header, continued, sampled bool) string {
	var buf [128]byte
	out := xray.Header{TraceID: traceID}
	if continued {
		out.ParentID = in.ParentID
		switch in.Sampled {
		case xray.Sampled, xray.NotSampled:
			out.Sampled = in.Sampled
		case xray.SamplingRequested:
			out.Sampled = xray.NotSampled
			if sampled {
				out.Sampled = xray.Sampled
			}
		}
	}
	return string(out.AppendTo(buf[:0]))
}

func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := headerValue(r.Header, "X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	return scheme + "://" + host + r.URL.Path
}

// clientIP returns the first address in X-Forwarded-For, or the peer's
// address.
func clientIP(r *http.Request) (string, bool) {
	if xff := headerValue(r.Header, "X-Forwarded-For"); xff != "" {
		if i := strings.IndexByte(xff, ','); i >= 0 {
			xff = xff[:i]
		}
		if xff = strings.TrimSpace(xff); xff != "" {
			return xff, true
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host, false
	}
	return r.RemoteAddr, false
}

func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return hostport
}
