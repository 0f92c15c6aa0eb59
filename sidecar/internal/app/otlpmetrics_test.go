package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
)

// meterExporter is what both OTLP metric exporters implement.
type meterExporter interface {
	Export(context.Context, *metricdata.ResourceMetrics) error
	Shutdown(context.Context) error
}

// recordAndExport records two rounds of measurements on every instrument
// kind with a real MeterProvider, exporting through exp after each round.
func recordAndExport(t *testing.T, exp meterExporter, service string, delta bool) {
	t.Helper()
	ctx := context.Background()
	var opts []sdkmetric.ManualReaderOption
	if delta {
		opts = append(opts, sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
	}
	reader := sdkmetric.NewManualReader(opts...)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", service), attribute.String("host.name", "h1"))),
		sdkmetric.WithView(
			sdkmetric.NewView(sdkmetric.Instrument{Name: "latency"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{
				Boundaries: []float64{0, 10, 20, 50}, NoMinMax: true}}),
			sdkmetric.NewView(sdkmetric.Instrument{Name: "payload.size"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{
				MaxSize: 160, MaxScale: 20}})))
	m := mp.Meter("sidelight/app-test")
	orders, _ := m.Int64Counter("orders", metric.WithUnit("{order}"))
	queue, _ := m.Int64UpDownCounter("queue.depth", metric.WithUnit("{item}"))
	latency, _ := m.Float64Histogram("latency", metric.WithUnit("ms"))
	payload, _ := m.Int64Histogram("payload.size", metric.WithUnit("By"))
	temp, _ := m.Float64Gauge("temperature", metric.WithUnit("Cel"))
	route := metric.WithAttributes(attribute.String("route", "/cart"))
	export := func() {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		if err := exp.Export(ctx, &rm); err != nil {
			t.Fatalf("%s: export: %v", service, err)
		}
	}
	orders.Add(ctx, 3, route)
	queue.Add(ctx, 5, route)
	latency.Record(ctx, 5, route)
	latency.Record(ctx, 15, route)
	payload.Record(ctx, 100, route)
	temp.Record(ctx, 21.5, route)
	export()
	orders.Add(ctx, 4, route)
	queue.Add(ctx, -2, route)
	latency.Record(ctx, 15, route)
	latency.Record(ctx, 35, route)
	payload.Record(ctx, 1000, route)
	temp.Record(ctx, 22.5, route)
	export()
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// received sums up what CloudWatch received for one metric of one
// service: samples, their sum, the distinct values, the units.
type received struct {
	count, sum float64
	values     []float64
	units      []string
}

func receivedMetrics(t *testing.T, fake *fakeaws.Server, ns string) map[string]*received {
	t.Helper()
	out := map[string]*received{}
	for _, r := range fake.Metrics() {
		if r.Namespace != ns {
			continue
		}
		for _, d := range r.MetricData {
			var service string
			dims := map[string]string{}
			for _, dim := range d.Dimensions {
				dims[dim.Name] = dim.Value
			}
			service = dims["Service"]
			if dims["route"] != "/cart" || (len(dims) != 2 && dims["Service"] != "retried") {
				t.Errorf("%s: dimensions %v, want Service and route", d.MetricName, d.Dimensions)
			}
			key := service + " " + d.MetricName
			rc := out[key]
			if rc == nil {
				rc = &received{}
				out[key] = rc
			}
			if !slices.Contains(rc.units, d.Unit) {
				rc.units = append(rc.units, d.Unit)
			}
			if s := d.StatisticValues; s != nil {
				rc.count += s.SampleCount
				rc.sum += s.Sum
				continue
			}
			for i, v := range d.Values {
				c := 1.0
				if d.Counts != nil {
					c = d.Counts[i]
				}
				rc.count += c
				rc.sum += v * c
				if !slices.Contains(rc.values, v) {
					rc.values = append(rc.values, v)
				}
			}
		}
	}
	return out
}

// TestOTLPMetricsToCloudWatch: the OpenTelemetry SDK's OTLP/HTTP
// (cumulative) and OTLP/gRPC (delta) metric exporters send every
// instrument kind to the sidecar at once; CloudWatch (the fake, decoding
// PutMetricData's CBOR) receives each as datums with the recorded counts
// and sums, CloudWatch units, and Service and route dimensions. A
// cumulative series' first export is its baseline, so only the second
// round of the cumulative exporter arrives; an up-down counter's level
// arrives as is.
func TestOTLPMetricsToCloudWatch(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	t.Setenv("AWS_EMF_NAMESPACE", "OTLPTest")
	a := startAWS(t, fake, testConfig(), nil)
	addrs := a.Addrs()
	ctx := context.Background()
	httpExp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(addrs["otlp_http"]), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	grpcExp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(addrs["otlp_grpc"]), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { recordAndExport(t, httpExp, "cumulative-svc", false) })
	wg.Go(func() { recordAndExport(t, grpcExp, "delta-svc", true) })
	wg.Wait()
	shutdown(t, a)
	got := receivedMetrics(t, fake, "OTLPTest")
	type want struct {
		count, sum float64
		unit       string
		values     []float64 // when not nil, the distinct values
		tolerance  float64   // relative, for the sum
	}
	for key, w := range map[string]want{
		"delta-svc orders":            {2, 7, "Count", []float64{3, 4}, 0},
		"delta-svc queue.depth":       {2, 3, "Count", []float64{5, -2}, 0},
		"delta-svc latency":           {4, 70, "Milliseconds", []float64{5, 15, 35}, 0},
		"delta-svc payload.size":      {2, 1100, "Bytes", nil, 0.001},
		"delta-svc temperature":       {2, 44, "None", []float64{21.5, 22.5}, 0},
		"cumulative-svc orders":       {1, 4, "Count", []float64{4}, 0},
		"cumulative-svc queue.depth":  {2, 8, "Count", []float64{5, 3}, 0},
		"cumulative-svc latency":      {2, 50, "Milliseconds", []float64{15, 35}, 0},
		"cumulative-svc payload.size": {1, 1000, "Bytes", nil, 0.001},
		"cumulative-svc temperature":  {2, 44, "None", []float64{21.5, 22.5}, 0},
	} {
		r := got[key]
		if r == nil {
			t.Errorf("%s: nothing received", key)
			continue
		}
		slices.Sort(r.values)
		slices.Sort(w.values)
		if r.count != w.count || math.Abs(r.sum-w.sum) > w.tolerance*w.sum || fmt.Sprint(r.units) != "["+w.unit+"]" ||
			(w.values != nil && !slices.Equal(r.values, w.values)) {
			t.Errorf("%s: count %v sum %v values %v units %v; want %+v", key, r.count, r.sum, r.values, r.units, w)
		}
	}
	if len(got) != 10 || fake.Invalid() != 0 {
		t.Errorf("%d series received (%d invalid requests): %v", len(got), fake.Invalid(), got)
	}
	cs := a.Counters()
	if cs.Get("otlp.metrics.baselines") != 3 || cs.Get("otlp.rejected.data_points") != 0 || cs.Get("metrics.points_taken") == 0 {
		t.Errorf("counters %v", cs.Snapshot())
	}
}

