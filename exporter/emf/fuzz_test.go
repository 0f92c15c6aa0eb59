package emf_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// FuzzEncode feeds arbitrary names, values and strings through the Logger.
// Whatever the API accepts must encode as a valid EMF document, and every
// string must survive the round trip exactly as encoding/json would carry
// it (its own Marshal then Unmarshal is the reference for escaping).
func FuzzEncode(f *testing.F) {
	f.Add("Latency", 12.5, "Route", "/orders/{id}", "TraceId", "1-abc", "ns")
	f.Add("a\"b\\c", -0.0, "k\x00", "v\u2028", "p\xff", "\xed\xa0\x80 <>&", "My/App")
	f.Add("M", 1e300, "D", " x ", "P", "\t\n\r", "ns:1")
	f.Add("M", 5e-324, "D", "~", "P", "ünï", "#")
	f.Fuzz(func(t *testing.T, metric string, value float64, dimName, dimValue, propKey, propValue, ns string) {
		sink := emftest.NewSink()
		l, err := emf.New(emf.WithSink(sink), emf.WithEnvironment(emf.Local), emf.WithDefaultDimensions())
		if err != nil {
			t.Fatal(err)
		}
		errMetric := l.PutMetric(metric, value, emf.Count)
		if errMetric == nil && (math.IsNaN(value) || math.IsInf(value, 0)) {
			t.Fatalf("non-finite value %v accepted", value)
		}
		errDim := l.PutDimensions(emf.Dimension{Name: dimName, Value: dimValue})
		errProp := l.SetProperty(propKey, propValue)
		_ = l.SetNamespace(ns)
		if err := l.PutMetric("Probe", 1, emf.Count); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		docs := sink.Documents()
		if len(docs) != 1 {
			t.Fatalf("%d documents", len(docs))
		}
		if err := schematest.EMF(docs[0]); err != nil {
			t.Fatalf("invalid document: %v\n%s", err, docs[0])
		}
		var got map[string]any
		if err := json.Unmarshal(docs[0], &got); err != nil {
			t.Fatal(err)
		}
		viaStdlib := func(s string) string {
			b, _ := json.Marshal(s)
			var back string
			_ = json.Unmarshal(b, &back)
			return back
		}
		if errProp == nil && got[propKey] != viaStdlib(propValue) {
			t.Errorf("property %q = %q, want %q", propKey, got[propKey], viaStdlib(propValue))
		}
		if errDim == nil && got[dimName] != dimValue {
			t.Errorf("dimension %q = %q, want %q", dimName, got[dimName], dimValue)
		}
		if errMetric == nil && got[metric] != value {
			t.Errorf("metric %q = %v, want %v", metric, got[metric], value)
		}
	})
}
