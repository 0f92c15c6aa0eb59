package xraydoc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
)

// TestMiddlewareAndSidecarECSFields runs the middleware on "ECS" (a fake
// container metadata endpoint) emitting to a real sidecar that read the
// task metadata, which delivers to a fake X-Ray API: the segment arrives
// with the container's fields (from the middleware) and the task's (from
// the sidecar), with the middleware's values where both have a field.
func TestMiddlewareAndSidecarECSFields(t *testing.T) {
	sample, err := schematest.ReadReference("samples/ecs-v4-container-fargate.json")
	if err != nil {
		t.Fatal(err)
	}
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(sample) }))
	defer meta.Close()
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", meta.URL+"/v4/abc")

	fake := fakeaws.New()
	defer fake.Close()
	fake.SetEnv(t)
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	task := &ecsmeta.Task{Cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/prod", TaskARN: "arn:aws:ecs:us-east-1:111122223333:task/prod/abc", Family: "checkout", Revision: "7", LaunchType: "FARGATE"}
	c := config.Default()
	c.XRayUDPAddr, c.XRayTCPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.EMFTCPAddr, c.EMFUDPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.OTLPHTTPAddr, c.OTLPGRPCAddr = "off", "off"
	c.StatusAddr, c.UIAddr = "127.0.0.1:0", "127.0.0.1:0"
	sc, err := app.New(context.Background(), app.Options{Config: c, AWS: &awsCfg, Task: task})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sc.Shutdown(ctx); err != nil {
			t.Errorf("sidecar shutdown: %v", err)
		}
	}
	defer stop()

	em, err := xray.NewEmitter(xray.WithDaemonAddress(sc.Addrs()["xray_udp"]))
	if err != nil {
		t.Fatal(err)
	}
	defer em.Shutdown(context.Background())
	rules, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":1,"rate":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.HTTP(middleware.WithSegmentExporter(em), middleware.WithServiceName("checkout"), middleware.WithSamplingRules(rules), middleware.WithoutMetrics())(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	// The middleware reads the container metadata in the background; a
	// request before it is read would carry the hostname only, so retry
	// until a segment with the container ARN arrives.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ecs map[string]string
	var doc string
	for ecs["container_arn"] == "" {
		resp, err := http.Get(srv.URL + "/cart")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := em.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no segment with the container's fields arrived; last %s; sidecar counters %v", doc, sc.Counters().Snapshot())
		case <-fake.Changed():
		case <-time.After(50 * time.Millisecond):
		}
		for _, g := range fake.Segments() {
			var m struct {
				AWS struct {
					ECS map[string]string `json:"ecs"`
				} `json:"aws"`
			}
			if err := json.Unmarshal([]byte(g), &m); err != nil {
				t.Fatalf("%v: %s", err, g)
			}
			doc, ecs = g, m.AWS.ECS
		}
	}
	stop()
	if err := schematest.Segment([]byte(doc)); err != nil {
		t.Fatalf("delivered segment fails the schema: %v\n%s", err, doc)
	}
	want := map[string]string{
		"cluster":       task.Cluster,
		"task_arn":      task.TaskARN,
		"task_family":   "checkout",
		"task_revision": "7",
		"launch_type":   "FARGATE",
	}
	for k, v := range want {
		if ecs[k] != v {
			t.Errorf("aws.ecs.%s = %q, want %q (task field lost)\n%s", k, ecs[k], v, doc)
		}
	}
	for _, k := range []string{"container", "container_id", "container_arn"} {
		if ecs[k] == "" {
			t.Errorf("aws.ecs.%s missing (container field lost)\n%s", k, doc)
		}
	}
}
