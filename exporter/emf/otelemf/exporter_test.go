package otelemf_test

import (
	"context"
	"errors"
	"math"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/emf/otelemf"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup returns a real MeterProvider whose PeriodicReader exports through
// an otelemf.Exporter into an in-memory sink. The interval is long: tests
// export with ForceFlush.
func setup(t *testing.T, opts ...otelemf.Option) (*sdkmetric.MeterProvider, *emftest.Sink) {
	t.Helper()
	sink := emftest.NewSink()
	exp, err := otelemf.New(append([]otelemf.Option{otelemf.WithEMFOptions(emf.WithSink(sink), emf.WithEnvironment(emf.Local),
		emf.WithNamespace("OTel"), emf.WithDefaultDimensions(emf.Dimension{Name: "Service", Value: "api"}))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, sink
}

// docs validates and decodes the documents, indexed by metric name; a
// metric split across documents appears more than once.
func docs(t *testing.T, sink *emftest.Sink) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for i, d := range sink.Documents() {
		if err := schematest.EMF(d); err != nil {
			t.Fatalf("document %d invalid: %v\n%s", i, err, d)
		}
	}
	decoded, err := sink.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range decoded {
		for _, dir := range d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
			for _, m := range dir.(map[string]any)["Metrics"].([]any) {
				name := m.(map[string]any)["Name"].(string)
				out[name] = append(out[name], d)
			}
		}
	}
	return out
}

func unitOf(d map[string]any, name string) string {
	for _, m := range d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any) {
		if m.(map[string]any)["Name"] == name {
			return m.(map[string]any)["Unit"].(string)
		}
	}
	return ""
}

func TestExportInstruments(t *testing.T) {
	mp, sink := setup(t)
	ctx := context.Background()
	meter := mp.Meter("test")
	requests, _ := meter.Int64Counter("requests", metric.WithUnit("{request}"))
	bytesOut, _ := meter.Float64Counter("bytes_out", metric.WithUnit("By"))
	inflight, _ := meter.Int64UpDownCounter("inflight")
	temp, _ := meter.Float64Gauge("cpu", metric.WithUnit("%"))
	latency, _ := meter.Float64Histogram("latency", metric.WithUnit("ms"))
	_, _ = meter.Int64ObservableGauge("goroutines", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(7)
		return nil
	}))

	get := metric.WithAttributes(attribute.String("http.route", "/orders/{id}"), attribute.String("http.request.method", "GET"))
	post := metric.WithAttributes(attribute.String("http.route", "/orders"), attribute.String("http.request.method", "POST"))
	requests.Add(ctx, 3, get)
	requests.Add(ctx, 1, post)
	bytesOut.Add(ctx, 1024.5, get)
	inflight.Add(ctx, 2)
	temp.Record(ctx, 42.5)
	for i := 1; i <= 50; i++ {
		latency.Record(ctx, float64(i), get)
	}
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	got := docs(t, sink)

	if len(got["requests"]) != 2 {
		t.Fatalf("requests in %d documents, want 2 (one per attribute set)", len(got["requests"]))
	}
	for _, d := range got["requests"] {
		want := map[string]float64{"/orders/{id}": 3, "/orders": 1}[d["http.route"].(string)]
		if d["requests"] != want || d["Service"] != "api" || unitOf(d, "requests") != "Count" {
			t.Errorf("requests document %v, want value %v, Service api, unit Count", d, want)
		}
	}
	if d := got["bytes_out"][0]; d["bytes_out"] != 1024.5 || unitOf(d, "bytes_out") != "Bytes" || d["http.request.method"] != "GET" {
		t.Errorf("bytes_out document %v", d)
	}
	if d := got["inflight"][0]; d["inflight"] != 2.0 || unitOf(d, "inflight") != "Count" {
		t.Errorf("inflight document %v", d)
	}
	if d := got["cpu"][0]; d["cpu"] != 42.5 || unitOf(d, "cpu") != "Percent" {
		t.Errorf("cpu document %v", d)
	}
	if d := got["goroutines"][0]; d["goroutines"] != 7.0 || unitOf(d, "goroutines") != "None" {
		t.Errorf("goroutines document %v", d)
	}
	// Histogram: one value per measurement, near the recorded values.
	lat := got["latency"]
	if len(lat) != 1 || unitOf(lat[0], "latency") != "Milliseconds" {
		t.Fatalf("latency documents %v", lat)
	}
	var vals []float64
	for _, v := range lat[0]["latency"].([]any) {
		vals = append(vals, v.(float64))
	}
	sort.Float64s(vals)
	if len(vals) != 50 {
		t.Fatalf("%d latency values, want 50", len(vals))
	}
	for i, v := range vals {
		if math.Abs(v-float64(i+1)) > float64(i+1)*0.03 {
			t.Errorf("latency value %d = %v, want %d within 3%%", i, v, i+1)
		}
	}
	if vals[0] != 1 || vals[49] != 50 {
		t.Errorf("min/max %v/%v, want exactly 1/50", vals[0], vals[49])
	}

	// Counters are delta: a second export carries only the new increments.
	sink.Reset()
	requests.Add(ctx, 5, get)
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	got = docs(t, sink)
	if d := got["requests"]; len(d) != 1 || d[0]["requests"] != 5.0 {
		t.Errorf("second export requests %v, want one document with 5", d)
	}
	if _, ok := got["latency"]; ok {
		t.Error("histogram with no new measurements exported values")
	}
	if d := got["inflight"]; len(d) != 1 || d[0]["inflight"] != 2.0 {
		t.Errorf("up-down counter is not cumulative: %v", d)
	}
}

