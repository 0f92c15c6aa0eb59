package httpbench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	awsxray "github.com/aws/aws-xray-sdk-go/xray"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	xrayprop "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
	sidelightsampling "github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// The Realistic benchmarks serve the request issue 14 describes: a load
// balancer's X-Amzn-Trace-Id with Sampled=1, X-Forwarded-For and a
// browser's user agent, so that every variant continues the trace and
// records the client. Run them at GOMAXPROCS 1 and 2:
//
//	cd peers && go test -run '^$' -bench Realistic -cpu 1,2 ./httpbench/

// realisticRequest is built once per benchmark and served again and again.
func realisticRequest() *http.Request {
	r := httptest.NewRequest("GET", "http://api.example.com/users/42", nil)
	r.Header.Set("X-Amzn-Trace-Id", "Root=1-655b1e80-0102030405060708090a0b0c;Parent=53995c3f42cd8ad8;Sampled=1")
	r.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	r.RemoteAddr = "10.0.0.1:41234"
	return r
}

// runRealistic is run with the realistic request.
func runRealistic(b *testing.B, h http.Handler) int64 {
	req := realisticRequest()
	w := &writer{h: make(http.Header)}
	var n int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
		n++
	}
	b.StopTimer()
	reportCPU(b, cpu0, n)
	return n
}

// runOTLPSink is the OTLP/HTTP receiver process: it walks every request's
// protobuf to count the spans (field by field, without building messages,
// so that the sink takes little of the CPU the measured process shares;
// peers/otlpcompat decodes the same requests with the generated types).
func runOTLPSink() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	var count atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		n := -1
		if err == nil {
			n = countSpans(body)
		}
		if n < 0 {
			http.Error(w, "malformed ExportTraceServiceRequest", http.StatusBadRequest)
			return
		}
		count.Add(int64(n))
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	go srv.Serve(ln)
	answerCounts(&count)
}

// countSpans counts ExportTraceServiceRequest.resource_spans[].
// scope_spans[].spans, or returns -1 for malformed protobuf.
func countSpans(b []byte) int {
	n := 0
	ok := eachField(b, 1, func(rs []byte) bool {
		return eachField(rs, 2, func(ss []byte) bool {
			return eachField(ss, 2, func([]byte) bool { n++; return true })
		})
	})
	if !ok {
		return -1
	}
	return n
}

