package httpbench

import (
	"context"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// BenchmarkEmitterOnly measures the emitter alone: one segment like the
// middleware's per op, encoded and sent to the sink process.
func BenchmarkEmitterOnly(b *testing.B) {
	s := startSink(b)
	e, err := xray.NewEmitter(xray.WithDaemonAddress(s.addr), xray.WithQueueSize(1<<16))
	if err != nil {
		b.Fatal(err)
	}
	trace := xray.NewTraceID(time.Now())
	start := time.Now()
	var n int64
	b.ReportAllocs()
	cpu0 := processCPU()
	seg := new(xray.Segment) // ExportSegment reads it during the call only
	for b.Loop() {
		seg.Reset()
		seg.Name, seg.TraceID, seg.ID, seg.Start, seg.End = "bench", trace, xray.NewSpanID(), start, start.Add(time.Millisecond)
		seg.HTTP.Method, seg.HTTP.URL, seg.HTTP.UserAgent, seg.HTTP.ClientIP = "GET", "http://api.example.com/users/42", "bench/1.0", "192.0.2.1"
		seg.SetHTTPStatus(200)
		seg.HTTP.ContentLength = 11
		seg.Annotations = append(seg.Annotations, xray.StringAttr("route", "GET /users/{id}"))
		e.ExportSegment(seg)
		n++
	}
	_ = e.Shutdown(context.Background())
	b.StopTimer()
	reportCPU(b, cpu0, n)
	st := e.Stats()
	report(b, n, s.count(b))
	b.ReportMetric(100*float64(st.Direct)/float64(n), "direct%")
}
