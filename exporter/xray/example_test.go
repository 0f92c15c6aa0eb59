package xray_test

import (
	"context"
	"fmt"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

func ExampleParseHeader() {
	h, err := xray.ParseHeader("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1")
	fmt.Println(xray.FormatTraceID(h.TraceID), h.ParentID, h.Sampled == xray.Sampled, h.Extra, err)
	// Output: 1-5759e988-bd862e3fe1be46a994272793 53995c3f42cd8ad8 true Lineage=a87bd80c:1 <nil>
}

func ExampleAppendDocument() {
	trace, _ := xray.ParseTraceID("1-5759e988-bd862e3fe1be46a994272793")
	id, _ := xray.ParseSpanID("70de5b6f19ff9a0a")
	start := time.Unix(1700000000, 0)
	seg := &xray.Segment{Name: "orders", TraceID: trace, ID: id, Start: start, End: start.Add(12 * time.Millisecond)}
	seg.SetHTTPStatus(503)
	seg.HTTP.ContentLength = -1
	fmt.Println(string(xray.AppendDocument(nil, seg)))
	// Output: {"name":"orders","id":"70de5b6f19ff9a0a","trace_id":"1-5759e988-bd862e3fe1be46a994272793","start_time":1700000000.000000,"end_time":1700000000.012000,"fault":true,"http":{"response":{"status":503}}}
}

func ExampleParseDaemonAddress() {
	a, _ := xray.ParseDaemonAddress("tcp:127.0.0.1:2000 udp:127.0.0.1:2001")
	fmt.Println(a.UDP, a.TCP)
	// Output: 127.0.0.1:2001 127.0.0.1:2000
}

func ExampleNewEmitter() {
	d, _ := xraytest.NewDaemon() // stands in for the X-Ray daemon or the sidecar
	defer d.Close()
	e, err := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Shutdown(context.Background())

	seg := new(xray.Segment)
	seg.Name = "billing"
	seg.TraceID = xray.NewTraceID(time.Now())
	seg.ID = xray.NewSpanID()
	seg.Start = time.Now()
	seg.End = seg.Start.Add(3 * time.Millisecond)
	e.ExportSegment(seg) // never waits; seg belongs to the emitter now

	_ = e.ForceFlush(context.Background())
	docs, _ := d.WaitFor(context.Background(), 1)
	fmt.Println(docs[0].Name, e.Stats().Datagrams)
	// Output: billing 1
}

func ExampleNewSpanProcessor() {
	d, _ := xraytest.NewDaemon()
	defer d.Close()
	e, _ := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	defer e.Shutdown(context.Background())

	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(xray.NewSpanProcessor(e)))
	defer tp.Shutdown(context.Background())
	_, span := tp.Tracer("example").Start(context.Background(), "nightly job")
	span.End()

	_ = tp.ForceFlush(context.Background())
	docs, _ := d.WaitFor(context.Background(), 1)
	fmt.Println(docs[0].Name)
	// Output: nightly job
}
