package emf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixed = time.UnixMilli(1700000000123)

func clock() time.Time { return fixed }

// newLogger returns a Logger writing to an in-memory sink, with a fixed
// clock and explicit configuration so the environment does not matter.
func newLogger(t testing.TB, opts ...emf.Option) (*emf.Logger, *emftest.Sink) {
	t.Helper()
	sink := emftest.NewSink()
	base := []emf.Option{emf.WithSink(sink), emf.WithClock(clock), emf.WithEnvironment(emf.Local),
		emf.WithNamespace("Sidelight"), emf.WithServiceName("checkout"), emf.WithServiceType("AWS::ECS::Container")}
	l, err := emf.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l, sink
}

// validate checks every document against the EMF schema and spec rules.
func validate(t testing.TB, docs [][]byte) {
	t.Helper()
	for i, d := range docs {
		if err := schematest.EMF(d); err != nil {
			t.Fatalf("document %d invalid: %v\n%s", i, err, d)
		}
	}
}

func golden(t *testing.T, name string, docs [][]byte) {
	t.Helper()
	var got bytes.Buffer
	for _, d := range docs {
		got.Write(d)
		got.WriteByte('\n')
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("%s differs from golden file:\ngot:  %s\nwant: %s", name, got.Bytes(), want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		opts []emf.Option
		do   func(l *emf.Logger) error
	}{
		{"simple.json", nil, func(l *emf.Logger) error {
			return l.PutMetric("Latency", 12.5, emf.Milliseconds)
		}},
		{"dimensions_properties.json", []emf.Option{emf.WithLogGroup("checkout-metrics"), emf.WithLogStream("task-1")}, func(l *emf.Logger) error {
			return errors.Join(
				l.PutDimensions(emf.Dimension{Name: "Route", Value: "/orders/{id}"}, emf.Dimension{Name: "Method", Value: "GET"}),
				l.PutDimensions(emf.Dimension{Name: "Route", Value: "/orders/{id}"}),
				l.SetProperty("TraceId", "1-5759e988-bd862e3fe1be46a994272793"),
				l.SetProperty("Note", "quote \" backslash \\ newline \n tab \t ünïcödé \u2028"),
				l.SetPropertyNumber("Attempt", 3),
				l.SetPropertyJSON("Request", []byte(`{"path":"/orders/7","size":1024}`)),
				l.PutMetric("Latency", 12.5, emf.Milliseconds),
				l.PutMetric("Latency", 7, emf.Milliseconds),
				l.PutMetricWithResolution("InFlight", 3, emf.Count, emf.High),
				l.PutMetric("Tiny", 1e-9, emf.None),
				l.PutMetric("Huge", 1e21, emf.Bytes),
			)
		}},
		{"no_dimensions.json", []emf.Option{emf.WithDefaultDimensions()}, func(l *emf.Logger) error {
			return l.PutMetric("Requests", 1, emf.Count)
		}},
		{"set_dimensions.json", nil, func(l *emf.Logger) error {
			return errors.Join(
				l.SetDimensions([]emf.Dimension{{Name: "Operation", Value: "Aggregator"}}, []emf.Dimension{{Name: "Operation", Value: "Aggregator"}, {Name: "Cell", Value: "001"}}),
				l.PutMetric("ProcessingLatency", 100, emf.Milliseconds),
			)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, sink := newLogger(t, tc.opts...)
			must(t, tc.do(l))
			must(t, l.Flush(context.Background()))
			docs := sink.Documents()
			validate(t, docs)
			golden(t, tc.name, docs)
		})
	}
}

// TestReferenceShape checks the reference EMF example against our own
// output for the same content, field by field after decoding.
func TestReferenceExample(t *testing.T) {
	ref, err := schematest.ReadReference("samples/emf-example-2.json")
	must(t, err)
	l, sink := newLogger(t, emf.WithLogGroup("Foo"), emf.WithNamespace("MyApp"), emf.WithDefaultDimensions(),
		emf.WithClock(func() time.Time { return time.UnixMilli(1574109732004) }))
	must(t, l.PutDimensions(emf.Dimension{Name: "Operation", Value: "Aggregator"}))
	must(t, l.PutMetric("ProcessingLatency", 100, emf.Milliseconds))
	must(t, l.Flush(context.Background()))
	var want, got map[string]any
	must(t, json.Unmarshal(ref, &want))
	must(t, json.Unmarshal(sink.Documents()[0], &got))
	// The reference states the default StorageResolution 60 explicitly; we
	// leave it out, as the official libraries do.
	delete(want["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any)[0].(map[string]any), "StorageResolution")
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) {
		t.Errorf("got  %s\nwant %s", gj, wj)
	}
}

func TestLimits(t *testing.T) {
	long := strings.Repeat("a", 256)
	dims := func(n int) []emf.Dimension {
		d := make([]emf.Dimension, n)
		for i := range d {
			d[i] = emf.Dimension{Name: fmt.Sprintf("D%d", i), Value: "v"}
		}
		return d
	}
	cases := []struct {
		name string
		do   func(l *emf.Logger) error
		want error // nil: accepted
	}{
		{"metric ok", func(l *emf.Logger) error { return l.PutMetric("Ok", 1, emf.Count) }, nil},
		{"NaN", func(l *emf.Logger) error { return l.PutMetric("M", math.NaN(), emf.Count) }, emf.ErrInvalidValue},
		{"+Inf", func(l *emf.Logger) error { return l.PutMetric("M", math.Inf(1), emf.Count) }, emf.ErrInvalidValue},
		{"-Inf", func(l *emf.Logger) error { return l.PutMetric("M", math.Inf(-1), emf.Count) }, emf.ErrInvalidValue},
		{"unknown unit", func(l *emf.Logger) error { return l.PutMetric("M", 1, "Furlongs") }, emf.ErrInvalidUnit},
		{"empty unit", func(l *emf.Logger) error { return l.PutMetric("M", 1, "") }, emf.ErrInvalidUnit},
		{"resolution 5", func(l *emf.Logger) error { return l.PutMetricWithResolution("M", 1, emf.Count, 5) }, emf.ErrInvalidResolution},
		{"resolution 1", func(l *emf.Logger) error { return l.PutMetricWithResolution("M", 1, emf.Count, emf.High) }, nil},
		{"empty metric name", func(l *emf.Logger) error { return l.PutMetric("", 1, emf.Count) }, emf.ErrInvalidName},
		{"blank metric name", func(l *emf.Logger) error { return l.PutMetric("   ", 1, emf.Count) }, emf.ErrInvalidName},
		{"metric name 255", func(l *emf.Logger) error { return l.PutMetric(long[:255], 1, emf.Count) }, nil},
		{"metric name 256", func(l *emf.Logger) error { return l.PutMetric(long, 1, emf.Count) }, emf.ErrInvalidName},
		{"metric name non-ASCII", func(l *emf.Logger) error { return l.PutMetric("Latenz–ms", 1, emf.Count) }, emf.ErrInvalidName},
		{"metric name control", func(l *emf.Logger) error { return l.PutMetric("a\nb", 1, emf.Count) }, emf.ErrInvalidName},
		{"metric name _aws", func(l *emf.Logger) error { return l.PutMetric("_aws", 1, emf.Count) }, emf.ErrInvalidName},
		{"values ok", func(l *emf.Logger) error { return l.PutMetricValues("V", emf.Milliseconds, 1, 2, 3) }, nil},
		{"values none", func(l *emf.Logger) error { return l.PutMetricValues("V", emf.Milliseconds) }, nil},
		{"values with NaN", func(l *emf.Logger) error {
			return l.PutMetricValues("V", emf.Milliseconds, 1, math.NaN())
		}, emf.ErrInvalidValue},
		{"values bad unit", func(l *emf.Logger) error { return l.PutMetricValues("V", "ms", 1) }, emf.ErrInvalidUnit},
		{"values bad name", func(l *emf.Logger) error { return l.PutMetricValues("", emf.Count, 1) }, emf.ErrInvalidName},
		{"unit conflict", func(l *emf.Logger) error {
			return errors.Join(l.PutMetric("M", 1, emf.Count), l.PutMetric("M", 1, emf.Seconds))
		}, emf.ErrConflict},
		{"resolution conflict", func(l *emf.Logger) error {
			return errors.Join(l.PutMetric("M", 1, emf.Count), l.PutMetricWithResolution("M", 1, emf.Count, emf.High))
		}, emf.ErrConflict},
		{"metric named like default dimension", func(l *emf.Logger) error { return l.PutMetric("ServiceName", 1, emf.Count) }, emf.ErrConflict},
		{"metric named like property", func(l *emf.Logger) error {
			return errors.Join(l.SetProperty("P", "x"), l.PutMetric("P", 1, emf.Count))
		}, emf.ErrConflict},
		{"property named like metric", func(l *emf.Logger) error {
			return errors.Join(l.PutMetric("P", 1, emf.Count), l.SetProperty("P", "x"))
		}, emf.ErrConflict},
		{"property NaN", func(l *emf.Logger) error { return l.SetPropertyNumber("P", math.NaN()) }, emf.ErrInvalidValue},
		{"property bad JSON", func(l *emf.Logger) error { return l.SetPropertyJSON("P", []byte(`{"a":`)) }, emf.ErrInvalidValue},
		{"property empty key", func(l *emf.Logger) error { return l.SetProperty("", "x") }, emf.ErrInvalidName},
		{"empty dimension value", func(l *emf.Logger) error { return l.PutDimensions(emf.Dimension{Name: "Route", Value: ""}) }, emf.ErrInvalidDimension},
		{"blank dimension value", func(l *emf.Logger) error { return l.PutDimensions(emf.Dimension{Name: "Route", Value: "  "}) }, emf.ErrInvalidDimension},
		{"non-ASCII dimension value", func(l *emf.Logger) error { return l.PutDimensions(emf.Dimension{Name: "Route", Value: "/café"}) }, emf.ErrInvalidDimension},
		{"dimension value 1024", func(l *emf.Logger) error {
			return l.PutDimensions(emf.Dimension{Name: "Route", Value: strings.Repeat("v", 1024)})
		}, nil},
		{"dimension value 1025", func(l *emf.Logger) error {
			return l.PutDimensions(emf.Dimension{Name: "Route", Value: strings.Repeat("v", 1025)})
		}, emf.ErrInvalidDimension},
		{"dimension name colon", func(l *emf.Logger) error { return l.PutDimensions(emf.Dimension{Name: ":x", Value: "v"}) }, emf.ErrInvalidName},
		{"dimension name 251", func(l *emf.Logger) error { return l.PutDimensions(emf.Dimension{Name: long[:251], Value: "v"}) }, emf.ErrInvalidName},
		{"28 dimensions + 2 defaults", func(l *emf.Logger) error { return l.PutDimensions(dims(28)...) }, nil},
		{"29 dimensions + 2 defaults", func(l *emf.Logger) error { return l.PutDimensions(dims(29)...) }, emf.ErrTooManyDimensions},
		{"30 dimensions, no defaults", func(l *emf.Logger) error { return l.SetDimensions(dims(30)) }, nil},
		{"31 dimensions, no defaults", func(l *emf.Logger) error { return l.SetDimensions(dims(31)) }, emf.ErrTooManyDimensions},
		{"dimension twice in a set", func(l *emf.Logger) error {
			return l.PutDimensions(emf.Dimension{Name: "A", Value: "1"}, emf.Dimension{Name: "A", Value: "1"})
		}, emf.ErrConflict},
		{"dimension with two values", func(l *emf.Logger) error {
			return errors.Join(l.PutDimensions(emf.Dimension{Name: "A", Value: "1"}), l.PutDimensions(emf.Dimension{Name: "A", Value: "2"}))
		}, emf.ErrConflict},
		{"dimension overriding a default", func(l *emf.Logger) error {
			return l.PutDimensions(emf.Dimension{Name: "ServiceName", Value: "other"})
		}, emf.ErrConflict},
		{"namespace ok", func(l *emf.Logger) error { return l.SetNamespace("My App/v1.2_x-y#z:w") }, nil},
		{"namespace empty", func(l *emf.Logger) error { return l.SetNamespace("") }, emf.ErrInvalidName},
		{"namespace blank", func(l *emf.Logger) error { return l.SetNamespace("  ") }, emf.ErrInvalidName},
		{"namespace 255", func(l *emf.Logger) error { return l.SetNamespace(long[:255]) }, nil},
		{"namespace 256", func(l *emf.Logger) error { return l.SetNamespace(long) }, emf.ErrInvalidName},
		{"namespace charset", func(l *emf.Logger) error { return l.SetNamespace("my*app") }, emf.ErrInvalidName},
		{"namespace AWS/", func(l *emf.Logger) error { return l.SetNamespace("AWS/Lambda") }, emf.ErrInvalidName},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, sink := newLogger(t)
			err := tc.do(l)
			if tc.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
			// Whatever was accepted must still make valid documents.
			must(t, l.PutMetric("Probe", 1, emf.Count))
			must(t, l.Flush(context.Background()))
			validate(t, sink.Documents())
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, opts := range map[string][]emf.Option{
		"namespace":         {emf.WithNamespace("AWS/EC2")},
		"default dimension": {emf.WithDefaultDimensions(emf.Dimension{Name: "Service", Value: ""})},
		"duplicate default": {emf.WithDefaultDimensions(emf.Dimension{Name: "A", Value: "1"}, emf.Dimension{Name: "A", Value: "2"})},
		"environment":       {emf.WithEnvironment("Mars")},
	} {
		if _, err := emf.New(append(opts, emf.WithSink(emftest.NewSink()))...); err == nil {
			t.Errorf("%s: New accepted a bad configuration", name)
		}
	}
}

// TestSplit puts 250 metrics with 150 values each and checks the documents
// are valid, within the limits, and carry every value exactly once.
func TestSplit(t *testing.T) {
	for _, tc := range []struct{ metrics, values, wantDocs int }{
		{1, 1, 1},
		{100, 100, 1},
		{101, 1, 2},
		{1, 101, 2},
		{1, 250, 3},
		{50, 150, 2},
		{250, 150, 5},
	} {
		t.Run(fmt.Sprintf("%dx%d", tc.metrics, tc.values), func(t *testing.T) {
			l, sink := newLogger(t)
			for v := range tc.values {
				for m := range tc.metrics {
					must(t, l.PutMetric(fmt.Sprintf("M%03d", m), float64(m*1000+v), emf.Count))
				}
			}
			must(t, l.Flush(context.Background()))
			docs := sink.Documents()
			validate(t, docs)
			if len(docs) != tc.wantDocs {
				t.Errorf("%d documents, want %d", len(docs), tc.wantDocs)
			}
			all := allValues(t, sink)
			if len(all) != tc.metrics {
				t.Fatalf("%d metrics, want %d", len(all), tc.metrics)
			}
			for m := range tc.metrics {
				got := all[fmt.Sprintf("M%03d", m)]
				if len(got) != tc.values {
					t.Fatalf("M%03d: %d values, want %d", m, len(got), tc.values)
				}
				for v, x := range got {
					if x != float64(m*1000+v) {
						t.Fatalf("M%03d value %d = %v, want %v (order or loss)", m, v, x, m*1000+v)
					}
				}
			}
		})
	}
}

func TestFlushSemantics(t *testing.T) {
	l, sink := newLogger(t)
	ctx := context.Background()
	must(t, l.Flush(ctx))
	if n := len(sink.Documents()); n != 0 {
		t.Fatalf("empty flush wrote %d documents", n)
	}
	must(t, l.PutDimensions(emf.Dimension{Name: "Route", Value: "/a"}))
	must(t, l.SetProperty("RequestId", "r1"))
	must(t, l.PutMetric("Requests", 1, emf.Count))
	must(t, l.Flush(ctx))
	must(t, l.PutMetric("Requests", 2, emf.Count))
	must(t, l.Flush(ctx))
	docs, err := sink.Decoded()
	must(t, err)
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2", len(docs))
	}
	if docs[1]["Requests"] != 2.0 || docs[1]["Route"] != "/a" || docs[1]["RequestId"] != "r1" {
		t.Errorf("second flush lost state or kept old values: %v", docs[1])
	}
	l.Reset()
	must(t, l.PutMetric("Requests", 3, emf.Count))
	must(t, l.Flush(ctx))
	docs, _ = sink.Decoded()
	if _, ok := docs[2]["Route"]; ok {
		t.Errorf("Reset kept a dimension: %v", docs[2])
	}
	if _, ok := docs[2]["RequestId"]; ok {
		t.Errorf("Reset kept a property: %v", docs[2])
	}
	if docs[2]["ServiceName"] != "checkout" {
		t.Errorf("Reset dropped the default dimensions: %v", docs[2])
	}
	// A failed SetDimensions keeps the previous sets.
	must(t, l.PutDimensions(emf.Dimension{Name: "Route", Value: "/b"}))
	if err := l.SetDimensions([]emf.Dimension{{Name: "X", Value: ""}}); !errors.Is(err, emf.ErrInvalidDimension) {
		t.Fatalf("SetDimensions accepted an empty value: %v", err)
	}
	must(t, l.PutMetric("Requests", 4, emf.Count))
	l.SetTimestamp(time.UnixMilli(42))
	must(t, l.Flush(ctx))
	docs, _ = sink.Decoded()
	if docs[3]["Route"] != "/b" || docs[3]["ServiceName"] != "checkout" {
		t.Errorf("failed SetDimensions changed the sets: %v", docs[3])
	}
	if ts := docs[3]["_aws"].(map[string]any)["Timestamp"]; ts != 42.0 {
		t.Errorf("Timestamp = %v, want 42", ts)
	}
	validate(t, sink.Documents())
}

// TestSinkErrorReported checks that a failing sink surfaces from Flush.
func TestSinkErrorReported(t *testing.T) {
	sink := emftest.NewSink()
	l, err := emf.New(emf.WithSink(sink), emf.WithEnvironment(emf.Local))
	must(t, err)
	must(t, sink.Shutdown(context.Background()))
	must(t, l.PutMetric("M", 1, emf.Count))
	if err := l.Flush(context.Background()); err == nil {
		t.Fatal("Flush to a shut-down sink returned nil")
	}
}

func TestWriterSink(t *testing.T) {
	var buf bytes.Buffer
	sink := emf.NewWriterSink(&buf)
	l, err := emf.New(emf.WithSink(sink), emf.WithClock(clock), emf.WithEnvironment(emf.Lambda), emf.WithServiceName("fn"))
	must(t, err)
	for range 150 {
		must(t, l.PutMetric("M", 1, emf.Count))
	}
	must(t, l.Flush(context.Background()))
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.Bytes())
	}
	validate(t, lines)
	if bytes.Contains(buf.Bytes(), []byte("LogGroupName")) {
		t.Error("Lambda output names a log group")
	}
	must(t, sink.Shutdown(context.Background()))
	if err := sink.WriteDocument(context.Background(), []byte("{}")); !errors.Is(err, emf.ErrClosed) {
		t.Errorf("write after Shutdown: %v, want ErrClosed", err)
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	l, _ := newLogger(t, emf.WithSink(emf.NewWriterSink(discard{})))
	ctx := context.Background()
	run := func() {
		l.Reset()
		_ = l.PutDimensions(emf.Dimension{Name: "Route", Value: "/orders/{id}"})
		_ = l.SetProperty("TraceId", "1-5759e988-bd862e3fe1be46a994272793")
		for i := range 120 {
			_ = l.PutMetric("Latency", float64(i), emf.Milliseconds)
		}
		_ = l.PutMetric("Requests", 1, emf.Count)
		_ = l.Flush(ctx)
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per invocation, want 0", a)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestDocumentSize fills 100 metrics with long names and long values: the
// document would pass 256 KiB, so it is split, and nothing is lost.
func TestDocumentSize(t *testing.T) {
	l, sink := newLogger(t)
	name := func(m int) string { return fmt.Sprintf("%03d%s", m, strings.Repeat("n", 252)) }
	val := func(m, v int) float64 { return -1.2345678901234567e-300 * float64(m*100+v+1) }
	for m := range 100 {
		for v := range 100 {
			must(t, l.PutMetric(name(m), val(m, v), emf.None))
		}
	}
	must(t, l.Flush(context.Background()))
	docs := sink.Documents()
	validate(t, docs)
	if len(docs) < 2 {
		t.Fatalf("%d documents, want the 256 KiB document split", len(docs))
	}
	for i, d := range docs {
		if len(d) > 256*1024-27 {
			t.Errorf("document %d has %d bytes", i, len(d))
		}
	}
	all := allValues(t, sink)
	for m := range 100 {
		got := all[name(m)]
		if len(got) != 100 || got[0] != val(m, 0) || got[99] != val(m, 99) {
			t.Fatalf("metric %d: %d values", m, len(got))
		}
	}
	// A single metric whose dimensions and properties alone are too large
	// is refused with ErrTooLarge, not written.
	l2, sink2 := newLogger(t)
	must(t, l2.SetPropertyJSON("Blob", []byte(`"`+strings.Repeat("x", 300*1024)+`"`)))
	must(t, l2.PutMetric("M", 1, emf.Count))
	if err := l2.Flush(context.Background()); !errors.Is(err, emf.ErrTooLarge) {
		t.Errorf("oversized document: %v, want ErrTooLarge", err)
	}
	if len(sink2.Documents()) != 0 {
		t.Error("an oversized document was written")
	}
}

// allValues decodes the documents once and gathers every declared metric's
// values, in order.
func allValues(t *testing.T, sink *emftest.Sink) map[string][]float64 {
	t.Helper()
	docs, err := sink.Decoded()
	must(t, err)
	out := map[string][]float64{}
	for _, d := range docs {
		for _, dir := range d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
			for _, m := range dir.(map[string]any)["Metrics"].([]any) {
				name := m.(map[string]any)["Name"].(string)
				switch v := d[name].(type) {
				case float64:
					out[name] = append(out[name], v)
				case []any:
					for _, x := range v {
						out[name] = append(out[name], x.(float64))
					}
				default:
					t.Fatalf("metric %s has value %v", name, d[name])
				}
			}
		}
	}
	return out
}

// TestConcurrentUse puts from several goroutines while another flushes:
// every value arrives exactly once.
func TestConcurrentUse(t *testing.T) {
	l, sink := newLogger(t)
	const writers, each = 4, 3000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.PutMetric(fmt.Sprintf("W%d", w), float64(i), emf.Count); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
				_ = l.Flush(context.Background())
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	must(t, l.Flush(context.Background()))
	validate(t, sink.Documents())
	all := allValues(t, sink)
	for w := range writers {
		got := all[fmt.Sprintf("W%d", w)]
		if len(got) != each {
			t.Fatalf("W%d: %d values, want %d", w, len(got), each)
		}
		for i, v := range got {
			if v != float64(i) {
				t.Fatalf("W%d value %d = %v: order broken or value lost", w, i, v)
			}
		}
	}
}

// TestShutdownOwnership: Logger.Shutdown flushes but leaves a sink given
// with WithSink open for its owner.
func TestShutdownOwnership(t *testing.T) {
	l, sink := newLogger(t)
	must(t, l.PutMetric("M", 1, emf.Count))
	must(t, l.Shutdown(context.Background()))
	if n := len(sink.Documents()); n != 1 {
		t.Fatalf("Shutdown wrote %d documents, want 1", n)
	}
	if err := sink.WriteDocument(context.Background(), []byte(`{}`)); err != nil {
		t.Errorf("the caller's sink was shut down: %v", err)
	}
}

func TestPutMetricValues(t *testing.T) {
	l, sink := newLogger(t)
	vals := make([]float64, 250)
	for i := range vals {
		vals[i] = float64(i)
	}
	must(t, l.PutMetric("Latency", -1, emf.Milliseconds))
	must(t, l.PutMetricValues("Latency", emf.Milliseconds, vals...))
	if err := l.PutMetricValues("Latency", emf.Milliseconds, 1, math.Inf(1)); !errors.Is(err, emf.ErrInvalidValue) {
		t.Fatalf("Inf accepted: %v", err)
	}
	must(t, l.Flush(context.Background()))
	validate(t, sink.Documents())
	got := allValues(t, sink)["Latency"]
	if len(got) != 251 || got[0] != -1 || got[250] != 249 {
		t.Errorf("%d values (first %v, last %v), want 251 from -1 to 249, the refused batch left out", len(got), got[0], got[len(got)-1])
	}
}
