package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// These tests send with the real OpenTelemetry Go SDK exporters.

// testSpans makes n ended spans with attributes and a parent.
func testSpans(n int) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := tp.Tracer("test")
	ctx, root := tr.Start(context.Background(), "root", trace.WithSpanKind(trace.SpanKindServer))
	for i := range n - 1 {
		_, sp := tr.Start(ctx, fmt.Sprintf("child-%d", i), trace.WithAttributes(attribute.Int("i", i), attribute.String("s", "x")))
		sp.End()
	}
	root.End()
	_ = tp.Shutdown(context.Background())
	return rec.Ended()
}

// checkSpans compares what the receiver delivered with what was sent.
func checkSpans(t *testing.T, rec *recorder, sent []sdktrace.ReadOnlySpan) {
	t.Helper()
	got := rec.spans()
	if len(got) != len(sent) {
		t.Fatalf("got %d spans, sent %d", len(got), len(sent))
	}
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range sent {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, g := range got {
		s, ok := byID[trace.SpanID(g.GetSpanId())]
		if !ok {
			t.Fatalf("span %x not sent", g.GetSpanId())
		}
		tid := s.SpanContext().TraceID()
		pid := s.Parent().SpanID()
		if g.GetName() != s.Name() || string(g.GetTraceId()) != string(tid[:]) ||
			(s.Parent().IsValid() && string(g.GetParentSpanId()) != string(pid[:])) ||
			len(g.GetAttributes()) != len(s.Attributes()) || g.GetStartTimeUnixNano() != uint64(s.StartTime().UnixNano()) {
			t.Errorf("span %s arrived as %v", s.Name(), g)
		}
	}
}

func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestSDKTraceHTTP(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []otlptracehttp.Option
	}{
		{"protobuf", nil},
		{"protobuf gzip", []otlptracehttp.Option{otlptracehttp.WithCompression(otlptracehttp.GzipCompression)}},
		{"json", []otlptracehttp.Option{otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON)}},
		{"json gzip", []otlptracehttp.Option{otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON), otlptracehttp.WithCompression(otlptracehttp.GzipCompression)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r, counters := start(t, Config{GRPCAddr: "off", Consumer: rec})
			opts := append([]otlptracehttp.Option{otlptracehttp.WithEndpoint(r.HTTPAddr().String()), otlptracehttp.WithInsecure(),
				otlptracehttp.WithHTTPClient(httpClient(t))}, tc.opts...)
			exp, err := otlptracehttp.New(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = exp.Shutdown(context.Background()) }()
			sent := testSpans(20)
			if err := exp.ExportSpans(context.Background(), sent); err != nil {
				t.Fatal(err)
			}
			checkSpans(t, rec, sent)
			if got := counters.Get("otlp.accepted.spans"); got != 20 {
				t.Errorf("otlp.accepted.spans = %d", got)
			}
		})
	}
}

func TestSDKTraceGRPC(t *testing.T) {
	rec := &recorder{}
	r, counters := start(t, Config{HTTPAddr: "off", Consumer: rec})
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(r.GRPCAddr().String()),
		otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	sent := testSpans(20)
	if err := exp.ExportSpans(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	checkSpans(t, rec, sent)
	if got := counters.Get("otlp.requests.grpc"); got != 1 {
		t.Errorf("otlp.requests.grpc = %d", got)
	}
}

// testMetrics collects a counter and a histogram with two attribute sets.
func testMetrics(t *testing.T) *metricdata.ResourceMetrics {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m := mp.Meter("test")
	c, _ := m.Int64Counter("requests")
	h, _ := m.Float64Histogram("latency")
	for _, route := range []string{"/a", "/b"} {
		c.Add(context.Background(), 3, metricAttr(route))
		h.Record(context.Background(), 0.25, metricAttr(route))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	_ = mp.Shutdown(context.Background())
	return &rm
}

func metricAttr(route string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("route", route))
}

func checkMetrics(t *testing.T, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.metrics) != 1 {
		t.Fatalf("%d metric requests", len(rec.metrics))
	}
	if n := countItems(rec.metrics[0]); n != 4 {
		t.Errorf("%d data points, want 4", n)
	}
	for _, mt := range rec.metrics[0].GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics() {
		switch mt.GetName() {
		case "requests":
			for _, p := range mt.GetSum().GetDataPoints() {
				if p.GetAsInt() != 3 {
					t.Errorf("requests point %v", p)
				}
			}
		case "latency":
			for _, p := range mt.GetHistogram().GetDataPoints() {
				if p.GetCount() != 1 || p.GetSum() != 0.25 {
					t.Errorf("latency point %v", p)
				}
			}
		default:
			t.Errorf("unexpected metric %q", mt.GetName())
		}
	}
}

