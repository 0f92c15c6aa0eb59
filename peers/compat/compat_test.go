package compat

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	awsxray "github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/middleware"
	sidelightsampling "github.com/seed-c77c9410/sidelight/middleware/sampling"
)

type fixture struct {
	daemon  *xraytest.Daemon
	emitter *xray.Emitter
}

// newFixture starts a daemon stand-in that both Sidelight's emitter and
// aws-xray-sdk-go send to.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	e, err := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	strategy, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1},"rules":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	awsxray.SetLogger(xraylog.NullLogger)
	if err := awsxray.Configure(awsxray.Config{DaemonAddr: d.Addr(), SamplingStrategy: strategy, ServiceVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.Shutdown(context.Background())
		_ = d.Close()
	})
	return &fixture{daemon: d, emitter: e}
}

func (f *fixture) middleware(t *testing.T, name string) func(http.Handler) http.Handler {
	rules, err := sidelightsampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	return middleware.HTTP(middleware.WithSegmentExporter(f.emitter), middleware.WithServiceName(name), middleware.WithSamplingRules(rules))
}

func (f *fixture) wait(t *testing.T, n int) []xraytest.Segment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = f.emitter.ForceFlush(ctx)
	docs, err := f.daemon.WaitFor(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// Every document Sidelight's middleware emits decodes into the X-Ray
// SDK's own segment model with the same values.
func TestDocumentsDecodeIntoXRaySDKSegment(t *testing.T) {
	f := newFixture(t)
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer downstream.Close()
	client := &http.Client{Transport: middleware.Transport(nil, middleware.WithSegmentExporter(f.emitter))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = middleware.AddAnnotation(r.Context(), "customer", "c-1")
		_ = middleware.AddMetadata(r.Context(), "basket", []string{"a", "b"})
		req, _ := http.NewRequestWithContext(r.Context(), "GET", downstream.URL+"/stock", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
		w.WriteHeader(404)
		w.Write([]byte("nope"))
	})
	srv := httptest.NewServer(f.middleware(t, "orders")(mux))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/orders/7", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	doc := f.wait(t, 1)[0]
	if err := schematest.Segment(doc.Raw); err != nil {
		t.Fatalf("schema: %v", err)
	}
	var seg awsxray.Segment
	if err := json.Unmarshal(doc.Raw, &seg); err != nil {
		t.Fatalf("aws-xray-sdk-go cannot decode our document: %v\n%s", err, doc.Raw)
	}
	if seg.Name != "orders" || seg.TraceID != doc.TraceID || seg.ID != doc.ID || !seg.Error || seg.Fault {
		t.Errorf("decoded %q %s %s error=%v fault=%v", seg.Name, seg.TraceID, seg.ID, seg.Error, seg.Fault)
	}
	if seg.HTTP == nil || seg.HTTP.Request.Method != "POST" || seg.HTTP.Response.Status != 404 || seg.HTTP.Response.ContentLength != 4 {
		t.Errorf("http block %+v", seg.HTTP)
	}
	if seg.Annotations["customer"] != "c-1" || seg.Annotations["route"] != "POST /orders/{id}" {
		t.Errorf("annotations %v", seg.Annotations)
	}
	if basket, ok := seg.Metadata["default"]["basket"].([]any); !ok || len(basket) != 2 {
		t.Errorf("metadata %v", seg.Metadata)
	}
	if seg.EndTime <= seg.StartTime || seg.StartTime < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("times %f..%f", seg.StartTime, seg.EndTime)
	}
	if len(seg.Subsegments) != 1 {
		t.Fatalf("subsegments: %d", len(seg.Subsegments))
	}
	var sub awsxray.Segment
	if err := json.Unmarshal(seg.Subsegments[0], &sub); err != nil {
		t.Fatal(err)
	}
	if sub.Namespace != "remote" || !sub.Fault || sub.HTTP.Response.Status != 503 || !sub.HTTP.Request.Traced {
		t.Errorf("subsegment %s namespace %q fault %v http %+v", sub.Name, sub.Namespace, sub.Fault, sub.HTTP)
	}
}

// A request made by aws-xray-sdk-go's instrumented client continues its
// trace through Sidelight's middleware.
func TestXRaySDKClientIntoSidelight(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.middleware(t, "sidelight-service")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()

	ctx, root := awsxray.BeginSegment(context.Background(), "sdk-caller")
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ping", nil)
	resp, err := awsxray.Client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	root.Close(nil)

	docs := f.wait(t, 2)
	var ours, theirs xraytest.Segment
	for _, d := range docs {
		switch d.Name {
		case "sidelight-service":
			ours = d
		case "sdk-caller":
			theirs = d
		}
	}
	if theirs.ID == "" || ours.ID == "" {
		t.Fatalf("documents: %v", names(docs))
	}
	sub := findHTTPSubsegment(t, theirs)
	if ours.TraceID != theirs.TraceID || ours.ParentID != sub.ID {
		t.Fatalf("our segment trace %s parent %s; SDK trace %s client subsegment %s", ours.TraceID, ours.ParentID, theirs.TraceID, sub.ID)
	}
}

// A call through Sidelight's Transport continues Sidelight's trace in a
// service that uses aws-xray-sdk-go's xray.Handler.
func TestSidelightTransportIntoXRaySDKHandler(t *testing.T) {
	f := newFixture(t)
	sdkService := httptest.NewServer(awsxray.Handler(awsxray.NewFixedSegmentNamer("sdk-service"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer sdkService.Close()
	client := &http.Client{Transport: middleware.Transport(nil, middleware.WithSegmentExporter(f.emitter))}
	srv := httptest.NewServer(f.middleware(t, "sidelight-caller")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", sdkService.URL+"/work", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	docs := f.wait(t, 2)
	// The SDK's emitter now and then sends its document twice (same id):
	// wait for ours past any such copy.
	for !slices.Contains(names(docs), "sidelight-caller") {
		docs = f.wait(t, len(docs)+1)
	}
	var ours, theirs xraytest.Segment
	for _, d := range docs {
		switch d.Name {
		case "sidelight-caller":
			ours = d
		case "sdk-service":
			theirs = d
		}
	}
	if len(ours.Subsegments) != 1 {
		t.Fatalf("documents: %v", names(docs))
	}
	if theirs.TraceID != ours.TraceID || theirs.ParentID != ours.Subsegments[0].ID {
		t.Fatalf("SDK segment trace %s parent %s; ours trace %s subsegment %s", theirs.TraceID, theirs.ParentID, ours.TraceID, ours.Subsegments[0].ID)
	}
}

func findHTTPSubsegment(t *testing.T, s xraytest.Segment) xraytest.Segment {
	t.Helper()
	for _, sub := range s.Subsegments {
		if sub.HTTP.Request.Method != "" || sub.Namespace == "remote" {
			return sub
		}
		if len(sub.Subsegments) > 0 {
			return findHTTPSubsegment(t, sub)
		}
	}
	t.Fatalf("no HTTP subsegment in %s", s.Raw)
	return xraytest.Segment{}
}

func names(docs []xraytest.Segment) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.Name)
	}
	return out
}
