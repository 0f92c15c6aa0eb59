package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
)

// spansByID flattens the spans the fake's OTLP trace endpoint took, with
// their resources' service.name.
func spansByID(fake *fakeaws.Server) (map[string]*tracepb.Span, map[string]string) {
	spans, services := map[string]*tracepb.Span{}, map[string]string{}
	for _, r := range fake.OTLPTraces() {
		for _, rs := range r.ResourceSpans {
			svc := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					svc = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					id := hex.EncodeToString(sp.SpanId)
					spans[id], services[id] = sp, svc
				}
			}
		}
	}
	return spans, services
}

func attr(sp *tracepb.Span, key string) *commonpb.AnyValue {
	for _, kv := range sp.Attributes {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// checkSpans: both spans of s arrived as sent: IDs, parent, names, kind
// and attributes.
func checkSpans(t *testing.T, how string, spans map[string]*tracepb.Span, services map[string]string, s sentTrace, service string) {
	t.Helper()
	srv, cli := spans[s.server.SpanID().String()], spans[s.client.SpanID().String()]
	if srv == nil || cli == nil {
		t.Fatalf("%s: spans missing (have %d)", how, len(spans))
	}
	tid := s.server.TraceID()
	if !bytes.Equal(srv.TraceId, tid[:]) || !bytes.Equal(cli.TraceId, tid[:]) || hex.EncodeToString(cli.ParentSpanId) != s.server.SpanID().String() {
		t.Errorf("%s: IDs changed: %x %x parent %x", how, srv.TraceId, cli.TraceId, cli.ParentSpanId)
	}
	if srv.Name != "GET /cart/{id}" || srv.Kind != tracepb.Span_SPAN_KIND_SERVER || cli.Name != "GET" || cli.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("%s: names or kinds changed: %q %v, %q %v", how, srv.Name, srv.Kind, cli.Name, cli.Kind)
	}
	if attr(srv, "url.full").GetStringValue() != "http://shop.local/cart/42" || attr(cli, "http.response.status_code").GetIntValue() != 503 ||
		attr(cli, "server.address").GetStringValue() != "inventory.internal" {
		t.Errorf("%s: attributes changed: %v / %v", how, srv.Attributes, cli.Attributes)
	}
	if services[hex.EncodeToString(srv.SpanId)] != service {
		t.Errorf("%s: service.name %q, want %q", how, services[hex.EncodeToString(srv.SpanId)], service)
	}
}

// udpSegment is an X-Ray segment as aws-xray-sdk-go's emitter sends it
// (header line, then the document), timed now so that X-Ray's OTLP
// endpoint takes it.
func udpSegment(now time.Time, i int) (traceID, id, doc string) {
	traceID = fmt.Sprintf("1-%08x-%024x", now.Unix(), i+1)
	id = fmt.Sprintf("%016x", i+0xabc000)
	doc = fmt.Sprintf(`{"trace_id":%q,"id":%q,"start_time":%.3f,"end_time":%.3f,"name":"legacy-svc",`+
		`"http":{"request":{"method":"POST","url":"http://legacy/pay"},"response":{"status":201}},`+
		`"annotations":{"order":"o-%d"},"aws":{"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}}}`,
		traceID, id, float64(now.UnixMilli())/1000, float64(now.UnixMilli()+20)/1000, i)
	return traceID, id, `{"format":"json","version":1}` + "\n" + doc
}

// TestTracesToXRayOTLPEndpoint: with -traces-exporter xray-otlp, spans
// from the real otlptracehttp and otlptracegrpc exporters reach X-Ray's
// OTLP endpoint as they were sent, and an X-Ray SDK's UDP segment arrives
// there as a span, all signed (the fake recomputes every signature) and
// nothing through PutTraceSegments.
func TestTracesToXRayOTLPEndpoint(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	c := testConfig()
	c.TracesExporter = config.ExporterXRayOTLP
	a := startAWS(t, fake, c, nil)
	addrs := a.Addrs()
	ctx := context.Background()
	httpExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(addrs["otlp_http"]), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addrs["otlp_grpc"]), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var viaHTTP, viaGRPC sentTrace
	wg.Go(func() { viaHTTP = sendTrace(t, httpExp, "checkout-http") })
	wg.Go(func() { viaGRPC = sendTrace(t, grpcExp, "checkout-grpc") })
	udpTrace, udpID, pkt := udpSegment(time.Now(), 7)
	sendUDP(t, addrs["xray_udp"], []string{pkt})
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := fake.WaitFor(wctx, func() bool { return fake.SpanCount() >= 5 }); err != nil {
		t.Fatalf("%v: %d of 5 spans arrived; counters %v", err, fake.SpanCount(), a.Counters().Snapshot())
	}
	shutdown(t, a)
	spans, services := spansByID(fake)
	checkSpans(t, "OTLP/HTTP", spans, services, viaHTTP, "checkout-http")
	checkSpans(t, "OTLP/gRPC", spans, services, viaGRPC, "checkout-grpc")
	udp := spans[udpID]
	if udp == nil || hex.EncodeToString(udp.TraceId) != strings.ReplaceAll(udpTrace[2:], "-", "") || udp.Kind != tracepb.Span_SPAN_KIND_SERVER ||
		services[udpID] != "legacy-svc" || attr(udp, "http.request.method").GetStringValue() != "POST" {
		t.Fatalf("UDP segment arrived as %v (service %q)", udp, services[udpID])
	}
	if len(spans) != 5 || fake.SegmentCount() != 0 || fake.Invalid() != 0 || fake.BadSignatures() != 0 || fake.Unsigned() != 0 {
		t.Fatalf("%d spans, %d segments, %d invalid, %d badly signed (%s)", len(spans), fake.SegmentCount(), fake.Invalid(), fake.BadSignatures(), fake.LastSignatureError())
	}
	if got := fake.Actions(); !slices.Equal(got, []string{"xray:PutSpans"}) {
		t.Fatalf("IAM actions %v", got)
	}
	cs := a.Counters()
	if cs.Get("traces_otlp.sent") != 5 || cs.Get("otlp.accepted.spans") != 4 {
		t.Fatalf("counters %v", cs.Snapshot())
	}
}

