package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// serveSampled sends one request with Sampled=1 through the middleware.
func serveSampled(t *testing.T, mw func(http.Handler) http.Handler) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	req := httptest.NewRequest("GET", "/items/1", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	mw(mux).ServeHTTP(httptest.NewRecorder(), req)
}

// A kit starts nothing while there is nothing to send; with traffic it
// starts the exporter's sender, the metrics writers and the metadata
// lookup; Shutdown sends everything and leaves no goroutine.
func TestKitOwnsWhatItStarts(t *testing.T) {
	daemon, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"DockerId":"abc","Name":"app","ContainerARN":"arn:aws:ecs:eu-west-1:123456789012:container/x"}`))
	}))
	defer meta.Close()
	before := goleak.IgnoreCurrent()

	sink := emftest.NewSink()
	k, err := New(env{"AWS_XRAY_DAEMON_ADDRESS": daemon.Addr(), "ECS_CONTAINER_METADATA_URI_V4": meta.URL}.opt(),
		WithServiceName("orders"), WithSamplingRules(always(t)), WithMetricsSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	mw := k.HTTP()
	_ = k.Transport(nil)
	_ = k.LambdaHandler(echoHandler{})
	_ = Lambda(func(context.Context, string) (string, error) { return "", nil }, WithKit(k))
	if err := goleak.Find(before); err != nil {
		t.Fatalf("goroutines before the first request: %v", err)
	}
	if err := k.ForceFlush(context.Background()); err != nil {
		t.Fatalf("ForceFlush with nothing sent: %v", err)
	}

	serveSampled(t, mw)
	serveSampled(t, mw)
	if goleak.Find(before) == nil {
		t.Fatal("a request started no sender")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("after Shutdown: %v", err)
	}
	if _, err := daemon.WaitFor(ctx, 2); err != nil {
		t.Fatalf("segments after Shutdown: %v", err)
	}
	if n, _ := sink.Values("Requests"); len(n) != 1 || n[0] != 2 {
		t.Errorf("Requests written at Shutdown = %v, want [2]", n)
	}

	// Afterwards the middleware still serves; segments are dropped and
	// counted, and nothing starts again.
	serveSampled(t, mw)
	if st := k.Exporter().(*xray.Emitter).Stats(); st.DroppedClosed != 1 {
		t.Errorf("stats after Shutdown %+v, want one DroppedClosed", st)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("a request after Shutdown started: %v", err)
	}
	if err := k.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// Shutdown flushes an exporter it was given and leaves it running: its
// owner shuts it down.
func TestKitLeavesGivenExporterToItsOwner(t *testing.T) {
	rec := xraytest.NewRecorder()
	k, _ := New(WithSegmentExporter(rec), WithSamplingRules(always(t)), WithoutMetrics())
	serveSampled(t, k.HTTP())
	if err := k.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	serveSampled(t, k.HTTP())
	if n := len(rec.Segments()); n != 2 || rec.Dropped() != 0 {
		t.Errorf("segments %d dropped %d, want 2 and 0", n, rec.Dropped())
	}
}

// Options given to a method apply over the kit's; the kit's exporter is
// shared.
func TestKitMethodOptions(t *testing.T) {
	rec := xraytest.NewRecorder()
	k, _ := New(WithSegmentExporter(rec), WithServiceName("base"), WithSamplingRules(always(t)), WithoutMetrics())
	defer k.Shutdown(context.Background())
	serveSampled(t, k.HTTP())
	serveSampled(t, k.HTTP(WithServiceName("other")))
	serveSampled(t, HTTP(WithKit(k), WithServiceName("third")))
	segs := rec.Segments()
	if len(segs) != 3 || segs[0].Name != "base" || segs[1].Name != "other" || segs[2].Name != "third" {
		t.Fatalf("segments %v", segs)
	}
}

func TestDefaultKit(t *testing.T) {
	if Default() != Default() || kitFrom(nil) != Default() {
		t.Fatal("the default kit is not one kit")
	}
	k, _ := New(WithSegmentExporter(nil))
	if kitFrom([]Option{WithServiceName("x"), WithKit(k)}) != k || kitFrom([]Option{WithKit(nil)}) != Default() {
		t.Fatal("WithKit not honoured")
	}
}

// Concurrent requests, flushes and a shutdown: no race, no panic.
func TestKitConcurrentShutdown(t *testing.T) {
	rec := xraytest.NewRecorder()
	k, _ := New(WithSegmentExporter(rec), WithSamplingRules(always(t)), WithMetricsSink(emftest.NewSink()))
	mw := k.HTTP()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				serveSampled(t, mw)
			}
		})
	}
	wg.Go(func() { _ = k.ForceFlush(context.Background()) })
	wg.Go(func() { _ = k.Shutdown(context.Background()) })
	wg.Wait()
	if len(rec.Segments()) != 200 {
		t.Errorf("%d segments, want 200", len(rec.Segments()))
	}
}

type echoHandler struct{}

func (echoHandler) Invoke(_ context.Context, p []byte) ([]byte, error) { return p, nil }

// The kit's Lambda wrappers send through its exporter and flush it before
// the invocation returns.
func TestKitLambda(t *testing.T) {
	rec := xraytest.NewRecorder()
	k, _ := New(WithSegmentExporter(rec), WithServiceName("orders"), WithoutMetrics())
	defer k.Shutdown(context.Background())
	//nolint:staticcheck // aws-lambda-go's own plain string key
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if _, err := k.LambdaHandler(echoHandler{}).Invoke(ctx, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	typed := Lambda(func(context.Context, string) (string, error) { return "ok", nil }, WithKit(k), WithServiceName("typed"))
	if _, err := typed(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	segs := rec.Segments()
	if len(segs) != 2 || segs[0].Name != "## orders" || segs[1].Name != "## typed" || segs[0].ParentID != "53995c3f42cd8ad8" {
		t.Fatalf("segments %+v", segs)
	}
	if segs[0].Annotations["cold_start"] != true || segs[1].Annotations["cold_start"] != false {
		t.Errorf("one cold start per kit, whatever the wrapper: %v %v", segs[0].Annotations, segs[1].Annotations)
	}
}
