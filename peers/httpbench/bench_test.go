package httpbench

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	awsxray "github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	xrayprop "go.opentelemetry.io/contrib/propagators/aws/xray"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
	sidelightsampling "github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// app is the handler every variant wraps: a route with a path parameter
// that writes a short body.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"42"}`)
	})
	return mux
}

// writer is a reusable ResponseWriter, so the benchmark measures the
// handler and its instrumentation rather than a recorder.
type writer struct {
	h      http.Header
	status int
}

func (w *writer) Header() http.Header         { return w.h }
func (w *writer) Write(b []byte) (int, error) { return len(b), nil }
func (w *writer) WriteHeader(code int)        { w.status = code }

// run serves the same request through h until the benchmark ends and
// returns how many requests it served.
func run(b *testing.B, h http.Handler) int64 {
	req := httptest.NewRequest("GET", "http://api.example.com/users/42", nil)
	req.Header.Set("User-Agent", "bench/1.0")
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

// processCPU returns the CPU time this process has used (all threads:
// the request loop and any background senders), which the machine's other
// load does not inflate the way it inflates wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration, n int64) {
	b.ReportMetric(float64(processCPU()-since)/float64(n), "cpu-ns/op")
}

func report(b *testing.B, served, delivered int64) {
	b.ReportMetric(100*float64(delivered)/float64(served), "delivered%")
}

func BenchmarkBare(b *testing.B) {
	run(b, app())
}

func BenchmarkSidelight(b *testing.B) {
	benchSidelight(b, false)
}

// BenchmarkSidelightMetrics adds the RED metrics (EMF) to the traces: the
// per-request total of traces and metrics.
func BenchmarkSidelightMetrics(b *testing.B) {
	benchSidelight(b, true)
}

func benchSidelight(b *testing.B, withMetrics bool) {
	s := startSink(b)
	e, err := xray.NewEmitter(xray.WithDaemonAddress(s.addr), xray.WithQueueSize(1<<16))
	if err != nil {
		b.Fatal(err)
	}
	rules, _ := sidelightsampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	opts := []middleware.Option{middleware.WithSegmentExporter(e), middleware.WithServiceName("bench"), middleware.WithSamplingRules(rules), middleware.WithoutMetrics()}
	if withMetrics {
		opts = append(opts, middleware.WithMetricsSink(emf.NewWriterSink(io.Discard)))
	}
	kit, _ := middleware.New(opts...)
	h := kit.HTTP()(app())
	served := run(b, h)
	_ = kit.Shutdown(context.Background())
	if err := e.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := e.Stats()
	report(b, served, s.count(b))
	b.ReportMetric(float64(st.Dropped())/float64(served)*100, "dropped%")
	b.ReportMetric(float64(st.Direct)/float64(served)*100, "direct%")
}

func BenchmarkXRaySDKHandler(b *testing.B) {
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
	served := run(b, h)
	report(b, served, s.count(b))
}

func xraylogSilence() {
	awsxray.SetLogger(xraylog.NullLogger)
}

// udpExporter is an OpenTelemetry SDK span exporter that writes each span
// as an X-Ray document to the daemon, the way a collector-less OTel setup
// would reach X-Ray.
type udpExporter struct {
	conn net.Conn
	buf  []byte
	seg  xray.Segment
}

func (u *udpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		u.seg.Reset()
		xray.SpanToSegment(s, &u.seg, nil)
		u.buf = append(u.buf[:0], xray.DaemonHeader...)
		u.buf = xray.AppendDocument(u.buf, &u.seg)
		_, _ = u.conn.Write(u.buf)
	}
	return nil
}

func (u *udpExporter) Shutdown(context.Context) error { return nil }

func BenchmarkOtelHTTP(b *testing.B) {
	s := startSink(b)
	conn, err := net.Dial("udp", s.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&udpExporter{conn: conn}),
		sdktrace.WithIDGenerator(xrayprop.NewIDGenerator()),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	h := otelhttp.NewHandler(app(), "bench", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(xrayprop.Propagator{}))
	served := run(b, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = tp.Shutdown(ctx)
	report(b, served, s.count(b))
}
