package emf_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
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

// BenchmarkEncode/emf builds and writes the document through the Logger
// (Reset, puts and Flush to a writer sink), the whole per-invocation cost.
// BenchmarkEncode/encoding_json only marshals an equivalent, already built
// value with encoding/json.
func BenchmarkEncode(b *testing.B) {
	b.Run("emf", func(b *testing.B) {
		l, err := emf.New(emf.WithSink(emf.NewWriterSink(discard{})), emf.WithEnvironment(emf.Local),
			emf.WithNamespace("Sidelight"), emf.WithServiceName("checkout"), emf.WithServiceType("AWS::ECS::Container"),
			emf.WithClock(clock))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			l.Reset()
			_ = l.PutDimensions(emf.Dimension{Name: "Route", Value: "/orders/{id}"}, emf.Dimension{Name: "Method", Value: "GET"})
			_ = l.SetProperty("TraceId", "1-5759e988-bd862e3fe1be46a994272793")
			_ = l.PutMetric("Requests", 1, emf.Count)
			_ = l.PutMetric("ClientErrors", 0, emf.Count)
			_ = l.PutMetric("Faults", 0, emf.Count)
			_ = l.PutMetricWithResolution("InFlight", 3, emf.Count, emf.High)
			for _, v := range benchLatencies {
				_ = l.PutMetric("Latency", v, emf.Milliseconds)
			}
			if err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
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
		doc := map[string]any{
			"_aws": awsMeta{Timestamp: fixed.UnixMilli(), CloudWatchMetrics: []directive{{
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
		w := discard{}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			out, err := json.Marshal(doc)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = w.Write(append(out, '\n'))
		}
	})
}