// TestTracesToPlainOTLPEndpoint: -traces-exporter otlp sends unsigned,
// with the configured headers, to any OTLP/HTTP endpoint.
func TestTracesToPlainOTLPEndpoint(t *testing.T) {
	var mu sync.Mutex
	var auth, tenant []string
	fake := fakeaws.New() // the AWS side of the sidecar (sampling proxy, EMF)
	defer fake.Close()
	collector := newCollector(t, func(r *http.Request) {
		mu.Lock()
		auth, tenant = append(auth, r.Header.Get("Authorization")), append(tenant, r.Header.Get("X-Scope-OrgID"))
		mu.Unlock()
	})
	c := testConfig()
	c.TracesExporter, c.TracesEndpoint = config.ExporterOTLP, collector.url+"/v1/traces"
	c.TracesHeaders = map[string]string{"X-Scope-OrgID": "team-a"}
	a := startAWS(t, fake, c, nil)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(a.Addrs()["otlp_http"]), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	sent := sendTrace(t, exp, "tempo-bound")
	shutdown(t, a)
	spans := collector.spans()
	if len(spans) != 2 || spans[sent.server.SpanID().String()] == nil {
		t.Fatalf("collector got %d spans", len(spans))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) == 0 || auth[0] != "" || tenant[0] != "team-a" {
		t.Fatalf("Authorization %q, X-Scope-OrgID %q", auth, tenant)
	}
}

// collector is a minimal OTLP/HTTP trace endpoint (gzip protobuf).
type collector struct {
	url string
	mu  sync.Mutex
	got []*coltracepb.ExportTraceServiceRequest
}

