package emftest_test

import (
	"context"
	"fmt"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
)

func ExampleSink() {
	sink := emftest.NewSink()
	l, _ := emf.New(emf.WithSink(sink), emf.WithEnvironment(emf.Local))
	for i := range 150 {
		_ = l.PutMetric("Latency", float64(i), emf.Milliseconds)
	}
	_ = l.Flush(context.Background())
	values, _ := sink.Values("Latency")
	fmt.Println(len(sink.Documents()), "documents,", len(values), "values")
	// Output: 2 documents, 150 values
}
