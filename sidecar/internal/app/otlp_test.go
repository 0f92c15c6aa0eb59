package app_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
)

// otlpHTTPClient is the exporter's HTTP client, its idle connections
// closed when the test ends (goleak).
func otlpHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// sentTrace is a SERVER span and its CLIENT child, as an instrumented
// HTTP service makes them.
type sentTrace struct{ server, client trace.SpanContext }

// sendTrace records the two spans with a TracerProvider exporting through
// exp, and flushes them.
func sendTrace(t *testing.T, exp sdktrace.SpanExporter, service string) sentTrace {
	t.Helper()
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	tr := tp.Tracer("sidelight/app-test")
	ctx, srv := tr.Start(context.Background(), "GET /cart/{id}", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("url.full", "http://shop.local/cart/42"),
			attribute.Int("http.response.status_code", 200)))
	_, cli := tr.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("server.address", "inventory.internal"),
			attribute.String("url.full", "http://inventory.internal/stock/42"), attribute.Int("http.response.status_code", 503)))
	cli.End()
	srv.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("exporting to the sidecar: %v", err)
	}
	return sentTrace{server: srv.SpanContext(), client: cli.SpanContext()}
}

// xrayTraceID is a W3C trace ID in X-Ray's form.
func xrayTraceID(id trace.TraceID) string {
	h := hex.EncodeToString(id[:])
	return "1-" + h[:8] + "-" + h[8:]
}

