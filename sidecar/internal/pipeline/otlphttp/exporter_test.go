package otlphttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/otlphttp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func traces(n int, at time.Time) *coltracepb.ExportTraceServiceRequest {
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		spans[i] = &tracepb.Span{TraceId: append([]byte{0x7f, byte(i >> 8), byte(i)}, bytes.Repeat([]byte{9}, 13)...), SpanId: []byte{1, 2, 3, 4, 5, 6, byte(i >> 8), byte(i)},
			Name: fmt.Sprintf("op-%d", i), Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(at.UnixNano()), EndTimeUnixNano: uint64(at.Add(time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{str("http.request.method", "GET")}}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "checkout")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "test"}, Spans: spans}},
	}}}
}

type setup struct {
	fake     *fakeaws.Server
	exp      *otlphttp.Exporter
	counters *status.Counters
}

func start(t *testing.T, fake *fakeaws.Server, mutate func(*otlphttp.Config)) setup {
	t.Helper()
	counters := status.NewCounters()
	cfg := otlphttp.Config{
		Name: "traces_otlp", Signal: otlphttp.Traces, Endpoint: fake.URL() + "/v1/traces",
		Credentials: credentials.NewStaticCredentialsProvider(fakeaws.AccessKeyID, fakeaws.SecretAccessKey, ""),
		SigningName: "xray", Region: fakeaws.Region, Limits: otlphttp.XRayLimits,
		Budget: queue.NewBudget(64 << 20), Counters: counters, FlushInterval: 20 * time.Millisecond,
		Backoff: retry.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	exp, err := otlphttp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = exp.Shutdown(ctx)
	})
	return setup{fake, exp, counters}
}

func (s setup) count(name string) uint64 { return s.counters.Counter(name).Load() }

// eventually polls cond (counters move after the fake answered).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}

func waitFor(t *testing.T, fake *fakeaws.Server, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fake.WaitFor(ctx, cond); err != nil {
		t.Fatal(err)
	}
}

// TestSignedTracesReachXRay: spans queued are sent signed (the fake
// recomputes the signature) and arrive with their IDs, names and
// attributes; the IAM action is xray:PutSpans.
func TestSignedTracesReachXRay(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	s := start(t, fake, nil)
	want := traces(3, time.Now())
	if rej, _, err := s.exp.QueueTraces(want); err != nil || rej != 0 {
		t.Fatal(rej, err)
	}
	eventually(t, func() bool { return s.count("traces_otlp.sent") == 3 })
	got := fake.OTLPTraces()
	rs := got[0].ResourceSpans[0]
	if !proto.Equal(rs.Resource, want.ResourceSpans[0].Resource) || rs.ScopeSpans[0].Scope.GetName() != "test" {
		t.Fatalf("resource or scope changed: %v", rs)
	}
	for i, sp := range rs.ScopeSpans[0].Spans {
		if !proto.Equal(sp, want.ResourceSpans[0].ScopeSpans[0].Spans[i]) {
			t.Fatalf("span %d changed:\n%v\n%v", i, sp, want.ResourceSpans[0].ScopeSpans[0].Spans[i])
		}
	}
	if fake.BadSignatures() != 0 || fake.Unsigned() != 0 || !slices.Equal(fake.Actions(), []string{"xray:PutSpans"}) {
		t.Fatalf("bad signatures %d (%s), actions %v", fake.BadSignatures(), fake.LastSignatureError(), fake.Actions())
	}
	if s.count("traces_otlp.sent") != 3 || s.count("traces_otlp.received") != 3 {
		t.Fatalf("counters %v", s.counters.Snapshot())
	}
}

// TestSplitsToXRayLimits: 1,200 spans go in requests of at most 500 (X-Ray's
// limits, with MaxItems lowered from 10,000 to keep the test quick);
// a span over 200 KB, one 15 days old, one with an all-zero trace ID and
// a resource over 16 KB are left out and reported as rejected, and the fake (which refuses any request
// breaking a limit) takes everything else.
func TestSplitsToXRayLimits(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	s := start(t, fake, func(c *otlphttp.Config) { c.Limits.MaxItems = 500 })
	now := time.Now()
	req := traces(1_200, now)
	spans := req.ResourceSpans[0].ScopeSpans[0].Spans
	spans[10].Attributes = append(spans[10].Attributes, str("big", strings.Repeat("x", 200_000)))
	spans[20].StartTimeUnixNano = uint64(now.Add(-15 * 24 * time.Hour).UnixNano())
	spans[30].TraceId = make([]byte, 16) // all zero: invalid
	bigRes := traces(2, now).ResourceSpans[0]
	bigRes.Resource.Attributes = append(bigRes.Resource.Attributes, str("huge", strings.Repeat("r", 16_000)))
	req.ResourceSpans = append(req.ResourceSpans, bigRes)
	rej, why, err := s.exp.QueueTraces(req)
	if err != nil || rej != 5 || why == "" {
		t.Fatalf("rejected %d (%q), err %v", rej, why, err)
	}
	eventually(t, func() bool { return s.count("traces_otlp.sent") == 1_197 })
	reqs := fake.OTLPTraces()
	for _, r := range reqs {
		n := 0
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
		if n > 500 {
			t.Fatalf("a request of %d spans", n)
		}
	}
	if len(reqs) < 3 || fake.Invalid() != 0 {
		t.Fatalf("%d requests, %d refused", len(reqs), fake.Invalid())
	}
	if s.count("traces_otlp.dropped.limits") != 5 {
		t.Fatalf("counters %v", s.counters.Snapshot())
	}
}

