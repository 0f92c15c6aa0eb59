package emf_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
)

// A Logger writing to standard output, as in AWS Lambda.
func ExampleNew() {
	l, err := emf.New(
		emf.WithSink(emf.NewWriterSink(os.Stdout)),
		emf.WithNamespace("Shop"),
		emf.WithDefaultDimensions(emf.Dimension{Name: "Service", Value: "orders"}),
		emf.WithClock(func() time.Time { return time.UnixMilli(1700000000000) }),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = l.PutMetric("OrderValue", 42.5, emf.None)
	_ = l.SetProperty("RequestId", "r-1")
	_ = l.Flush(context.Background())
	// Output:
	// {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["Service"]],"Metrics":[{"Name":"OrderValue","Unit":"None"}]}]},"Service":"orders","RequestId":"r-1","OrderValue":42.5}
}

// Invalid input is refused where it happens, with an error that says why.
func ExampleLogger_PutMetric() {
	l, _ := emf.New(emf.WithSink(emftest.NewSink()), emf.WithEnvironment(emf.Local))
	fmt.Println(l.PutMetric("Latency", 12, emf.Milliseconds))
	fmt.Println(l.PutMetric("Latency", 12, "ms"))
	fmt.Println(l.PutDimensions(emf.Dimension{Name: "Route", Value: ""}))
	// Output:
	// <nil>
	// emf: invalid unit: metric "Latency" unit "ms"
	// emf: invalid dimension value: dimension "Route" value "" must be 1 to 1024 printable ASCII characters, not all spaces
}

// Dimension sets get the default dimensions prepended; high-resolution
// metrics carry StorageResolution 1.
func ExampleLogger_PutDimensions() {
	l, _ := emf.New(emf.WithSink(emf.NewWriterSink(os.Stdout)), emf.WithNamespace("Shop"),
		emf.WithDefaultDimensions(emf.Dimension{Name: "Service", Value: "orders"}),
		emf.WithClock(func() time.Time { return time.UnixMilli(1700000000000) }))
	_ = l.PutDimensions(emf.Dimension{Name: "Route", Value: "/orders/{id}"})
	_ = l.PutMetricWithResolution("InFlight", 3, emf.Count, emf.High)
	_ = l.Flush(context.Background())
	// Output:
	// {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["Service","Route"]],"Metrics":[{"Name":"InFlight","Unit":"Count","StorageResolution":1}]}]},"Service":"orders","Route":"/orders/{id}","InFlight":3}
}

// One Logger per process, reset at the start of every invocation and
// flushed synchronously at its end: no allocation in steady state.
func ExampleLogger_Reset() {
	sink := emftest.NewSink()
	l, _ := emf.New(emf.WithSink(sink), emf.WithEnvironment(emf.Lambda))
	for i := range 3 {
		l.Reset()
		_ = l.SetProperty("RequestId", fmt.Sprint("r-", i))
		_ = l.PutMetric("Invocations", 1, emf.Count)
		_ = l.Flush(context.Background())
	}
	fmt.Println(len(sink.Documents()), "documents")
	// Output: 3 documents
}

// The agent sink never blocks the caller; Stats reports what it did.
func ExampleNewAgentSink() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // stands in for the CloudWatch agent
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					c.Close()
					return
				}
			}
		}
	}()
	sink, err := emf.NewAgentSink("tcp://" + ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := emf.New(emf.WithSink(sink), emf.WithEnvironment(emf.Agent), emf.WithLogGroup("orders-metrics"))
	_ = l.PutMetric("Requests", 1, emf.Count)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = l.Flush(ctx) // waits until the agent has the document
	_ = sink.Shutdown(ctx)
	fmt.Printf("%+v\n", sink.Stats())
	// Output: {Sent:1 Dropped:0 Queued:0 Reconnects:0 Errors:0 Connected:false}
}

// The writer sink adds the newline that separates documents.
func ExampleNewWriterSink() {
	sink := emf.NewWriterSink(os.Stdout)
	_ = sink.WriteDocument(context.Background(), []byte(`{"hello":"world"}`))
	// Output: {"hello":"world"}
}

// SetDimensions replaces the default dimensions; properties are searchable
// fields that are not dimensions, such as the X-Ray trace ID.
func ExampleLogger_SetDimensions() {
	l, _ := emf.New(emf.WithSink(emf.NewWriterSink(os.Stdout)), emf.WithNamespace("MyApp"), emf.WithEnvironment(emf.Local),
		emf.WithClock(func() time.Time { return time.UnixMilli(1700000000000) }))
	_ = l.SetDimensions(
		[]emf.Dimension{{Name: "Operation", Value: "Aggregator"}},
		[]emf.Dimension{{Name: "Operation", Value: "Aggregator"}, {Name: "Cell", Value: "001"}},
	)
	_ = l.SetProperty("TraceId", "1-5759e988-bd862e3fe1be46a994272793")
	_ = l.PutMetric("ProcessingLatency", 100, emf.Milliseconds)
	_ = l.Flush(context.Background())
	// Output:
	// {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"MyApp","Dimensions":[["Operation"],["Operation","Cell"]],"Metrics":[{"Name":"ProcessingLatency","Unit":"Milliseconds"}]}]},"Operation":"Aggregator","Cell":"001","TraceId":"1-5759e988-bd862e3fe1be46a994272793","ProcessingLatency":100}
}

// A batch of values in one call; past 100 values the Logger splits the
// metric across documents.
func ExampleLogger_PutMetricValues() {
	sink := emftest.NewSink()
	l, _ := emf.New(emf.WithSink(sink), emf.WithEnvironment(emf.Local))
	latencies := make([]float64, 150)
	for i := range latencies {
		latencies[i] = 2.5 + float64(i)
	}
	_ = l.PutMetricValues("Latency", emf.Milliseconds, latencies...)
	_ = l.Flush(context.Background())
	values, _ := sink.Values("Latency")
	fmt.Println(len(sink.Documents()), "documents,", len(values), "values, last", values[149])
	// Output: 2 documents, 150 values, last 151.5
}