// eachField calls f with each length-delimited field numbered num.
func eachField(b []byte, num protowire.Number, f func([]byte) bool) bool {
	for len(b) > 0 {
		got, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if got == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 || !f(v) {
				return false
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(got, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return true
}

func BenchmarkRealisticBare(b *testing.B) {
	runRealistic(b, app())
}

func benchRules(b *testing.B) *sidelightsampling.Rules {
	rules, err := sidelightsampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		b.Fatal(err)
	}
	return rules
}

// BenchmarkRealisticSidelightUDP is the middleware with the X-Ray UDP
// emitter.
func BenchmarkRealisticSidelightUDP(b *testing.B) {
	s := startSink(b)
	e, err := xray.NewEmitter(xray.WithDaemonAddress(s.addr), xray.WithQueueSize(1<<16))
	if err != nil {
		b.Fatal(err)
	}
	h := middleware.HTTP(middleware.WithSegmentExporter(e), middleware.WithServiceName("bench"),
		middleware.WithSamplingRules(benchRules(b)), middleware.WithoutMetrics())(app())
	served := runRealistic(b, h)
	if err := e.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	report(b, served, s.count(b))
}

// BenchmarkRealisticSidelightOTLP is the middleware with exporter/otlp
// sending to an OTLP/HTTP receiver process, its queue also bounded at
// 65536 spans waiting (and 32 MiB, the default). This loop never blocks,
// so at GOMAXPROCS 1 the exporter's requests progress only when the
// scheduler preempts the loop (every 10 ms) and polls the network.
func BenchmarkRealisticSidelightOTLP(b *testing.B) {
	benchSidelightOTLP(b, otlp.WithQueueSize(1<<16, 32<<20))
}

// BenchmarkRealisticSidelightOTLPDefaults is the same with the exporter's
// defaults (a queue of 32 MiB of encoded spans, waiting or in flight; 512
// spans a request; up to 16 requests in flight).
func BenchmarkRealisticSidelightOTLPDefaults(b *testing.B) {
	benchSidelightOTLP(b)
}

func benchSidelightOTLP(b *testing.B, opts ...otlp.Option) {
	s := startSinkOf(b, "otlp")
	exp, err := otlp.New(append([]otlp.Option{otlp.WithEndpointURL("http://" + s.addr + "/v1/traces"),
		otlp.WithEnvironment(func(string) (string, bool) { return "", false })}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	h := middleware.HTTP(middleware.WithSegmentExporter(exp), middleware.WithServiceName("bench"),
		middleware.WithSamplingRules(benchRules(b)), middleware.WithoutMetrics())(app())
	served := runRealistic(b, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	st := exp.Stats()
	report(b, served, s.count(b))
	b.ReportMetric(float64(st.Dropped())/float64(served)*100, "dropped%")
	if st.Dropped() > 0 {
		b.Logf("dropped: %d queue full, %d requests failed (%d requests, %d retries)", st.DroppedFull, st.DroppedSend, st.Requests, st.Retries)
	}
}

// BenchmarkRealisticOtelHTTPOTLP is otelhttp with the OpenTelemetry SDK:
// X-Ray propagator and IDs, the batch span processor (its defaults) and
// otlptracehttp, sending to the same kind of receiver process. With its
// defaults the processor drops a span when its queue of 2048 is full, so
// on a busy machine this reference exports only part of what it traces
// (see delivered%) and spends less CPU than one that sends everything.
func BenchmarkRealisticOtelHTTPOTLP(b *testing.B) {
	benchOtelHTTPOTLP(b)
}

// BenchmarkRealisticOtelHTTPOTLPBlocking is the same with the batch span
// processor told to wait for room in its queue instead of dropping
// (sdktrace.WithBlocking), so that it delivers every span, as the
// Sidelight variants are asked to: the reference to compare them with.
func BenchmarkRealisticOtelHTTPOTLPBlocking(b *testing.B) {
	benchOtelHTTPOTLP(b, sdktrace.WithBlocking())
}

func benchOtelHTTPOTLP(b *testing.B, opts ...sdktrace.BatchSpanProcessorOption) {
	s := startSinkOf(b, "otlp")
	h, shutdown := otelHTTPOTLP(b, s.addr, opts...)
	served := runRealistic(b, h)
	if err := shutdown(); err != nil {
		b.Fatal(err)
	}
	report(b, served, s.count(b))
}

// otelHTTPOTLP wraps app in otelhttp with a tracer provider that sends
// through the batch span processor, configured by opts, and otlptracehttp
// to the OTLP/HTTP receiver at addr. shutdown flushes what is queued.
func otelHTTPOTLP(tb testing.TB, addr string, opts ...sdktrace.BatchSpanProcessorOption) (h http.Handler, shutdown func() error) {
	tb.Helper()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL("http://"+addr+"/v1/traces"))
	if err != nil {
		tb.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, opts...),
		sdktrace.WithIDGenerator(xrayprop.NewIDGenerator()), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	h = otelhttp.NewHandler(app(), "bench", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(xrayprop.Propagator{}))
	return h, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return tp.Shutdown(ctx)
	}
}

// BenchmarkRealisticXRaySDKHandler is aws-xray-sdk-go's xray.Handler.
func BenchmarkRealisticXRaySDKHandler(b *testing.B) {
	s := startSink(b)
	strategy, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1},"rules":[]}`))
	if err != nil {
		b.Fatal(err)
	}
	xraylogSilence()
	if err := awsxray.Configure(awsxray.Config{DaemonAddr: s.addr, SamplingStrategy: strategy, ServiceVersion: "1"}); err != nil {
		b.Fatal(err)
	}
	h := awsxray.Handler(awsxray.NewFixedSegmentNamer("bench"), app())
	served := runRealistic(b, h)
	report(b, served, s.count(b))
}

// TestCountSpans checks the sink's counting against the generated types.
func TestCountSpans(t *testing.T) {
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: make([]*tracepb.Span, 3)}, {Spans: make([]*tracepb.Span, 2)}}},
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: make([]*tracepb.Span, 4)}}},
	}}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for i := range ss.Spans {
				ss.Spans[i] = &tracepb.Span{Name: "s"}
			}
		}
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if n := countSpans(b); n != 9 {
		t.Fatalf("counted %d spans, want 9", n)
	}
	if n := countSpans(b[:len(b)-1]); n != -1 {
		t.Fatalf("truncated request counted %d", n)
	}
}

// TestBlockingReferenceDeliversEverySpan checks the wiring of the
// reference that BenchmarkRealisticOtelHTTPOTLPBlocking measures: a burst
// several times the batch processor's queue (2048 spans), served without
// pause, reaches the receiver whole, where the processor's defaults would
// drop what does not fit.
func TestBlockingReferenceDeliversEverySpan(t *testing.T) {
	s := startSinkOf(t, "otlp")
	h, shutdown := otelHTTPOTLP(t, s.addr, sdktrace.WithBlocking())
	const n = 10000
	req := realisticRequest()
	w := &writer{h: make(http.Header)}
	for range n {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	if err := shutdown(); err != nil {
		t.Fatal(err)
	}
	if got := s.count(t); got != n {
		t.Fatalf("receiver counted %d spans of %d", got, n)
	}
}