func TestSDKMetricHTTP(t *testing.T) {
	rec := &recorder{}
	r, counters := start(t, Config{GRPCAddr: "off", Consumer: rec})
	exp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpoint(r.HTTPAddr().String()),
		otlpmetrichttp.WithInsecure(), otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression),
		otlpmetrichttp.WithHTTPClient(httpClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	if err := exp.Export(context.Background(), testMetrics(t)); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, rec)
	if got := counters.Get("otlp.accepted.data_points"); got != 4 {
		t.Errorf("otlp.accepted.data_points = %d", got)
	}
}

func TestSDKMetricGRPC(t *testing.T) {
	rec := &recorder{}
	r, _ := start(t, Config{HTTPAddr: "off", Consumer: rec})
	exp, err := otlpmetricgrpc.New(context.Background(), otlpmetricgrpc.WithEndpoint(r.GRPCAddr().String()),
		otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	if err := exp.Export(context.Background(), testMetrics(t)); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, rec)
}

func TestSDKLogHTTP(t *testing.T) {
	rec := &recorder{}
	r, counters := start(t, Config{GRPCAddr: "off", Consumer: rec})
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpoint(r.HTTPAddr().String()),
		otlploghttp.WithInsecure(), otlploghttp.WithCompression(otlploghttp.GzipCompression),
		otlploghttp.WithHTTPClient(httpClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sid := trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
	var recs []sdklog.Record
	for i := range 3 {
		var lr sdklog.Record
		lr.SetTimestamp(time.Unix(1700000000, int64(i)))
		lr.SetSeverity(otellog.SeverityWarn)
		lr.SetBody(attribute.StringValue(fmt.Sprintf("line %d", i)))
		lr.SetTraceID(tid)
		lr.SetSpanID(sid)
		recs = append(recs, lr)
	}
	if err := exp.Export(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.logs) != 1 || countItems(rec.logs[0]) != 3 {
		t.Fatalf("logs %v", rec.logs)
	}
	for i, lr := range rec.logs[0].GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords() {
		if lr.GetBody().GetStringValue() != fmt.Sprintf("line %d", i) || string(lr.GetTraceId()) != string(tid[:]) ||
			string(lr.GetSpanId()) != string(sid[:]) || lr.GetTimeUnixNano() != uint64(1700000000e9+i) {
			t.Errorf("log record %d arrived as %v", i, lr)
		}
	}
	if got := counters.Get("otlp.accepted.log_records"); got != 3 {
		t.Errorf("otlp.accepted.log_records = %d", got)
	}
}

// budgetFullOnce refuses the first call as budget full and accepts the rest.
func budgetFullOnce(call int64) (int64, string, error) {
	if call == 1 {
		return 0, "", ErrBudgetFull
	}
	return 0, "", nil
}

// TestSDKRetryOn429 shows the HTTP exporter resending after 429 +
// Retry-After, and the data arriving once.
func TestSDKRetryOn429(t *testing.T) {
	rec := &recorder{answer: budgetFullOnce}
	r, counters := start(t, Config{GRPCAddr: "off", Consumer: rec})
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(r.HTTPAddr().String()),
		otlptracehttp.WithInsecure(), otlptracehttp.WithHTTPClient(httpClient(t)),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond,
			MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 20 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	sent := testSpans(5)
	if err := exp.ExportSpans(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	if got := rec.calls.Load(); got != 2 {
		t.Errorf("consumer called %d times, want 2 (refused, then retried)", got)
	}
	checkSpans(t, rec, sent)
	if got := counters.Get("otlp.refused.budget_full"); got != 1 {
		t.Errorf("otlp.refused.budget_full = %d", got)
	}
}

// TestSDKRetryOnResourceExhausted: the gRPC exporter retries
// RESOURCE_EXHAUSTED only with RetryInfo, which the receiver sends.
func TestSDKRetryOnResourceExhausted(t *testing.T) {
	rec := &recorder{answer: budgetFullOnce}
	r, _ := start(t, Config{HTTPAddr: "off", Consumer: rec, RetryAfter: 20 * time.Millisecond})
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(r.GRPCAddr().String()),
		otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond,
			MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 20 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	sent := testSpans(5)
	if err := exp.ExportSpans(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	if got := rec.calls.Load(); got != 2 {
		t.Errorf("consumer called %d times, want 2", got)
	}
	checkSpans(t, rec, sent)
}

// TestSDKPartialSuccess: rejected counts and the message reach the
// exporter's caller, and the request is not resent.
func TestSDKPartialSuccess(t *testing.T) {
	rec := &recorder{answer: func(int64) (int64, string, error) { return 2, "2 spans older than 2 weeks", nil }}
	r, counters := start(t, Config{Consumer: rec})
	httpExp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(r.HTTPAddr().String()),
		otlptracehttp.WithInsecure(), otlptracehttp.WithHTTPClient(httpClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = httpExp.Shutdown(context.Background()) }()
	grpcExp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(r.GRPCAddr().String()), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = grpcExp.Shutdown(context.Background()) }()
	for name, export := range map[string]func(context.Context, []sdktrace.ReadOnlySpan) error{
		"http": httpExp.ExportSpans, "grpc": grpcExp.ExportSpans,
	} {
		err := export(context.Background(), testSpans(5))
		if err == nil || !strings.Contains(err.Error(), "2 spans older than 2 weeks") || !strings.Contains(err.Error(), "2 spans rejected") {
			t.Errorf("%s: error %v, want the partial success", name, err)
		}
	}
	if got := rec.calls.Load(); got != 2 {
		t.Errorf("consumer called %d times, want 2 (no resend)", got)
	}
	if a, j := counters.Get("otlp.accepted.spans"), counters.Get("otlp.rejected.spans"); a != 6 || j != 4 {
		t.Errorf("accepted %d rejected %d, want 6 and 4", a, j)
	}
}

// TestSDKPermanentErrorNotRetried: 400 / INVALID_ARGUMENT stop the
// exporter at once.
func TestSDKPermanentErrorNotRetried(t *testing.T) {
	rec := &recorder{answer: func(int64) (int64, string, error) { return 0, "", Invalid(errors.New("bad resource")) }}
	r, _ := start(t, Config{Consumer: rec})
	retry := otlptracehttp.RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxElapsedTime: 5 * time.Second}
	httpExp, _ := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(r.HTTPAddr().String()),
		otlptracehttp.WithInsecure(), otlptracehttp.WithHTTPClient(httpClient(t)), otlptracehttp.WithRetry(retry))
	defer func() { _ = httpExp.Shutdown(context.Background()) }()
	grpcExp, _ := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(r.GRPCAddr().String()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig(retry)))
	defer func() { _ = grpcExp.Shutdown(context.Background()) }()
	if err := httpExp.ExportSpans(context.Background(), testSpans(1)); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("http: %v", err)
	}
	if err := grpcExp.ExportSpans(context.Background(), testSpans(1)); err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Errorf("grpc: %v", err)
	}
	if got := rec.calls.Load(); got != 2 {
		t.Errorf("consumer called %d times, want 2 (no retries)", got)
	}
}