// TestOTLPMetricsBudgetFullAsksSDKToRetry: with CloudWatch hanging and the
// metrics pipeline's share of the memory budget full of EMF aggregates,
// an OTLP metrics export is refused with 429 rather than accepted and
// dropped; the SDK's exporter retries, and once CloudWatch answers again
// (the queued requests leave and make room) its values arrive.
func TestOTLPMetricsBudgetFullAsksSDKToRetry(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.Hang(fakeaws.CloudWatch, true)
	t.Setenv("AWS_EMF_NAMESPACE", "OTLPTest")
	c := testConfig()
	c.MemoryBudget = 64 << 10
	c.MetricsFlush = time.Hour // aggregates stay held until the refusal asks for a flush
	a := startAWS(t, fake, c, nil)
	cs := a.Counters()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", a.Addrs()["emf_tcp"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	now := time.Now().UnixMilli()
	free := func() float64 {
		st := getStatus(t, a.Addrs()["status"])
		return st.Info["memory_budget_bytes"].(float64) - st.Info["memory_budget_used"].(float64)
	}
	line := 0
	// fill sends EMF points of new series until the budget is nearly all
	// taken: aggregates, and the requests they were flushed into when a
	// point found no room, waiting for CloudWatch.
	fill := func() {
		for i := 0; i%100 != 0 || free() > 3000; i++ {
			if i > 50000 {
				t.Fatalf("the budget never filled: %v", cs.Snapshot())
			}
			fmt.Fprintf(conn, `{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"Fill","Dimensions":[["id"]],"Metrics":[{"Name":"x"}]}]},"id":"%d","x":1}`+"\n", now, line)
			line++
			if i%100 == 99 {
				waitCounters(t, ctx, a, "EMF lines read", func() bool { return cs.Get("metrics.values_received") >= uint64(line-5) })
			}
		}
	}

	refused := make(chan struct{})
	var once sync.Once
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(a.Addrs()["otlp_http"]), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := tr.RoundTrip(r)
			if err == nil && resp.StatusCode == http.StatusTooManyRequests {
				once.Do(func() { close(refused) })
			}
			return resp, err
		})}),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 25 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "retried"))))
	orders, _ := mp.Meter("t").Int64Counter("orders")
	// Each round fills the budget and exports 10 new series (about 6 KB of
	// aggregates). A flush the filling asked for may still make room for
	// a round; the first round refused ends the loop. Every round the SDK
	// saw acknowledged must arrive.
	acknowledged := 0.0
	rounds := 0
	for refusedYet := false; !refusedYet; rounds++ {
		if rounds == 20 {
			t.Fatalf("no export refused with 429 in %d rounds: %v", rounds, cs.Snapshot())
		}
		fill()
		for i := range 10 {
			orders.Add(ctx, 41, metric.WithAttributes(attribute.String("route", "/cart"), attribute.Int("shard", i), attribute.Int("round", rounds),
				attribute.String("tenant", "a-rather-long-tenant-name-for-a-bigger-series-key")))
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- exp.Export(ctx, &rm) }()
		select {
		case <-refused: // the SDK got 429 at least once: let CloudWatch answer
			refusedYet = true
			fake.Hang(fakeaws.CloudWatch, false)
		case err := <-done:
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			acknowledged += 410
			continue
		}
		if err := <-done; err != nil {
			t.Fatalf("the SDK's export did not succeed after CloudWatch recovered: %v; counters %v", err, cs.Snapshot())
		}
		acknowledged += 410
	}
	_ = exp.Shutdown(ctx)
	_ = mp.Shutdown(ctx)
	// The refusal comes from the receiver (decode memory is reserved in
	// the same budget, full of queued metrics) or from the pipeline.
	if cs.Get("otlp.refused.budget_full") == 0 {
		t.Fatalf("429 without a budget_full refusal counted: %v", cs.Snapshot())
	}
	shutdown(t, a)
	var sum float64
	n := 0
	for _, r := range fake.Metrics() {
		for _, d := range r.MetricData {
			if r.Namespace == "OTLPTest" && d.MetricName == "orders" {
				n++
				for _, v := range d.Values {
					sum += v
				}
			}
		}
	}
	if n != 10*rounds || sum != acknowledged || cs.Get("otlp.rejected.data_points") != 0 {
		t.Fatalf("%d datums, sum %v for %d rounds acknowledged; counters %v", n, sum, rounds, cs.Snapshot())
	}
}

