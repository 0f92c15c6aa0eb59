package red_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware/internal/red"
)

// The HTTP middleware creates one Recorder and calls Observe after every
// request, with r.Pattern as the route.
func ExampleRecorder_Observe() {
	sink := emftest.NewSink()
	rec, err := red.New(red.Config{Namespace: "Shop", Service: "orders", Sink: sink})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, _ := xray.ParseTraceID("1-5759e988-bd862e3fe1be46a994272793")
	failed, _ := xray.ParseTraceID("1-5759e988-bd862e3fe1be46a994272794")
	rec.Observe("GET /orders/{id}", "GET", 200, 12*time.Millisecond, ok)
	rec.Observe("GET /orders/{id}", "GET", 503, 40*time.Millisecond, failed)
	rec.Observe("", "PROPFIND", 404, time.Millisecond, trace.TraceID{}) // unmatched route, OTHER method

	_ = rec.Shutdown(context.Background()) // flushes what is left
	docs, _ := sink.Decoded()
	for _, d := range docs {
		fmt.Println(d["Route"], d["Method"], d["StatusClass"], "requests:", d["Requests"], "faults:", d["Faults"])
	}
	// Output:
	// unmatched OTHER 4xx requests: 1 faults: 0
	// GET /orders/{id} GET 2xx requests: 1 faults: 0
	// GET /orders/{id} GET 5xx requests: 1 faults: 1
}