func newCollector(t *testing.T, seen func(*http.Request)) *collector {
	c := &collector{}
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen(r)
		var req coltracepb.ExportTraceServiceRequest
		if err := readOTLP(r, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.got = append(c.got, &req)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	c.url = srv
	return c
}

func (c *collector) spans() map[string]*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*tracepb.Span{}
	for _, r := range c.got {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					out[hex.EncodeToString(sp.SpanId)] = sp
				}
			}
		}
	}
	return out
}

// sendLogs emits records with the real otlploghttp exporter.
func sendLogs(t *testing.T, endpoint string, res *resource.Resource, n int, span trace.SpanContext) {
	t.Helper()
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpoint(endpoint), otlploghttp.WithInsecure(),
		otlploghttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(res))
	logger := lp.Logger("sidelight/app-test")
	ctx := trace.ContextWithSpanContext(context.Background(), span)
	for i := range n {
		var r otellog.Record
		r.SetTimestamp(time.Now())
		r.SetSeverity(otellog.SeverityWarn)
		r.SetSeverityText("WARN")
		r.SetBody(attribute.StringValue(fmt.Sprintf("payment retried %d", i)))
		r.AddAttributes(attribute.Int("attempt", i))
		logger.Emit(ctx, r)
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatalf("exporting logs to the sidecar: %v", err)
	}
}

var logSpan = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x5b, 0x8e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14},
	SpanID: trace.SpanID{0xee, 0xe1, 1, 2, 3, 4, 5, 6}, TraceFlags: trace.FlagsSampled})

// TestOTLPLogsToPutLogEvents: records from the real otlploghttp exporter
// (refused before this exporter existed) reach PutLogEvents in the group
// their resource names (aws.log.group.names), one JSON event per record
// with body, severity, trace and span IDs and attributes.
func TestOTLPLogsToPutLogEvents(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	c := testConfig()
	c.LogStream = "task-9"
	a := startAWS(t, fake, c, nil)
	res := resource.NewSchemaless(attribute.String("service.name", "payments"), attribute.StringSlice("aws.log.group.names", []string{"/app/payments"}))
	sendLogs(t, a.Addrs()["otlp_http"], res, 3, logSpan)
	shutdown(t, a)
	var events []fakeaws.LogEvent
	for _, r := range fake.LogRequests() {
		if r.LogGroupName != "/app/payments" || r.LogStreamName != "task-9" {
			t.Fatalf("sent to %s/%s", r.LogGroupName, r.LogStreamName)
		}
		events = append(events, r.LogEvents...)
	}
	if len(events) != 3 {
		t.Fatalf("%d events; counters %v", len(events), a.Counters().Snapshot())
	}
	for i, e := range events {
		var m struct {
			Body         string         `json:"body"`
			SeverityText string         `json:"severity_text"`
			TraceID      string         `json:"trace_id"`
			SpanID       string         `json:"span_id"`
			Attributes   map[string]any `json:"attributes"`
			Resource     map[string]any `json:"resource"`
		}
		if err := json.Unmarshal([]byte(e.Message), &m); err != nil {
			t.Fatal(err)
		}
		if m.Body != fmt.Sprintf("payment retried %d", i) || m.SeverityText != "WARN" || m.TraceID != logSpan.TraceID().String() ||
			m.SpanID != logSpan.SpanID().String() || m.Attributes["attempt"] != float64(i) || m.Resource["service.name"] != "payments" {
			t.Fatalf("event %d: %s", i, e.Message)
		}
		if d := time.Since(time.UnixMilli(e.Timestamp)); d < 0 || d > time.Minute {
			t.Fatalf("event %d timestamp %d", i, e.Timestamp)
		}
	}
	if fake.BadSignatures() != 0 || !slices.Contains(fake.Actions(), "logs:PutLogEvents") {
		t.Fatalf("bad signatures %d, actions %v", fake.BadSignatures(), fake.Actions())
	}
}