// TestOTLPMetricsInLocalView: in local mode, metrics exported over
// OTLP/HTTP by an exporter configured only with
// OTEL_EXPORTER_OTLP_ENDPOINT show up in the local view's metrics, with
// their counts and sums, under their Service dimension.
func TestOTLPMetricsInLocalView(t *testing.T) {
	t.Setenv("AWS_EMF_NAMESPACE", "LocalOTLP")
	a, err := app.New(context.Background(), app.Options{Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+a.Addrs()["otlp_http"])
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	recordAndExport(t, exp, "local-svc", true)
	client := otlpHTTPClient(t)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	want := map[string][2]float64{"orders": {2, 7}, "latency": {4, 70}, "temperature": {2, 44}}
	for {
		var res struct {
			Series []struct {
				Namespace, Name string
				Unit            string
				Dimensions      []struct{ Key, Value string }
				Points          []struct {
					N   int
					Sum float64
				}
			}
		}
		resp, err := client.Get(a.Addrs()["ui"] + "api/metrics?namespace=LocalOTLP")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][2]float64{}
		for _, s := range res.Series {
			if len(s.Dimensions) != 2 || s.Dimensions[0] != (struct{ Key, Value string }{"Service", "local-svc"}) {
				continue
			}
			for _, p := range s.Points {
				g := got[s.Name]
				got[s.Name] = [2]float64{g[0] + float64(p.N), g[1] + p.Sum}
			}
		}
		ok := true
		for k, w := range want {
			ok = ok && got[k] == w
		}
		if ok {
			return
		}
		select {
		case <-wctx.Done():
			t.Fatalf("metrics in the view %v, want %v; counters %v", got, want, a.Counters().Snapshot())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
