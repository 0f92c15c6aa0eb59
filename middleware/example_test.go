package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

func ExampleNew() {
	// One kit per service: it owns the trace exporter (here an in-memory
	// recorder; by default the X-Ray emitter for AWS_XRAY_DAEMON_ADDRESS)
	// and the metrics, and stops them at Shutdown.
	rec := xraytest.NewRecorder()
	kit, err := middleware.New(
		middleware.WithServiceName("users"),
		middleware.WithSegmentExporter(rec),
		middleware.WithoutMetrics(), // see ExampleWithMetricsSink
	)
	if err != nil {
		fmt.Println(err)
	}
	defer kit.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		middleware.AddAnnotation(r.Context(), "tenant", "acme")
		io.WriteString(w, "hello")
	})
	handler := kit.HTTP()(mux)

	req := httptest.NewRequest("GET", "/users/42", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
	handler.ServeHTTP(httptest.NewRecorder(), req)

	seg := rec.Segments()[0]
	fmt.Println(seg.Name, seg.HTTP.Response.Status, seg.Annotations["route"], seg.Annotations["tenant"])
	// Output: users 200 GET /users/{id} acme
}

func ExampleHTTP() {
	daemon, _ := xraytest.NewDaemon() // stands in for the X-Ray daemon or the sidecar
	defer daemon.Close()
	emitter, _ := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	defer emitter.Shutdown(context.Background())
	everything, _ := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	// The package-level functions use the default kit; options apply over it.
	handler := middleware.HTTP(
		middleware.WithSegmentExporter(emitter),
		middleware.WithServiceName("users"),
		middleware.WithSamplingRules(everything),
		middleware.WithoutMetrics(),
	)(mux)

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/42", nil))

	emitter.ForceFlush(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	docs, _ := daemon.WaitFor(ctx, 1)
	seg := docs[0]
	fmt.Println(seg.Name, seg.HTTP.Response.Status, seg.Annotations["route"])
	// Output: users 200 GET /users/{id}
}

func ExampleTransport() {
	client := &http.Client{Transport: middleware.Transport(nil)}
	// Inside a handler wrapped by middleware.HTTP, requests made with the
	// handler's context carry the trace and become remote subsegments.
	_ = func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://inventory.internal/stock", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

func ExampleAddAnnotation() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		// Indexed: X-Ray can filter traces with annotation.plan = "pro".
		if err := middleware.AddAnnotation(r.Context(), "plan", "pro"); err != nil {
			fmt.Println(err)
		}
	}
	// Outside a traced request there is no segment to annotate.
	handler(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// Output: sidelight: no segment in this context (is the handler wrapped by middleware.HTTP or Lambda?)
}

func ExampleTraceID() {
	kit, _ := middleware.New(middleware.WithSegmentExporter(xraytest.NewRecorder()), middleware.WithoutMetrics())
	defer kit.Shutdown(context.Background())
	h := kit.HTTP()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.TraceID(r.Context())
		fmt.Println(id)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: 1-5759e988-bd862e3fe1be46a994272793
}

func ExampleWithMetricsSink() {
	sink := emftest.NewSink() // in production: leave it out (stdout, or the agent on ECS and EC2)
	kit, _ := middleware.New(
		middleware.WithServiceName("users"),
		middleware.WithSegmentExporter(xraytest.NewRecorder()),
		middleware.WithMetricsSink(sink),
		middleware.WithMetricsNamespace("Shop"),
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := kit.HTTP()(mux)
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/42", nil))
	}
	kit.Shutdown(context.Background()) // writes the last interval
	requests, _ := sink.Values("Requests")
	fmt.Println(requests)
	// Output: [3]
}

func ExampleAWS() {
	kit, _ := middleware.New()
	defer kit.Shutdown(context.Background())
	cfg := aws.Config{Region: "eu-west-1"} // usually from config.LoadDefaultConfig
	kit.AWS(&cfg)
	// Clients made from cfg now record each call as an "aws" subsegment of
	// the current request's segment: dynamodb.NewFromConfig(cfg), …
	fmt.Println(len(cfg.APIOptions))
	// Output: 1
}

func ExampleAddMetadata() {
	kit, _ := middleware.New(middleware.WithSegmentExporter(xraytest.NewRecorder()), middleware.WithoutMetrics())
	defer kit.Shutdown(context.Background())
	h := kit.HTTP()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Any JSON value; not indexed, shown on the trace.
		err := middleware.AddMetadata(r.Context(), "basket", map[string]int{"items": 3})
		fmt.Println(err)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: <nil>
}