// TestRetriesAndPartialSuccess: throttling (429 with Retry-After) and 503
// are retried until delivered; a partial success's rejected spans are
// counted and not resent; a 400 drops the request, counted.
func TestRetriesAndPartialSuccess(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.SetRetryAfter(0)
	s := start(t, fake, nil)
	fake.Fail(fakeaws.XRay, 1, fakeaws.FaultThrottle)
	fake.Fail(fakeaws.XRay, 1, fakeaws.Fault503)
	if _, _, err := s.exp.QueueTraces(traces(5, time.Now())); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return s.count("traces_otlp.sent") == 5 })
	if s.count("traces_otlp.retried.throttled") != 5 || s.count("traces_otlp.retried.server_error") != 5 {
		t.Fatalf("counters %v", s.counters.Snapshot())
	}
	fake.RejectOTLP(fakeaws.XRay, 2)
	if _, _, err := s.exp.QueueTraces(traces(4, time.Now())); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return s.count("traces_otlp.rejected_by_endpoint") == 2 })
	if s.count("traces_otlp.sent") != 7 || fake.Requests("OTLPTraces") != 4 {
		t.Fatalf("counters %v, %d requests", s.counters.Snapshot(), fake.Requests("OTLPTraces"))
	}
	fake.Fail(fakeaws.XRay, 1, fakeaws.FaultBadRequest)
	if _, _, err := s.exp.QueueTraces(traces(3, time.Now())); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return s.count("traces_otlp.dropped.refused") == 3 })
}

