package otelemf_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/otelemf"
)

// Metrics made with the OpenTelemetry API, written as EMF to standard
// output (what a Lambda function does; on ECS leave out WithSink and the
// documents go to the CloudWatch agent).
func ExampleNew() {
	exp, err := otelemf.New(otelemf.WithEMFOptions(
		emf.WithSink(emf.NewWriterSink(os.Stdout)),
		emf.WithNamespace("Shop"),
		emf.WithDefaultDimensions(emf.Dimension{Name: "Service", Value: "orders"}),
		emf.WithClock(func() time.Time { return time.UnixMilli(1700000000000) }),
	))
	if err != nil {
		fmt.Println(err)
		return
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	ctx := context.Background()
	counter, _ := mp.Meter("shop").Int64Counter("orders.placed", metric.WithUnit("{order}"))
	counter.Add(ctx, 2, metric.WithAttributes(attribute.String("payment", "card")))
	_ = mp.Shutdown(ctx) // exports what is left
	// Output:
	// {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["Service","payment"]],"Metrics":[{"Name":"orders.placed","Unit":"Count"}]}]},"Service":"orders","payment":"card","orders.placed":2}
}
