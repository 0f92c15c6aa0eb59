package emf

import (
	"testing"
	"time"
)

// BenchmarkEncodeOnly measures the encoder alone on the BenchmarkEncode
// document: the logger is filled once and the same document encoded again
// and again, which is what BenchmarkEncode/encoding_json measures for
// encoding/json.
func BenchmarkEncodeOnly(b *testing.B) {
	l, err := New(WithSink(NewWriterSink(nopWriter{})), WithEnvironment(Local), WithNamespace("Sidelight"),
		WithServiceName("checkout"), WithServiceType("AWS::ECS::Container"))
	if err != nil {
		b.Fatal(err)
	}
	_ = l.PutDimensions(Dimension{"Route", "/orders/{id}"}, Dimension{"Method", "GET"})
	_ = l.SetProperty("TraceId", "1-5759e988-bd862e3fe1be46a994272793")
	_ = l.PutMetric("Requests", 1, Count)
	_ = l.PutMetric("ClientErrors", 0, Count)
	_ = l.PutMetric("Faults", 0, Count)
	_ = l.PutMetricWithResolution("InFlight", 3, Count, High)
	for i := range 20 {
		_ = l.PutMetric("Latency", 3.25+float64(i)*1.5, Milliseconds)
	}
	l.pairs = l.pairs[:0]
	for i := range l.metrics {
		l.pairs = append(l.pairs, chunk{int32(i), 0})
	}
	ts := time.UnixMilli(1700000000123)
	w := nopWriter{}
	b.ReportAllocs()
	for b.Loop() {
		l.buf = l.encodeLocked(l.buf[:0], ts)
		_, _ = w.Write(append(l.buf, '\n'))
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
