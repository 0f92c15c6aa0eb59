package middleware

import (
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unsafe"

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
	env := newEnvironment(cfg)
	var metrics *httpMetrics
	if !cfg.metrics.off {
		metrics = newHTTPMetrics(cfg, env)
	}
	// With the real clock, a request's end is its start plus the
	// monotonic time elapsed: one clock read instead of two, and a
	// duration that a step of the wall clock cannot make negative.
	realClock := reflect.ValueOf(cfg.now).Pointer() == reflect.ValueOf(time.Now).Pointer()
	return func(next http.Handler) http.Handler {
		return &handler{cfg: cfg, env: env, metrics: metrics, next: next, realClock: realClock}
	}
}

// httpState is a request's state with room for the text the middleware
// writes per request (the response's X-Amzn-Trace-Id, at most 74 bytes,
// and the segment's URL), so that one allocation holds them all. A URL
// that does not fit (over 94 bytes) is allocated on its own.
type httpState struct {
	state
	text [168]byte // last, so that the garbage collector need not scan it; 416 bytes in all, a size class
}

// bytesString returns b as a string without copying. b must never be
// written again: the middleware writes each byte of httpState.text once.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

type handler struct {
	cfg       *config
	env       *environment
	metrics   *httpMetrics // nil when off
	next      http.Handler
	realClock bool // cfg.now is time.Now
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

	hs := new(httpState)
	st := &hs.state
	st.init(r.Context(), cfg, traceID, xray.NewSpanID(), sampled, incoming)
	st.start = start
	st.sc = withTracestate(st.sc, tracestate)
	// The response's trace header and the segment's URL are written into
	// hs.text, which the request's one allocation already holds.
	text := appendResponseHeader(hs.text[:0], traceID, incoming, continued, sampled)
	st.respTrace[0] = bytesString(text)
	if sampled {
		seg := getSegment()
		seg.Name = h.segmentName(r)
		if v := segmentVersion(cfg, h.env); v != "" {
			seg.ServiceVersion = v
			seg.Annotations = append(seg.Annotations, xray.StringAttr(VersionAnnotation, v))
		}
		seg.TraceID = traceID
		seg.ID = st.sc.SpanID()
		seg.ParentID = incoming.ParentID
		seg.Start = start
		seg.HTTP.Method = r.Method
		seg.HTTP.URL = bytesString(appendRequestURL(text[len(text):], r))
		seg.HTTP.UserAgent = headerValue(r.Header, "User-Agent") // r.UserAgent() canonicalises the key first
		seg.HTTP.ClientIP, seg.HTTP.XForwardedFor = clientIP(r)
		h.env.fill(seg)
		st.seg = seg
	}
	if h.metrics != nil && cfg.metrics.byVersion && !cfg.version.Known() {
		h.env.start() // the version comes from the ECS task metadata, if anywhere
	}
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
	var end time.Time
	if h.realClock {
		end = st.start.Add(time.Since(st.start))
	} else {
		end = h.cfg.now()
	}
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

// appendResponseHeader appends the X-Amzn-Trace-Id the response carries.
func appendResponseHeader(dst []byte, traceID [16]byte, in xray.Header, continued, sampled bool) []byte {
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
	return out.AppendTo(dst)
}

// appendRequestURL appends the URL the segment records: scheme, host and
// path, without the query.
func appendRequestURL(dst []byte, r *http.Request) []byte {
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
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, host...)
	return append(dst, r.URL.Path...)
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
