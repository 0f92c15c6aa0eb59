package middleware_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// invocation is the context aws-lambda-go gives a handler: a deadline and
// the runtime's trace header, which names Lambda's facade segment.
func invocation() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	//nolint:staticcheck // aws-lambda-go's own plain string key
	ctx = context.WithValue(ctx, "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	return ctx, cancel
}

func ExampleLambda() {
	daemon, _ := xraytest.NewDaemon() // in Lambda: AWS_XRAY_DAEMON_ADDRESS
	defer daemon.Close()
	emitter, _ := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	defer emitter.Shutdown(context.Background())
	metrics := emftest.NewSink() // in Lambda: standard output
	// In a function, the default kit does: lambda.Start(middleware.Lambda(h)).
	kit, _ := middleware.New(middleware.WithSegmentExporter(emitter), middleware.WithMetricsSink(metrics))

	handler := middleware.Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		middleware.AddAnnotation(ctx, "customer", "acme")
		middleware.AddMetric(ctx, "OrdersPlaced", 1, emf.Count)
		return events.APIGatewayProxyResponse{StatusCode: 201}, nil
	}, middleware.WithKit(kit), middleware.WithServiceName("orders"))
	// In a function's main: lambda.Start(handler). Here, one invocation:
	ctx, cancel := invocation()
	defer cancel()
	handler(ctx, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/orders"})

	// Everything was sent before the handler returned.
	docs, _ := daemon.WaitFor(ctx, 1)
	sub := docs[0]
	fmt.Println(sub.Type, sub.Name, "parent", sub.ParentID, "status", sub.HTTP.Response.Status)
	fmt.Println("cold start:", sub.Annotations["cold_start"], "customer:", sub.Annotations["customer"])
	placed, _ := metrics.Values("OrdersPlaced")
	cold, _ := metrics.Values("ColdStart")
	fmt.Println("OrdersPlaced", placed, "ColdStart", cold)
	// Output:
	// subsegment ## orders parent 53995c3f42cd8ad8 status 201
	// cold start: true customer: acme
	// OrdersPlaced [1] ColdStart [1 1]
}

type echo struct{}

func (echo) Invoke(ctx context.Context, payload []byte) ([]byte, error) { return payload, nil }

// quietEmitter sends segments to a daemon stand-in nobody reads.
func quietEmitter() (*xray.Emitter, func()) {
	daemon, _ := xraytest.NewDaemon()
	emitter, _ := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	return emitter, func() { emitter.Shutdown(context.Background()); daemon.Close() }
}

func ExampleLambdaHandler() {
	emitter, done := quietEmitter()
	defer done()
	metrics := emftest.NewSink()
	var h lambda.Handler = middleware.LambdaHandler(echo{}, middleware.WithMetricsSink(metrics), middleware.WithSegmentExporter(emitter))
	// In a function's main: lambda.StartHandler(h).
	ctx, cancel := invocation()
	defer cancel()
	out, err := h.Invoke(ctx, []byte(`{"hello":"world"}`))
	errs, _ := metrics.Values("Errors")
	fmt.Println(string(out), err, "Errors", errs)
	// Output: {"hello":"world"} <nil> Errors [0]
}

func ExampleAddMetric() {
	emitter, done := quietEmitter()
	defer done()
	metrics := emftest.NewSink()
	handler := middleware.Lambda(func(ctx context.Context, items []string) (int, error) {
		for range items {
			middleware.AddMetric(ctx, "ItemsProcessed", 1, emf.Count)
		}
		return len(items), middleware.AddMetric(ctx, "BatchBytes", 2048, emf.Bytes)
	}, middleware.WithMetricsSink(metrics), middleware.WithSegmentExporter(emitter))
	ctx, cancel := invocation()
	defer cancel()
	handler(ctx, []string{"a", "b", "c"})
	items, _ := metrics.Values("ItemsProcessed")
	bytes, _ := metrics.Values("BatchBytes")
	fmt.Println(items, bytes)
	fmt.Println(middleware.AddMetric(context.Background(), "Orphan", 1, emf.Count))
	// Output:
	// [1 1 1] [2048]
	// sidelight: no Lambda invocation in this context (is the handler wrapped by middleware.Lambda?)
}

func ExampleWithTimeoutMargin() {
	daemon, _ := xraytest.NewDaemon()
	defer daemon.Close()
	emitter, _ := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	defer emitter.Shutdown(context.Background())

	release := make(chan struct{})
	handler := middleware.Lambda(func(ctx context.Context, _ string) (string, error) {
		<-release // stuck on something that ignores ctx
		return "too late", nil
	}, middleware.WithSegmentExporter(emitter), middleware.WithServiceName("slow"),
		middleware.WithMetricsSink(emftest.NewSink()),
		middleware.WithTimeoutMargin(250*time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // Lambda's deadline
	defer cancel()
	//nolint:staticcheck
	ctx = context.WithValue(ctx, "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	returned := make(chan struct{})
	go func() { handler(ctx, ""); close(returned) }()

	// 250 ms before the deadline the report is already at the daemon.
	wait, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	docs, _ := daemon.WaitFor(wait, 1)
	close(release)
	<-returned
	fmt.Println(docs[0].Fault, docs[0].Annotations["timeout"], docs[0].Cause.Exceptions[0].Type)
	// Output: true true sidelight.Timeout
}

// A function that returns an error behind API Gateway: the gateway answers
// 502 without the function's CORS headers, so the browser reports a CORS
// error. The subsegment has both the error and the browser's verdict.
func ExampleLambda_corsVerdict() {
	daemon, _ := xraytest.NewDaemon()
	defer daemon.Close()
	emitter, _ := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	defer emitter.Shutdown(context.Background())
	metrics := emftest.NewSink()

	handler := middleware.Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("cart %s not found", ev.PathParameters["id"])
	}, middleware.WithSegmentExporter(emitter), middleware.WithServiceName("carts"), middleware.WithMetricsSink(metrics))
	ctx, cancel := invocation()
	defer cancel()
	handler(ctx, events.APIGatewayProxyRequest{
		HTTPMethod:     "GET",
		Path:           "/carts/c-1",
		PathParameters: map[string]string{"id": "c-1"},
		Headers:        map[string]string{"Host": "api.example.com", "Origin": "https://shop.example.com"},
	})

	docs, _ := daemon.WaitFor(ctx, 1)
	sub := docs[0]
	fmt.Println("fault:", sub.Fault, sub.Cause.Exceptions[0].Message)
	fmt.Println(sub.Annotations["cors_verdict"], sub.Annotations["cors_code"])
	blocked, _ := metrics.Values("CORSBlocked")
	fmt.Println("CORSBlocked", blocked)
	// Output:
	// fault: true cart c-1 not found
	// blocked missing-allow-origin
	// CORSBlocked [1]
}
