package emf

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"reflect"
	"testing"
	"time"
)

// The benchmark document: two default dimensions plus two more, a trace ID
// property, four single-value metrics and one with 20 values — a typical
// per-request or per-invocation document.
var benchLatencies = func() []float64 {
	v := make([]float64, 20)
	for i := range v {
		v[i] = 3.25 + float64(i)*1.5
	}
	return v
}()

var benchTime = time.UnixMilli(1700000000123)

func benchLogger(b *testing.B) *Logger {
	l, err := New(WithSink(NewWriterSink(nopWriter{})), WithEnvironment(Local), WithNamespace("Sidelight"),
		WithServiceName("checkout"), WithServiceType("AWS::ECS::Container"), WithClock(func() time.Time { return benchTime }))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func fillBench(l *Logger) {
	_ = l.PutDimensions(Dimension{"Route", "/orders/{id}"}, Dimension{"Method", "GET"})
	_ = l.SetProperty("TraceId", "1-5759e988-bd862e3fe1be46a994272793")
	_ = l.PutMetric("Requests", 1, Count)
	_ = l.PutMetric("ClientErrors", 0, Count)
	_ = l.PutMetric("Faults", 0, Count)
	_ = l.PutMetricWithResolution("InFlight", 3, Count, High)
	for _, v := range benchLatencies {
		_ = l.PutMetric("Latency", v, Milliseconds)
	}
}

// BenchmarkDocument compares, on the same document:
//   - emf_encode: our encoder alone, the document built once (what
//     encoding_json measures for encoding/json);
//   - emf_cycle: Reset, every Put and Flush to a writer sink, the whole
//     per-invocation cost a user pays;
//   - emf_cycle_batch: the same with the 20 latencies in one
//     PutMetricValues call;
//   - encoding_json: json.Marshal of an equivalent value built once.
func BenchmarkDocument(b *testing.B) {
	b.Run("emf_encode", func(b *testing.B) {
		l := benchLogger(b)
		fillBench(l)
		l.pairs = l.pairs[:0]
		for i := range l.metrics {
			l.pairs = append(l.pairs, chunk{int32(i), 0})
		}
		w := nopWriter{}
		b.ReportAllocs()
		for b.Loop() {
			l.buf = l.encodeLocked(l.buf[:0], benchTime, l.pairs)
			_, _ = w.Write(append(l.buf, '\n'))
		}
	})
	b.Run("emf_cycle", func(b *testing.B) {
		l := benchLogger(b)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			l.Reset()
			fillBench(l)
			if err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("emf_cycle_batch", func(b *testing.B) {
		l := benchLogger(b)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			l.Reset()
			_ = l.PutDimensions(Dimension{"Route", "/orders/{id}"}, Dimension{"Method", "GET"})
			_ = l.SetProperty("TraceId", "1-5759e988-bd862e3fe1be46a994272793")
			_ = l.PutMetric("Requests", 1, Count)
			_ = l.PutMetric("ClientErrors", 0, Count)
			_ = l.PutMetric("Faults", 0, Count)
			_ = l.PutMetricWithResolution("InFlight", 3, Count, High)
			_ = l.PutMetricValues("Latency", Milliseconds, benchLatencies...)
			if err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		doc := jsonBenchDoc()
		w := nopWriter{}
		b.ReportAllocs()
		for b.Loop() {
			out, err := json.Marshal(doc)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = w.Write(append(out, '\n'))
		}
	})
}

// jsonBenchDoc is the benchmark document as a value for encoding/json.
func jsonBenchDoc() map[string]any {
	type metricDef struct {
		Name              string
		Unit              string
		StorageResolution int `json:",omitempty"`
	}
	type directive struct {
		Namespace  string
		Dimensions [][]string
		Metrics    []metricDef
	}
	type awsMeta struct {
		Timestamp         int64
		CloudWatchMetrics []directive
	}
	return map[string]any{
		"_aws": awsMeta{Timestamp: benchTime.UnixMilli(), CloudWatchMetrics: []directive{{
			Namespace:  "Sidelight",
			Dimensions: [][]string{{"ServiceName", "ServiceType", "Route", "Method"}},
			Metrics: []metricDef{{Name: "Requests", Unit: "Count"}, {Name: "ClientErrors", Unit: "Count"},
				{Name: "Faults", Unit: "Count"}, {Name: "InFlight", Unit: "Count", StorageResolution: 1},
				{Name: "Latency", Unit: "Milliseconds"}},
		}}},
		"ServiceName": "checkout", "ServiceType": "AWS::ECS::Container", "Route": "/orders/{id}", "Method": "GET",
		"TraceId":  "1-5759e988-bd862e3fe1be46a994272793",
		"Requests": 1.0, "ClientErrors": 0.0, "Faults": 0.0, "InFlight": 3.0, "Latency": benchLatencies,
	}
}

// BenchmarkNew is the cost of a new Logger with an explicit sink, for
// callers that cannot keep one and Reset it.
func BenchmarkNew(b *testing.B) {
	sink := NewWriterSink(nopWriter{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(WithSink(sink), WithEnvironment(Lambda)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchDocumentsEqual checks both benchmark sides encode the same
// document (same JSON value, whatever the key order).
func TestBenchDocumentsEqual(t *testing.T) {
	l, err := New(WithSink(NewWriterSink(nopWriter{})), WithEnvironment(Local), WithNamespace("Sidelight"),
		WithServiceName("checkout"), WithServiceType("AWS::ECS::Container"))
	if err != nil {
		t.Fatal(err)
	}
	fillBench(l)
	l.pairs = l.pairs[:0]
	for i := range l.metrics {
		l.pairs = append(l.pairs, chunk{int32(i), 0})
	}
	ours := l.encodeLocked(nil, benchTime, l.pairs)
	theirs, err := json.Marshal(jsonBenchDoc())
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(ours, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(theirs, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("benchmark documents differ:\nemf:           %s\nencoding/json: %s", ours, theirs)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkAgentSinkWrite sends documents through an AgentSink to a real
// TCP listener that discards them, waiting for delivery every 64 documents
// so nothing is dropped: end-to-end cost per document.
func BenchmarkAgentSinkWrite(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}()
	s, err := NewAgentSink("tcp://" + ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	l := benchLogger(b)
	fillBench(l)
	l.pairs = l.pairs[:0]
	for i := range l.metrics {
		l.pairs = append(l.pairs, chunk{int32(i), 0})
	}
	doc := l.encodeLocked(nil, benchTime, l.pairs)
	ctx := context.Background()
	b.SetBytes(int64(len(doc) + 1))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = s.WriteDocument(ctx, doc)
		if i++; i%64 == 0 {
			_ = s.Flush(ctx)
		}
	}
	b.StopTimer()
	_ = s.Shutdown(ctx)
	st := s.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Sent+st.Dropped), "dropped/doc")
}
