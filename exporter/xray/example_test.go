package xray_test

import (
	"fmt"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
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