// TestShutdownFlushesWithinDeadline: Shutdown sends what is queued; when
// the endpoint hangs past the deadline it returns an error and counts
// what was left.
func TestShutdownFlushesWithinDeadline(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	s := start(t, fake, func(c *otlphttp.Config) { c.FlushInterval = time.Hour })
	if _, _, err := s.exp.QueueTraces(traces(7, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.exp.Shutdown(context.Background()); err != nil || fake.SpanCount() != 7 {
		t.Fatalf("shutdown: %v, %d spans delivered", err, fake.SpanCount())
	}
	if _, _, err := s.exp.QueueTraces(traces(1, time.Now())); !errors.Is(err, otlphttp.ErrStopped) {
		t.Fatalf("after shutdown: %v", err)
	}

	s2 := start(t, fake, func(c *otlphttp.Config) { c.FlushInterval = time.Hour })
	fake.Hang(fakeaws.XRay, true)
	if _, _, err := s2.exp.QueueTraces(traces(6, time.Now())); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s2.exp.Shutdown(ctx); err == nil || s2.count("traces_otlp.dropped.shutdown") != 6 {
		t.Fatalf("shutdown against a hanging endpoint: %v, counters %v", err, s2.counters.Snapshot())
	}
}

// TestBudgetFullRefusesAll: a request that does not fit in the budget is
// refused whole (the OTLP client is told to retry) and nothing queued.
func TestBudgetFullRefusesAll(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.Hang(fakeaws.XRay, true)
	s := start(t, fake, func(c *otlphttp.Config) {
		c.Budget = queue.NewBudget(64 << 10)
		c.RequestTimeout = 100 * time.Millisecond
	})
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, _, err = s.exp.QueueTraces(traces(200, time.Now()))
	}
	if !errors.Is(err, otlphttp.ErrBudgetFull) {
		t.Fatalf("err = %v", err)
	}
	fake.Hang(fakeaws.XRay, false)
	if err := s.exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPlainEndpointWithHeaders: without credentials nothing is signed;
// the configured headers are sent; the body is gzip protobuf.
func TestPlainEndpointWithHeaders(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		b, _ := io.ReadAll(zr)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer srv.Close()
	counters := status.NewCounters()
	exp, err := otlphttp.New(otlphttp.Config{Name: "logs_otlp", Signal: otlphttp.Logs, Endpoint: srv.URL + "/v1/logs",
		Headers: map[string]string{"X-Scope-OrgID": "team-a"}, Budget: queue.NewBudget(1 << 20), Counters: counters})
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{
		LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hi"}}}}}}}}}
	if _, _, err := exp.QueueLogs(req); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Header.Get("X-Scope-OrgID") != "team-a" || got[0].Header.Get("Authorization") != "" ||
		got[0].Header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("requests %v", got)
	}
	var dec collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(bodies[0], &dec); err != nil || !proto.Equal(&dec, req) {
		t.Fatalf("body decodes to %v (%v)", &dec, err)
	}
}

// TestSignedLogsToCloudWatch: the logs endpoint gets the log group and
// stream headers, signed for "logs".
func TestSignedLogsToCloudWatch(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	s := start(t, fake, func(c *otlphttp.Config) {
		c.Name, c.Signal, c.Endpoint, c.SigningName, c.Limits = "logs_otlp", otlphttp.Logs, fake.URL()+"/v1/logs", "logs", otlphttp.CloudWatchLogsLimits
		c.Headers = map[string]string{"x-aws-log-group": "app", "x-aws-log-stream": "task-1"}
	})
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{
		LogRecords: []*logspb.LogRecord{{TimeUnixNano: uint64(time.Now().UnixNano()), SeverityText: "INFO",
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "order placed"}}}}}}}}}
	if _, _, err := s.exp.QueueLogs(req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fake, func() bool { return fake.LogRecordCount() == 1 })
	got := fake.OTLPLogs()[0]
	if got.LogGroup != "app" || got.LogStream != "task-1" || !proto.Equal(got.Request, req) {
		t.Fatalf("got %+v", got)
	}
	if !slices.Equal(fake.Actions(), []string{"logs:PutLogEvents"}) {
		t.Fatalf("actions %v", fake.Actions())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []otlphttp.Config{
		{},
		{Name: "x", Endpoint: "ftp://x", Budget: queue.NewBudget(1), Counters: status.NewCounters()},
		{Name: "x", Endpoint: "http://x", Budget: queue.NewBudget(1), Counters: status.NewCounters(), Headers: map[string]string{"a": "b\r\nc: d"}},
		{Name: "x", Endpoint: "http://x", Budget: queue.NewBudget(1), Counters: status.NewCounters(),
			Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
	} {
		if _, err := otlphttp.New(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

// TestSignedMetricsToCloudWatch: metrics go whole to CloudWatch's OTLP
// endpoint, signed for "monitoring"; the IAM action is
// cloudwatch:PutMetricData.
func TestSignedMetricsToCloudWatch(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	s := start(t, fake, func(c *otlphttp.Config) {
		c.Name, c.Signal, c.Endpoint, c.SigningName, c.Limits = "metrics_otlp", otlphttp.Metrics, fake.URL()+"/v1/metrics", "monitoring", otlphttp.DefaultLimits
	})
	req := &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricpb.ResourceMetrics{{ScopeMetrics: []*metricpb.ScopeMetrics{{
		Metrics: []*metricpb.Metric{{Name: "orders", Data: &metricpb.Metric_Sum{Sum: &metricpb.Sum{IsMonotonic: true,
			AggregationTemporality: metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
			DataPoints:             []*metricpb.NumberDataPoint{{Value: &metricpb.NumberDataPoint_AsInt{AsInt: 3}, TimeUnixNano: 1}}}}}}}}}}}
	if _, _, err := s.exp.QueueMetrics(req); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return s.count("metrics_otlp.sent") == 1 })
	if got := fake.OTLPMetrics(); len(got) != 1 || !proto.Equal(got[0], req) || !slices.Equal(fake.Actions(), []string{"cloudwatch:PutMetricData"}) {
		t.Fatalf("got %v, actions %v", got, fake.Actions())
	}
	if _, _, err := s.exp.QueueTraces(traces(1, time.Now())); err == nil {
		t.Fatal("a metrics exporter took traces")
	}
}

// BenchmarkQueueTraces512: intake (split, encode and queue) of an
// SDK-sized request of 512 spans, without sending.
func BenchmarkQueueTraces512(b *testing.B) {
	exp, err := otlphttp.New(otlphttp.Config{Name: "bench", Signal: otlphttp.Traces, Endpoint: "http://127.0.0.1:1/v1/traces",
		Limits: otlphttp.XRayLimits, Budget: queue.NewBudget(1 << 30), Counters: status.NewCounters()})
	if err != nil {
		b.Fatal(err)
	}
	req := traces(512, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := exp.QueueTraces(req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
	if err := exp.Shutdown(context.Background()); err != nil { // not started: drops what is queued
		b.Fatal(err)
	}
}

// BenchmarkQueueTracesRaw512 is BenchmarkQueueTraces512 for the same
// request's encoding through QueueTracesRaw; "decoded" adds the
// proto.Unmarshal that QueueTraces needs first when a request arrives as
// protobuf (what the sidecar did before QueueTracesRaw).
func BenchmarkQueueTracesRaw512(b *testing.B) {
	exp, err := otlphttp.New(otlphttp.Config{Name: "bench", Signal: otlphttp.Traces, Endpoint: "http://127.0.0.1:1/v1/traces",
		Limits: otlphttp.XRayLimits, Budget: queue.NewBudget(1 << 30), Counters: status.NewCounters()})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := proto.Marshal(traces(512, time.Now()))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := exp.QueueTracesRaw(enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
	})
	b.Run("decoded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := new(coltracepb.ExportTraceServiceRequest)
			if err := proto.Unmarshal(enc, req); err != nil {
				b.Fatal(err)
			}
			if _, _, err := exp.QueueTraces(req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
	})
	if err := exp.Shutdown(context.Background()); err != nil { // not started: drops what is queued
		b.Fatal(err)
	}
}