// TestHistogramThinning records 100,000 measurements: the values are
// capped, split into valid documents, and keep the distribution.
func TestHistogramThinning(t *testing.T) {
	mp, sink := setup(t, otelemf.WithMaxHistogramValues(250))
	ctx := context.Background()
	h, _ := mp.Meter("t").Int64Histogram("size", metric.WithUnit("By"))
	for i := 1; i <= 100000; i++ {
		h.Record(ctx, int64(i))
	}
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	got := docs(t, sink)["size"]
	var vals []float64
	for _, d := range got {
		switch v := d["size"].(type) {
		case []any:
			for _, x := range v {
				vals = append(vals, x.(float64))
			}
		case float64:
			vals = append(vals, v)
		}
	}
	sort.Float64s(vals)
	if len(got) != 3 || len(vals) < 249 || len(vals) > 252 {
		t.Fatalf("%d documents, %d values; want 3 documents, about 250 values", len(got), len(vals))
	}
	if vals[0] != 1 || vals[len(vals)-1] != 100000 {
		t.Errorf("min %v max %v, want 1 and 100000", vals[0], vals[len(vals)-1])
	}
	if med := vals[len(vals)/2]; math.Abs(med-50000) > 2500 {
		t.Errorf("median %v, want about 50000", med)
	}
}

// TestExplicitBucketsAndAttributes uses the SDK's explicit-bucket histogram
// (through a view) and attributes that cannot be dimensions.
func TestExplicitBucketsAndAttributes(t *testing.T) {
	sink := emftest.NewSink()
	exp, err := otelemf.New(otelemf.WithEMFOptions(emf.WithSink(sink), emf.WithEnvironment(emf.Local), emf.WithDefaultDimensions()))
	if err != nil {
		t.Fatal(err)
	}
	view := sdkmetric.NewView(sdkmetric.Instrument{Name: "d"}, sdkmetric.Stream{
		Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{10, 100}}})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithView(view), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	defer mp.Shutdown(context.Background())
	ctx := context.Background()
	h, _ := mp.Meter("t").Float64Histogram("d", metric.WithUnit("s"))
	attrs := []attribute.KeyValue{attribute.String("empty", ""), attribute.String("ok", "v"), attribute.Int("code", 200)}
	for i := range 35 {
		attrs = append(attrs, attribute.String("k"+string(rune('A'+i)), "x"))
	}
	for _, v := range []float64{5, 50, 500, 7} {
		h.Record(ctx, v, metric.WithAttributes(attrs...))
	}
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	d := docs(t, sink)["d"][0]
	vals := d["d"].([]any)
	if len(vals) != 4 || vals[0] != 5.0 || vals[3] != 500.0 {
		t.Errorf("explicit histogram values %v, want 4 values from 5 to 500", vals)
	}
	if d["empty"] != "" || d["ok"] != "v" || d["code"] != "200" {
		t.Errorf("attributes not kept: empty=%q ok=%v code=%v", d["empty"], d["ok"], d["code"])
	}
	dims := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)[0].([]any)
	if len(dims) != 30 {
		t.Errorf("%d dimensions, want 30 (the rest as properties)", len(dims))
	}
	for _, n := range dims {
		if n == "empty" {
			t.Error("empty attribute used as a dimension")
		}
	}
	for i := range 35 {
		if k := "k" + string(rune('A'+i)); d[k] != "x" {
			t.Errorf("attribute %s lost: %v", k, d[k])
		}
	}
}

func TestShutdown(t *testing.T) {
	sink := emftest.NewSink()
	exp, err := otelemf.New(otelemf.WithEMFOptions(emf.WithSink(sink), emf.WithEnvironment(emf.Local)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := exp.Export(ctx, &metricdata.ResourceMetrics{}); !errors.Is(err, sdkmetric.ErrExporterShutdown) {
		t.Errorf("Export after Shutdown: %v", err)
	}
	if _, err := otelemf.New(otelemf.WithMaxHistogramValues(0)); err == nil {
		t.Error("zero MaxHistogramValues accepted")
	}
	if _, err := otelemf.New(otelemf.WithEMFOptions(emf.WithNamespace("AWS/Nope"))); err == nil {
		t.Error("invalid namespace accepted")
	}
}

func TestResourceDimensions(t *testing.T) {
	sink := emftest.NewSink()
	exp, err := otelemf.New(otelemf.WithResourceDimensions("service.name", "absent"),
		otelemf.WithEMFOptions(emf.WithSink(sink), emf.WithEnvironment(emf.Local), emf.WithDefaultDimensions()))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "orders"), attribute.String("host.name", "h1"))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	defer mp.Shutdown(context.Background())
	ctx := context.Background()
	c, _ := mp.Meter("t").Int64Counter("hits")
	c.Add(ctx, 1, metric.WithAttributes(attribute.String("route", "/a"), attribute.String("service.name", "spoofed")))
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	d := docs(t, sink)["hits"][0]
	dims := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)[0].([]any)
	if len(dims) != 2 || dims[0] != "service.name" || dims[1] != "route" || d["service.name"] != "orders" {
		t.Errorf("dimensions %v, service.name %v; want [service.name route], orders", dims, d["service.name"])
	}
	if _, ok := d["host.name"]; ok {
		t.Error("a resource attribute not asked for was written")
	}
}
