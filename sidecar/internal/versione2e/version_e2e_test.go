// Package versione2e_test runs the middleware's metrics by version
// through a real sidecar into the fake CloudWatch: the [Service, Version]
// dimension set the rollback alarms select must survive the EMF receiver,
// the aggregation and PutMetricData.
package versione2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMetricsByVersionThroughSidecar: an HTTP service on ECS (its version
// the task definition family:revision from the task metadata endpoint,
// metrics by version switched on by SIDELIGHT_METRICS_BY_VERSION) sends
// its request metrics over TCP to a sidecar, which sends them to
// CloudWatch: PutMetricData carries Faults and Latency under [Service,
// Version] with the version, besides the [Service] series.
func TestMetricsByVersionThroughSidecar(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.SetEnv(t)
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.XRayUDPAddr, c.XRayTCPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.EMFTCPAddr, c.EMFUDPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.StatusAddr, c.UIAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.OTLPHTTPAddr, c.OTLPGRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	a, err := app.New(context.Background(), app.Options{Config: c, AWS: &awsCfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	container, _ := json.Marshal(map[string]any{"DockerId": "abc", "Name": "app", "Image": "repo/orders:latest",
		"Labels": map[string]string{"com.amazonaws.ecs.task-definition-family": "orders", "com.amazonaws.ecs.task-definition-version": "17"}})
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(container) }))
	defer meta.Close()
	t.Setenv(deployversion.ECSMetadataEnv, meta.URL+"/v4/abc")
	t.Setenv(redmetric.VersionEnv, "true")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	t.Setenv("OTEL_SERVICE_NAME", "")

	sink, err := emf.NewAgentSink("tcp://" + a.Addrs()["emf_tcp"])
	if err != nil {
		t.Fatal(err)
	}
	k, err := middleware.New(middleware.WithSegmentExporter(nil), middleware.WithServiceName("orders"),
		middleware.WithMetricsSink(sink), middleware.WithMetricsNamespace("Shop"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "boom" {
			w.WriteHeader(500)
		}
	})
	h := k.HTTP()(mux)
	for _, p := range []string{"/orders/1", "/orders/boom", "/orders/2", "/orders/boom"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for a.Counters().Get("emf.accepted") < 2 { // one document per route, method and status class
		select {
		case <-ctx.Done():
			t.Fatalf("EMF not read: %v", a.Counters().Snapshot())
		case <-time.After(10 * time.Millisecond): // polling the sidecar's counters
		}
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("sidecar shutdown: %v; counters %v", err, a.Counters().Snapshot())
	}

	type series struct{ metric, dims string }
	got := map[series]float64{}
	for _, req := range fake.Metrics() {
		if req.Namespace != "Shop" {
			continue
		}
		for _, d := range req.MetricData {
			var dims []string
			for _, dim := range d.Dimensions {
				dims = append(dims, dim.Name+"="+dim.Value)
			}
			slices.Sort(dims)
			s := series{d.MetricName, join(dims)}
			switch {
			case d.Value != nil:
				got[s] += *d.Value
			case d.StatisticValues != nil:
				got[s] += d.StatisticValues.Sum
			default:
				for i, v := range d.Values {
					n := 1.0
					if i < len(d.Counts) {
						n = d.Counts[i]
					}
					if d.MetricName == redmetric.MetricLatency {
						got[s] += n // count the latency samples
					} else {
						got[s] += v * n
					}
				}
			}
		}
	}
	byVersion := join([]string{redmetric.Service + "=orders", redmetric.Version + "=orders:17"})
	for metric, want := range map[string]float64{redmetric.MetricFaults: 2, redmetric.MetricRequests: 4, redmetric.MetricLatency: 4} {
		if got[series{metric, byVersion}] != want {
			t.Errorf("%s by %s: %v, want %v; PutMetricData carried %v", metric, byVersion, got[series{metric, byVersion}], want, got)
		}
		if got[series{metric, redmetric.Service + "=orders"}] != want {
			t.Errorf("%s by Service: %v, want %v", metric, got[series{metric, redmetric.Service + "=orders"}], want)
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
