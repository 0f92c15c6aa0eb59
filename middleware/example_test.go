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

func ExampleHTTP() {
	daemon, _ := xraytest.NewDaemon() // stands in for the X-Ray daemon or the sidecar
	defer daemon.Close()
	emitter, _ := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	defer emitter.Shutdown(context.Background())
	everything, _ := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		middleware.AddAnnotation(r.Context(), "tenant", "acme")
		io.WriteString(w, "hello")
	})
	handler := middleware.HTTP(
		middleware.WithEmitter(emitter),
		middleware.WithServiceName("users"),
		middleware.WithSamplingRules(everything),
		middleware.WithoutMetrics(), // see ExampleWithMetrics
	)(mux)

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/42", nil))

	emitter.Flush(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	docs, _ := daemon.WaitFor(ctx, 1)
	seg := docs[0]
	fmt.Println(seg.Name, seg.HTTP.Response.Status, seg.Annotations["route"], seg.Annotations["tenant"])
	// Output: users 200 GET /users/{id} acme
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
	emitter, _ := xray.NewEmitter()
	defer emitter.Shutdown(context.Background())
	h := middleware.HTTP(middleware.WithEmitter(emitter), middleware.WithoutMetrics())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.TraceID(r.Context())
		fmt.Println(id)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: 1-5759e988-bd862e3fe1be46a994272793
}

func ExampleWithMetrics() {
	emitter, _ := xray.NewEmitter()
	defer emitter.Shutdown(context.Background())
	sink := emftest.NewSink() // in production: leave Sink empty, or emf.NewWriterSink(os.Stdout)
	metrics, err := middleware.NewMetrics(middleware.MetricsConfig{Service: "users", Namespace: "Shop", Sink: sink})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := middleware.HTTP(middleware.WithEmitter(emitter), middleware.WithMetrics(metrics))(mux)
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/42", nil))
	}
	metrics.Shutdown(context.Background()) // writes the last interval
	requests, _ := sink.Values("Requests")
	fmt.Println(requests)
	// Output: [3]
}

func ExampleAWS() {
	emitter, _ := xray.NewEmitter() // or leave WithEmitter out to share the default one
	defer emitter.Shutdown(context.Background())
	cfg := aws.Config{Region: "eu-west-1"} // usually from config.LoadDefaultConfig
	middleware.AWS(&cfg, middleware.WithEmitter(emitter))
	// Clients made from cfg now record each call as an "aws" subsegment of
	// the current request's segment: dynamodb.NewFromConfig(cfg), …
	fmt.Println(len(cfg.APIOptions))
	// Output: 1
}

func ExampleAddMetadata() {
	emitter, _ := xray.NewEmitter()
	defer emitter.Shutdown(context.Background())
	h := middleware.HTTP(middleware.WithEmitter(emitter), middleware.WithoutMetrics())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Any JSON value; not indexed, shown on the trace.
		err := middleware.AddMetadata(r.Context(), "basket", map[string]int{"items": 3})
		fmt.Println(err)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: <nil>
}
