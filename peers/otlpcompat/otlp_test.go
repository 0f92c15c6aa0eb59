package otlpcompat

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	xrayprop "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	sidelightsampling "github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// receiver is an OTLP/HTTP endpoint that decodes each request.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*coltracepb.ExportTraceServiceRequest
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &m); err != nil {
			t.Errorf("%s: request does not decode: %v", req.Header.Get("User-Agent"), err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, &m)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// only returns the one span received, with its resource and scope.
func (r *receiver) only(t *testing.T) (*tracepb.ResourceSpans, *tracepb.Span) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) != 1 || len(r.reqs[0].ResourceSpans) != 1 || len(r.reqs[0].ResourceSpans[0].ScopeSpans) != 1 ||
		len(r.reqs[0].ResourceSpans[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("want one request with one span, got %v", r.reqs)
	}
	rs := r.reqs[0].ResourceSpans[0]
	return rs, rs.ScopeSpans[0].Spans[0]
}

const (
	incomingTrace  = "1-655b1e80-0102030405060708090a0b0c"
	incomingParent = "53995c3f42cd8ad8"
)

// request is the realistic request both stacks serve: a trace header
// from a load balancer, X-Forwarded-For and a user agent.
func request() *http.Request {
	r := httptest.NewRequest("GET", "http://api.example.com/users/42?verbose=1", nil)
	r.Header.Set("X-Amzn-Trace-Id", "Root="+incomingTrace+";Parent="+incomingParent+";Sampled=1")
	r.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	r.Header.Set("User-Agent", "Mozilla/5.0 (compat test)")
	r.RemoteAddr = "10.0.0.1:41234"
	return r
}