// TestOTLPLogsToCloudWatchOTLPEndpoint: with -logs-exporter logs-otlp the
// records reach CloudWatch Logs' OTLP endpoint as sent, with the log
// group and stream headers (the resource's aws.log.group.names, or
// -otlp-log-group), signed for "logs".
func TestOTLPLogsToCloudWatchOTLPEndpoint(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	c := testConfig()
	c.LogsExporter, c.OTLPLogGroup, c.LogStream = config.ExporterLogsOTLP, "/app/otlp", "task-3"
	a := startAWS(t, fake, c, nil)
	sendLogs(t, a.Addrs()["otlp_http"], resource.NewSchemaless(attribute.String("service.name", "payments")), 4, logSpan)
	sendLogs(t, a.Addrs()["otlp_http"], resource.NewSchemaless(attribute.String("service.name", "audit"),
		attribute.StringSlice("aws.log.group.names", []string{"/app/audit"})), 2, logSpan)
	shutdown(t, a)
	var recs []*logspb.LogRecord
	audit := 0
	for _, r := range fake.OTLPLogs() {
		if r.LogGroup == "/app/audit" && r.LogStream == "task-3" {
			for _, rl := range r.Request.ResourceLogs {
				for _, sl := range rl.ScopeLogs {
					audit += len(sl.LogRecords)
				}
			}
			continue
		}
		if r.LogGroup != "/app/otlp" || r.LogStream != "task-3" {
			t.Fatalf("sent to %s/%s", r.LogGroup, r.LogStream)
		}
		for _, rl := range r.Request.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				recs = append(recs, sl.LogRecords...)
			}
		}
	}
	if len(recs) != 4 || audit != 2 {
		t.Fatalf("%d records in the default group, %d in the resource's; counters %v", len(recs), audit, a.Counters().Snapshot())
	}
	for i, r := range recs {
		if r.Body.GetStringValue() != fmt.Sprintf("payment retried %d", i) || hex.EncodeToString(r.TraceId) != logSpan.TraceID().String() ||
			hex.EncodeToString(r.SpanId) != logSpan.SpanID().String() || r.SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_WARN {
			t.Fatalf("record %d: %v", i, r)
		}
	}
	if got := fake.Actions(); !slices.Contains(got, "logs:PutLogEvents") || fake.BadSignatures() != 0 {
		t.Fatalf("actions %v, bad signatures %d (%s)", got, fake.BadSignatures(), fake.LastSignatureError())
	}
}

// TestOutageOnOneSignalSparesTheOther: X-Ray's OTLP endpoint hangs while
// spans keep coming; logs still reach CloudWatch Logs, and once X-Ray
// answers again the queued spans arrive too.
func TestOutageOnOneSignalSparesTheOther(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.Hang(fakeaws.XRay, true)
	c := testConfig()
	c.TracesExporter = config.ExporterXRayOTLP
	c.MemoryBudget = 2 << 20
	a := startAWS(t, fake, c, nil)
	addr := a.Addrs()["otlp_http"]
	var codes []int
	for i := range 40 { // about 2.5 MB of spans: more than the budget holds
		codes = append(codes, postOTLP(t, addr, "/v1/traces", spanRequest(200, i)))
	}
	if !slices.Contains(codes, http.StatusTooManyRequests) {
		t.Fatalf("the budget never filled: %v; counters %v", codes, a.Counters().Snapshot())
	}
	sendLogs(t, addr, resource.NewSchemaless(attribute.String("service.name", "payments")), 5, logSpan)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fake.WaitFor(ctx, func() bool { return len(fake.LogRequests()) > 0 }); err != nil {
		t.Fatalf("logs starved by the traces outage: %v; counters %v", err, a.Counters().Snapshot())
	}
	fake.Hang(fakeaws.XRay, false)
	shutdown(t, a)
	cs := a.Counters()
	if fake.SpanCount() == 0 || uint64(fake.SpanCount()) != cs.Get("traces_otlp.sent") || cs.Get("logs.events_sent") != 5 {
		t.Fatalf("%d spans arrived; counters %v", fake.SpanCount(), cs.Snapshot())
	}
}

