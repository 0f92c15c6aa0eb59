package xraytest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

func Example() {
	d, err := xraytest.NewDaemon()
	if err != nil {
		panic(err)
	}
	defer d.Close()
	e, err := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	seg := new(xray.Segment)
	seg.Name = "checkout"
	seg.TraceID = xray.NewTraceID(time.Now())
	seg.ID = xray.NewSpanID()
	seg.Start = time.Now()
	seg.End = seg.Start.Add(time.Millisecond)
	e.ExportSegment(seg)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	docs, err := d.WaitFor(ctx, 1)
	fmt.Println(len(docs), docs[0].Name, err)
	// Output: 1 checkout <nil>
}