func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"42"}`)
	})
	return mux
}

// viaOtelHTTP serves the request with otelhttp and the SDK (X-Ray
// propagator and IDs, batch span processor, otlptracehttp).
func viaOtelHTTP(t *testing.T) (*tracepb.ResourceSpans, *tracepb.Span) {
	r := newReceiver(t)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(r.srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	// The SDK's default resource (telemetry.sdk.*) with the service name.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("checkout")))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(xrayprop.NewIDGenerator()), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	h := otelhttp.NewHandler(app(), "checkout", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(xrayprop.Propagator{}))
	h.ServeHTTP(httptest.NewRecorder(), request())
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r.only(t)
}

// viaSidelight serves the request with Sidelight's middleware and sends
// the segment with exporter/otlp (serveSidelight is in kit_off_test.go
// or kit_on_test.go).
func viaSidelight(t *testing.T) (*tracepb.ResourceSpans, *tracepb.Span) {
	r := newReceiver(t)
	exp, err := otlp.New(otlp.WithEndpointURL(r.srv.URL+"/v1/traces"),
		otlp.WithEnvironment(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	serveSidelight(t, exp, request())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return r.only(t)
}

func rules(t *testing.T) *sidelightsampling.Rules {
	rules, err := sidelightsampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.Value
		switch {
		case v.GetValue() == nil:
			m[kv.Key] = "<nil>"
		case v.GetStringValue() != "" || v.GetValue() != nil && strings.HasPrefix(v.String(), "string_value"):
			m[kv.Key] = v.GetStringValue()
		default:
			if iv, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
				m[kv.Key] = strconv.FormatInt(iv.IntValue, 10)
			} else {
				m[kv.Key] = v.String()
			}
		}
	}
	return m
}

// TestSameRequestAsOtelHTTP compares, field by field, the OTLP requests
// otelhttp + otlptracehttp and Sidelight + exporter/otlp send for one
// request. Fields that must match are checked one by one; the attributes
// that differ are listed here, so that any new difference fails the test.
func TestSameRequestAsOtelHTTP(t *testing.T) {
	oRS, o := viaOtelHTTP(t)
	sRS, s := viaSidelight(t)

	// Identity and shape.
	if !bytes.Equal(o.TraceId, s.TraceId) {
		t.Errorf("trace ID: otelhttp %x, Sidelight %x", o.TraceId, s.TraceId)
	}
	if want, _ := xray.ParseSpanID(incomingParent); !bytes.Equal(o.ParentSpanId, want[:]) || !bytes.Equal(s.ParentSpanId, want[:]) {
		t.Errorf("parent: otelhttp %x, Sidelight %x, want %s", o.ParentSpanId, s.ParentSpanId, incomingParent)
	}
	if len(s.SpanId) != 8 || bytes.Equal(o.SpanId, s.SpanId) {
		t.Errorf("span IDs %x %x", o.SpanId, s.SpanId)
	}
	if o.Kind != s.Kind || s.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("kind: otelhttp %v, Sidelight %v", o.Kind, s.Kind)
	}
	if o.Flags != s.Flags {
		t.Errorf("flags: otelhttp %#x, Sidelight %#x", o.Flags, s.Flags)
	}
	if o.GetStatus().GetCode() != s.GetStatus().GetCode() {
		t.Errorf("status: otelhttp %v, Sidelight %v", o.Status, s.Status)
	}
	if len(o.Events) != len(s.Events) || len(o.Links) != len(s.Links) {
		t.Errorf("events %d/%d, links %d/%d", len(o.Events), len(s.Events), len(o.Links), len(s.Links))
	}
	for _, sp := range []*tracepb.Span{o, s} {
		if sp.EndTimeUnixNano < sp.StartTimeUnixNano || sp.StartTimeUnixNano == 0 {
			t.Errorf("times %d..%d", sp.StartTimeUnixNano, sp.EndTimeUnixNano)
		}
	}

	// Resource: the service is named alike; the SDK adds its own
	// telemetry.sdk.* attributes.
	oRes, sRes := attrs(oRS.Resource.Attributes), attrs(sRS.Resource.Attributes)
	if oRes["service.name"] != "checkout" || sRes["service.name"] != "checkout" {
		t.Errorf("service.name: otelhttp %q, Sidelight %q", oRes["service.name"], sRes["service.name"])
	}
	compareKeys(t, "resource", oRes, sRes,
		[]string{"telemetry.sdk.language", "telemetry.sdk.name", "telemetry.sdk.version"}, nil)

	// Span attributes: the same value under the same key, or a listed
	// difference.
	oa, sa := attrs(o.Attributes), attrs(s.Attributes)
	for _, k := range []string{"http.request.method", "user_agent.original", "http.response.status_code", "http.response.body.size"} {
		if oa[k] == "" || oa[k] != sa[k] {
			t.Errorf("%s: otelhttp %q, Sidelight %q", k, oa[k], sa[k])
		}
	}
	compareKeys(t, "span", oa, sa,
		// otelhttp writes the URL in parts (without the query), the client
		// address from X-Forwarded-For and the connection's details.
		[]string{"client.address", "network.peer.address", "network.peer.port", "network.protocol.version", "server.address", "url.path", "url.scheme"},
		// Sidelight writes what the X-Ray document holds: the full URL
		// (without the query), the forwarded client IP, and the route as an
		// annotation.
		[]string{"aws.xray.annotations", "http.client_ip", "route", "url.full"})
	if sa["http.client_ip"] != oa["client.address"] || sa["url.full"] != "http://api.example.com/users/42" || sa["route"] != "GET /users/{id}" {
		t.Errorf("Sidelight attributes %v", sa)
	}
	// X-Ray names a segment by its service; otelhttp names the span by
	// method and route.
	if o.Name != "GET /users/{id}" || s.Name != "checkout" {
		t.Errorf("span name: otelhttp %q, Sidelight %q", o.Name, s.Name)
	}
	t.Logf("scope: otelhttp %q %q, Sidelight %q", oRS.ScopeSpans[0].Scope.GetName(), oRS.ScopeSpans[0].Scope.GetVersion(), sRS.ScopeSpans[0].Scope.GetName())
}

// compareKeys checks that the keys only one side has are exactly the
// listed ones, and that shared keys hold the same value.
func compareKeys(t *testing.T, what string, o, s map[string]string, onlyOtel, onlySidelight []string) {
	t.Helper()
	var gotO, gotS []string
	for k, v := range o {
		if sv, ok := s[k]; !ok {
			gotO = append(gotO, k)
		} else if sv != v {
			t.Errorf("%s attribute %s: otelhttp %q, Sidelight %q", what, k, v, sv)
		}
	}
	for k := range s {
		if _, ok := o[k]; !ok {
			gotS = append(gotS, k)
		}
	}
	sort.Strings(gotO)
	sort.Strings(gotS)
	sort.Strings(onlyOtel)
	sort.Strings(onlySidelight)
	if strings.Join(gotO, ",") != strings.Join(onlyOtel, ",") {
		t.Errorf("%s attributes only otelhttp writes: %v, listed %v (values %v)", what, gotO, onlyOtel, o)
	}
	if strings.Join(gotS, ",") != strings.Join(onlySidelight, ",") {
		t.Errorf("%s attributes only Sidelight writes: %v, listed %v (values %v)", what, gotS, onlySidelight, s)
	}
}