type xrayDoc struct {
	TraceID   string `json:"trace_id"`
	ID        string `json:"id"`
	ParentID  string `json:"parent_id"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Fault     bool   `json:"fault"`
	HTTP      struct {
		Request struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
		Response struct {
			Status int `json:"status"`
		} `json:"response"`
	} `json:"http"`
	AWS struct {
		ECS struct {
			TaskARN string `json:"task_arn"`
		} `json:"ecs"`
	} `json:"aws"`
}

// docsByID decodes the documents X-Ray received, by id.
func docsByID(t *testing.T, raw []string) map[string]xrayDoc {
	t.Helper()
	m := map[string]xrayDoc{}
	for _, r := range raw {
		var d xrayDoc
		if err := json.Unmarshal([]byte(r), &d); err != nil {
			t.Fatalf("X-Ray received %q: %v", r, err)
		}
		if err := schematest.Segment([]byte(r)); err != nil {
			t.Fatalf("X-Ray received a document that fails the schema: %v\n%s", err, r)
		}
		m[d.ID] = d
	}
	return m
}

// checkTrace checks the X-Ray documents of one sent trace.
func checkTrace(t *testing.T, how string, docs map[string]xrayDoc, s sentTrace, service string, ecs bool) {
	t.Helper()
	seg, ok := docs[s.server.SpanID().String()]
	if !ok {
		t.Fatalf("%s: the SERVER span %s did not reach X-Ray", how, s.server.SpanID())
	}
	sub, ok := docs[s.client.SpanID().String()]
	if !ok {
		t.Fatalf("%s: the CLIENT span %s did not reach X-Ray", how, s.client.SpanID())
	}
	tid := xrayTraceID(s.server.TraceID())
	if seg.TraceID != tid || seg.Type != "" || seg.ParentID != "" || seg.Name != service ||
		seg.HTTP.Request.Method != "GET" || seg.HTTP.Request.URL != "http://shop.local/cart/42" || seg.HTTP.Response.Status != 200 {
		t.Errorf("%s: segment %+v, want trace %s named %s with its http block", how, seg, tid, service)
	}
	if ecs != (seg.AWS.ECS.TaskARN != "") {
		t.Errorf("%s: segment's aws.ecs %+v, ECS metadata expected: %v", how, seg.AWS.ECS, ecs)
	}
	if sub.TraceID != tid || sub.Type != "subsegment" || sub.ParentID != seg.ID || sub.Name != "inventory.internal" ||
		sub.Namespace != "remote" || !sub.Fault || sub.HTTP.Response.Status != 503 || sub.HTTP.Request.URL != "http://inventory.internal/stock/42" {
		t.Errorf("%s: subsegment %+v, want a remote subsegment of %s", how, sub, seg.ID)
	}
}

// TestOTLPTracesToXRay: the OpenTelemetry SDK's own OTLP/HTTP and
// OTLP/gRPC exporters send a SERVER span and its CLIENT child to a sidecar
// in AWS mode, while an X-Ray SDK style UDP segment arrives too. The fake
// X-Ray (real PutTraceSegments wire protocol, SigV4 checked) receives
// each as an X-Ray document: the trace ID in X-Ray's form, the CLIENT span
// a subsegment of the SERVER span's segment, the http blocks, and the ECS
// task's metadata merged into segments as for UDP traffic.
func TestOTLPTracesToXRay(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	task := &ecsmeta.Task{Cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/prod", TaskARN: "arn:aws:ecs:us-east-1:111122223333:task/prod/abc",
		Family: "checkout", Revision: "7", LaunchType: "FARGATE"}
	a := startAWS(t, fake, testConfig(), task)
	addrs := a.Addrs()
	if addrs["otlp_http"] == "" || addrs["otlp_grpc"] == "" {
		t.Fatalf("OTLP listeners missing from %v", addrs)
	}
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
	udp := segmentDoc(7)
	sendUDP(t, addrs["xray_udp"], []string{header + udp})
	wg.Wait()

	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := fake.WaitFor(wctx, func() bool { return fake.SegmentCount() >= 5 }); err != nil {
		t.Fatalf("%v: %d of 5 documents arrived; counters %v", err, fake.SegmentCount(), a.Counters().Snapshot())
	}
	st := getStatus(t, addrs["status"])
	shutdown(t, a)
	if st.Counters["otlp.accepted.spans"] != 4 || st.Info["addr_otlp_http"] != addrs["otlp_http"] || st.Info["addr_otlp_grpc"] != addrs["otlp_grpc"] {
		t.Errorf("/status does not show the OTLP receiver: %+v", st)
	}
	for _, name := range []string{"otlp.refused.budget_full", "otlp.untranslated.bad_trace_id", "otlp.unsupported.data_points"} {
		if _, ok := st.Counters[name]; !ok {
			t.Errorf("/status lacks %s", name)
		}
	}
	docs := docsByID(t, fake.Segments())
	checkTrace(t, "OTLP/HTTP", docs, viaHTTP, "checkout-http", true)
	checkTrace(t, "OTLP/gRPC", docs, viaGRPC, "checkout-grpc", true)
	if _, ok := docs[fmt1(7)]; !ok || len(docs) != 5 || fake.Invalid() != 0 {
		t.Fatalf("want the UDP segment and the 4 spans, once each; got %d documents (%d invalid requests)", len(docs), fake.Invalid())
	}
	cs := a.Counters()
	for name, want := range map[string]uint64{"otlp.requests.http": 2, "otlp.requests.grpc": 2, // a syncer exports each span as it ends
		"otlp.accepted.spans": 4,
		"otlp.rejected.spans": 0, "segments.accepted": 1, "segments.received": 5, "segments.sent": 5} {
		if got := cs.Get(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

// fmt1 is the id of segmentDoc(i).
func fmt1(i int) string {
	var d xrayDoc
	_ = json.Unmarshal([]byte(segmentDoc(i)), &d)
	return d.ID
}

// TestOTLPTracesInLocalView: in local mode, spans exported over OTLP/HTTP
// by an exporter configured only with OTEL_EXPORTER_OTLP_ENDPOINT show up
// in the local view's trace list, under their service.
func TestOTLPTracesInLocalView(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	// What the README tells any OpenTelemetry app to set (the exporter
	// adds /v1/traces).
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+a.Addrs()["otlp_http"])
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	sent := sendTrace(t, exp, "cart-local")
	want := xrayTraceID(sent.server.TraceID())
	client := otlpHTTPClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		var list struct {
			Traces []struct {
				ID         string `json:"id"`
				Service    string `json:"service"`
				Documents  int    `json:"documents"`
				HTTPStatus int    `json:"http_status"`
			} `json:"traces"`
		}
		resp, err := client.Get(a.Addrs()["ui"] + "api/traces")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range list.Traces {
			// The two documents reach the view one at a time: wait for
			// both before judging the summary.
			if tr.ID == want && tr.Documents >= 2 {
				if tr.Service != "cart-local" || tr.Documents != 2 || tr.HTTPStatus != 200 {
					t.Fatalf("trace in the view: %+v", tr)
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("trace %s not in the view: %+v; counters %v", want, list, a.Counters().Snapshot())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestOTLPBudgetFullAsksSDKToRetry: with X-Ray hanging and the memory
// budget full of UDP segments, an OTLP export is refused with 429 rather
// than accepted and dropped; the SDK exporter retries, and once X-Ray
// answers again its spans arrive.
func TestOTLPBudgetFullAsksSDKToRetry(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.Hang(fakeaws.XRay, true)
	c := testConfig()
	c.MemoryBudget = 64 << 10
	c.XRayWorkers = 1
	a := startAWS(t, fake, c, nil)
	cs := a.Counters()
	sendSegments(t, a.Addrs()["xray_udp"], 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor := func(what string, cond func() bool) { t.Helper(); waitCounters(t, ctx, a, what, cond) }
	waitFor("budget full of UDP segments", func() bool { return cs.Get("segments.dropped.budget_full") > 0 })

	refused := make(chan struct{})
	var once sync.Once
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(a.Addrs()["otlp_http"]), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := otlpTransport.RoundTrip(r)
			if err == nil && resp.StatusCode == http.StatusTooManyRequests {
				once.Do(func() { close(refused) })
			}
			return resp, err
		})}),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 25 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(otlpTransport.CloseIdleConnections)
	done := make(chan sentTrace, 1)
	go func() { done <- sendTrace(t, exp, "retried") }()
	select {
	case <-refused: // the SDK got 429 at least once
	case sent := <-done:
		t.Fatalf("trace %s accepted with the budget full: %v", sent.server.TraceID(), cs.Snapshot())
	case <-ctx.Done():
		t.Fatalf("no 429: %v", cs.Snapshot())
	}
	if got := cs.Get("otlp.refused.budget_full"); got == 0 || cs.Get("otlp.accepted.spans") != 0 {
		t.Fatalf("429 without a budget_full refusal counted, or spans accepted: %v", cs.Snapshot())
	}
	fake.Hang(fakeaws.XRay, false)
	var sent sentTrace
	select {
	case sent = <-done:
	case <-ctx.Done():
		t.Fatalf("the SDK's export did not succeed after X-Ray recovered: %v", cs.Snapshot())
	}
	waitFor("the retried spans reach X-Ray", func() bool {
		docs := docsByID(t, fake.Segments())
		_, a := docs[sent.server.SpanID().String()]
		_, b := docs[sent.client.SpanID().String()]
		return a && b
	})
	shutdown(t, a)
	if cs.Get("otlp.accepted.spans") != 2 || cs.Get("otlp.rejected.spans") != 0 {
		t.Fatalf("counters %v", cs.Snapshot())
	}
}

var otlpTransport = &http.Transport{}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOTLPMetricsRefusedClearly: when EMF goes to CloudWatch Logs
// (-emf-to-logs, no PutMetricData pipeline), the SDK's OTLP metrics
// exporter gets a permanent error (400, not retried) that says metrics are
// not supported and to send EMF; its data points are counted.
func TestOTLPMetricsRefusedClearly(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	c := testConfig()
	c.EMFToLogs = true
	a := startAWS(t, fake, c, nil)
	defer shutdown(t, a)
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(a.Addrs()["otlp_http"]), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	counter, _ := mp.Meter("test").Int64Counter("orders")
	counter.Add(ctx, 3)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	err = exp.Export(ctx, &rm)
	if err == nil || !strings.Contains(err.Error(), "takes OTLP metrics only when") || !strings.Contains(err.Error(), "EMF") {
		t.Fatalf("export error %v, want the not-supported message", err)
	}
	_ = exp.Shutdown(ctx)
	_ = mp.Shutdown(ctx)
	cs := a.Counters()
	if cs.Get("otlp.unsupported.data_points") != 1 || cs.Get("otlp.refused.invalid") != 1 {
		t.Fatalf("counters %v", cs.Snapshot())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the exporter retried until its deadline")
	}
}

// TestOTLPShutdownLosesNothingAcknowledged: OTLP exports keep arriving
// while the sidecar shuts down. Every span the SDK's exporter saw
// acknowledged reaches X-Ray (the OTLP receiver stops with the other
// receivers, before the pipelines drain), and every export that was not
// acknowledged failed in a way SDKs retry (503 or no connection), never
// as a permanent 400.
func TestOTLPShutdownLosesNothingAcknowledged(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	a := startAWS(t, fake, testConfig(), nil)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(a.Addrs()["otlp_http"]), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHTTPClient(otlpHTTPClient(t)), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	for range 3000 {
		_, sp := tp.Tracer("t").Start(ctx, "op", trace.WithSpanKind(trace.SpanKindServer))
		sp.End()
	}
	_ = tp.Shutdown(ctx)
	spans := rec.Ended()

	var mu sync.Mutex
	var acked []string
	refused := map[string]int{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(spans); i += 4 {
				err := exp.ExportSpans(ctx, spans[i:i+1])
				mu.Lock()
				switch {
				case err == nil:
					acked = append(acked, spans[i].SpanContext().SpanID().String())
				case strings.Contains(err.Error(), "503"):
					refused["503"]++
				case strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "connection reset") ||
					strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "server closed idle connection"):
					refused["connection"]++
				default:
					refused[err.Error()]++
				}
				mu.Unlock()
			}
		})
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for a.Counters().Get("otlp.accepted.spans") < 200 {
		select {
		case <-wctx.Done():
			t.Fatalf("exports not arriving: %v", a.Counters().Snapshot())
		case <-time.After(5 * time.Millisecond):
		}
	}
	shutdown(t, a)
	wg.Wait()
	_ = exp.Shutdown(ctx)
	docs := docsByID(t, fake.Segments())
	for _, id := range acked {
		if _, ok := docs[id]; !ok {
			t.Fatalf("span %s acknowledged but not delivered (%d acknowledged, %d delivered)", id, len(acked), len(docs))
		}
	}
	for why, n := range refused {
		if why != "503" && why != "connection" {
			t.Errorf("%d exports failed with %q, not a retryable answer", n, why)
		}
	}
	if len(acked) == 0 || len(acked) == len(spans) || uint64(len(acked)) > a.Counters().Get("otlp.accepted.spans") {
		t.Fatalf("%d of %d acknowledged, %v refused; counters %v", len(acked), len(spans), refused, a.Counters().Snapshot())
	}
	t.Logf("%d acknowledged and delivered; refused: %v", len(acked), refused)
}