// TestOTLPLogsBudgetFullIs429: when the memory budget cannot hold a logs
// request the client is told to retry later (429 + Retry-After).
func TestOTLPLogsBudgetFullIs429(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.Hang(fakeaws.Logs, true)
	c := testConfig()
	c.MemoryBudget = 1 << 20
	a := startAWS(t, fake, c, nil)
	var codes []int
	for i := range 12 { // 12 × 200 KB of messages against a 1 MiB budget
		codes = append(codes, postOTLP(t, a.Addrs()["otlp_http"], "/v1/logs", logRequest(200, 1000, i)))
	}
	fake.Hang(fakeaws.Logs, false)
	shutdown(t, a)
	if codes[0] != http.StatusOK || !slices.Contains(codes, http.StatusTooManyRequests) {
		t.Fatalf("answers %v; counters %v", codes, a.Counters().Snapshot())
	}
	if a.Counters().Get("otlp.refused.budget_full") == 0 {
		t.Fatalf("counters %v", a.Counters().Snapshot())
	}
}

func spanRequest(n, seed int) *coltracepb.ExportTraceServiceRequest {
	now := time.Now()
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		spans[i] = &tracepb.Span{TraceId: bytes.Repeat([]byte{byte(seed + 1), byte(i)}, 8), SpanId: []byte{1, 2, 3, 4, byte(seed), 0, byte(i >> 8), byte(i)},
			Name: strings.Repeat("n", 200), StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.UnixNano()) + 1000}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
}

func logRequest(n, size, seed int) *collogspb.ExportLogsServiceRequest {
	recs := make([]*logspb.LogRecord, n)
	for i := range recs {
		recs[i] = &logspb.LogRecord{TimeUnixNano: uint64(time.Now().UnixNano()),
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprintf("%d-%d ", seed, i) + strings.Repeat("x", size)}}}
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}}}}}
}

// postOTLP posts m as protobuf and returns the status.
func postOTLP(t *testing.T, addr, path string, m proto.Message) int {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := otlpHTTPClient(t).Post("http://"+addr+path, "application/x-protobuf", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	return resp.StatusCode
}

func newTestServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// readOTLP decodes a (possibly gzip) protobuf request body into m.
func readOTLP(r *http.Request, m proto.Message) error {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return err
		}
		body = zr
	}
	b, err := io.ReadAll(io.LimitReader(body, 16<<20))
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}

// TestShutdownOutageSparesOtherSignal: X-Ray's OTLP endpoint hangs
// through shutdown; the log records waiting in the PutLogEvents pipeline
// are still delivered within the deadline (each pipeline drains on its
// own, instead of the logs waiting for the traces' deadline to pass).
func TestShutdownOutageSparesOtherSignal(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.Hang(fakeaws.XRay, true)
	c := testConfig()
	c.TracesExporter = config.ExporterXRayOTLP
	a := startAWS(t, fake, c, nil)
	addr := a.Addrs()["otlp_http"]
	if code := postOTLP(t, addr, "/v1/traces", spanRequest(10, 1)); code != http.StatusOK {
		t.Fatalf("traces: %d", code)
	}
	if code := postOTLP(t, addr, "/v1/logs", logRequest(3, 10, 1)); code != http.StatusOK {
		t.Fatalf("logs: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err == nil {
		t.Fatal("shutdown met its deadline with X-Ray hanging")
	}
	cs := a.Counters()
	if cs.Get("logs.events_sent") != 3 || cs.Get("traces_otlp.dropped.shutdown") != 10 {
		t.Fatalf("counters %v", cs.Snapshot())
	}
	fake.Hang(fakeaws.XRay, false)
}
