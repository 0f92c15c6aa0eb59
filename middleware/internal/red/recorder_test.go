package red

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	trace1 = "1-5759e988-bd862e3fe1be46a994272793"
	trace2 = "1-5759e988-bd862e3fe1be46a994272794"
	trace3 = "1-5759e988-bd862e3fe1be46a994272795"
)

func newRecorder(t testing.TB, cfg Config) (*Recorder, *emftest.Sink) {
	t.Helper()
	sink := emftest.NewSink()
	cfg.Sink = sink
	if cfg.Service == "" {
		cfg.Service = "checkout"
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "Sidelight"
	}
	cfg.Now = func() time.Time { return time.UnixMilli(1700000000000) }
	if cfg.Tick == nil {
		cfg.Tick = make(chan time.Time) // never ticks: tests flush explicitly
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r, sink
}

type seriesKey struct{ route, method, class string }

// decode validates every document and groups them by series.
func decode(t *testing.T, sink *emftest.Sink) map[seriesKey][]map[string]any {
	t.Helper()
	for i, d := range sink.Documents() {
		if err := schematest.EMF(d); err != nil {
			t.Fatalf("document %d invalid: %v\n%s", i, err, d)
		}
	}
	docs, err := sink.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	out := map[seriesKey][]map[string]any{}
	for _, d := range docs {
		k := seriesKey{d["Route"].(string), d["Method"].(string), d["StatusClass"].(string)}
		out[k] = append(out[k], d)
	}
	return out
}

// values gathers a metric's values over a series' documents.
func values(docs []map[string]any, name string) []float64 {
	var out []float64
	for _, d := range docs {
		switch v := d[name].(type) {
		case float64:
			out = append(out, v)
		case []any:
			for _, x := range v {
				out = append(out, x.(float64))
			}
		}
	}
	return out
}

func TestObserveAndFlush(t *testing.T) {
	r, sink := newRecorder(t, Config{})
	ms := time.Millisecond
	r.Observe("GET /orders/{id}", "GET", 200, 10*ms, tid(trace1))
	r.Observe("GET /orders/{id}", "GET", 204, 30*ms, tid(trace2))
	r.Observe("GET /orders/{id}", "GET", 200, 20*ms, tid(""))
	r.Observe("POST /orders", "POST", 503, 5*ms, tid(trace1))
	r.Observe("POST /orders", "POST", 500, 7*ms, tid(""))
	r.Observe("POST /orders", "POST", 429, 1*ms, tid(trace2))
	r.Observe("POST /orders", "POST", 404, 2*ms, tid(trace3))
	r.Observe("", "BREW", 418, 3*ms, tid(""))
	r.Observe("GET /x", "get", 700, -time.Second, tid(""))
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := decode(t, sink)
	type want struct {
		requests, client, faults, throttles float64
		latencies                           []float64 // ms, before bucketing
		slowest, errTrace                   string
	}
	wants := map[seriesKey]want{
		{"GET /orders/{id}", "GET", "2xx"}: {3, 0, 0, 0, []float64{10, 20, 30}, trace2, ""},
		{"POST /orders", "POST", "5xx"}:    {2, 0, 2, 0, []float64{5, 7}, trace1, trace1},
		{"POST /orders", "POST", "4xx"}:    {2, 2, 0, 1, []float64{1, 2}, trace3, trace3},
		{"unmatched", "OTHER", "4xx"}:      {1, 1, 0, 0, []float64{3}, "", ""},
		{"GET /x", "OTHER", "other"}:       {1, 0, 0, 0, []float64{0}, "", ""},
	}
	if len(got) != len(wants) {
		t.Errorf("%d series, want %d: %v", len(got), len(wants), got)
	}
	for k, w := range wants {
		docs := got[k]
		if len(docs) != 1 {
			t.Errorf("%v: %d documents, want 1", k, len(docs))
			continue
		}
		d := docs[0]
		for name, v := range map[string]float64{"Requests": w.requests, "ClientErrors": w.client, "Faults": w.faults, "Throttles": w.throttles} {
			if d[name] != v {
				t.Errorf("%v: %s = %v, want %v", k, name, d[name], v)
			}
		}
		lat := values(docs, "Latency")
		sort.Float64s(lat)
		if len(lat) != len(w.latencies) {
			t.Errorf("%v: latencies %v, want about %v", k, lat, w.latencies)
		}
		for i := range min(len(lat), len(w.latencies)) {
			if math.Abs(lat[i]-w.latencies[i]) > w.latencies[i]/32+0.001 {
				t.Errorf("%v: latency %v, want %v within 1/32", k, lat[i], w.latencies[i])
			}
		}
		if s, _ := d["SlowestTraceId"].(string); s != w.slowest {
			t.Errorf("%v: SlowestTraceId %q, want %q", k, s, w.slowest)
		}
		if s, _ := d["ErrorTraceId"].(string); s != w.errTrace {
			t.Errorf("%v: ErrorTraceId %q, want %q", k, s, w.errTrace)
		}
		if d["Service"] != "checkout" {
			t.Errorf("%v: Service %v", k, d["Service"])
		}
	}
	// A second flush with nothing new writes nothing.
	sink.Reset()
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Documents()); n != 0 {
		t.Errorf("empty interval wrote %d documents", n)
	}
}

func TestGolden(t *testing.T) {
	r, sink := newRecorder(t, Config{})
	r.Observe("GET /orders/{id}", "GET", 200, 12*time.Millisecond, tid(trace1))
	r.Observe("GET /orders/{id}", "GET", 201, 1500*time.Microsecond, tid(trace2))
	r.Observe("GET /orders/{id}", "GET", 503, 2*time.Second, tid(trace3))
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, d := range sink.Documents() {
		if err := schematest.EMF(d); err != nil {
			t.Fatal(err)
		}
		got.Write(d)
		got.WriteByte('\n')
	}
	path := filepath.Join("testdata", "flush.json")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("got:\n%s\nwant:\n%s", got.Bytes(), want)
	}
}

func TestRouteCap(t *testing.T) {
	r, sink := newRecorder(t, Config{MaxRoutes: 2})
	for _, route := range []string{"/a", "/b", "/c", "/d", "/a", "bad\x00route ü"} {
		r.Observe(route, "GET", 200, time.Millisecond, tid(""))
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := decode(t, sink)
	counts := map[string]float64{}
	for k, docs := range got {
		counts[k.route] += docs[0]["Requests"].(float64)
	}
	want := map[string]float64{"/a": 2, "/b": 1, "overflow": 3}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("requests per route %v, want %v", counts, want)
	}
	// A route that needs sanitising still yields a valid dimension value.
	r2, sink2 := newRecorder(t, Config{})
	r2.Observe("bad\x00route ü", "GET", 200, time.Millisecond, tid(""))
	r2.Observe("   ", "GET", 200, time.Millisecond, tid(""))
	_ = r2.Flush(context.Background())
	routes := []string{}
	for k := range decode(t, sink2) {
		routes = append(routes, k.route)
	}
	slices.Sort(routes)
	if fmt.Sprint(routes) != "[bad?route ?? unmatched]" {
		t.Errorf("sanitised routes %q", routes)
	}
}

// TestLatencyThinning records 10,000 requests in one series: the latency
// array is thinned to MaxLatencyValues, keeps min, max and the median, and
// Requests stays exact.
func TestLatencyThinning(t *testing.T) {
	r, sink := newRecorder(t, Config{MaxLatencyValues: 250})
	for i := range 10000 {
		r.Observe("/r", "GET", 200, time.Duration(i+1)*100*time.Microsecond, tid("")) // 0.1 ms .. 1000 ms
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs := decode(t, sink)[seriesKey{"/r", "GET", "2xx"}]
	if len(docs) != 3 {
		t.Errorf("%d documents, want 3 (250 values, 100 per document)", len(docs))
	}
	if req := values(docs, "Requests"); len(req) != 1 || req[0] != 10000 {
		t.Errorf("Requests %v, want [10000] (once, not per document)", req)
	}
	lat := values(docs, "Latency")
	sort.Float64s(lat)
	if len(lat) < 249 || len(lat) > 252 {
		t.Errorf("%d latency values, want about 250", len(lat))
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= want/16 }
	if !near(lat[0], 0.1) || !near(lat[len(lat)-1], 1000) || !near(lat[len(lat)/2], 500) {
		t.Errorf("min %v, median %v, max %v; want about 0.1, 500, 1000", lat[0], lat[len(lat)/2], lat[len(lat)-1])
	}
}

func TestRenameAndDisable(t *testing.T) {
	r, sink := newRecorder(t, Config{Names: Names{Latency: "Duration", Throttles: "-", ClientErrors: "-"}})
	r.Observe("/r", "GET", 429, time.Millisecond, tid(""))
	_ = r.Flush(context.Background())
	d := decode(t, sink)[seriesKey{"/r", "GET", "4xx"}][0]
	for _, name := range []string{"Duration", "Requests", "Faults"} {
		if _, ok := d[name]; !ok {
			t.Errorf("%s missing: %v", name, d)
		}
	}
	for _, name := range []string{"Latency", "Throttles", "ClientErrors"} {
		if _, ok := d[name]; ok {
			t.Errorf("%s written although renamed or off: %v", name, d)
		}
	}

	off, sink := newRecorder(t, Config{Disabled: true})
	off.Observe("/r", "GET", 200, time.Millisecond, tid(""))
	_ = off.Flush(context.Background())
	allOff, sink2 := newRecorder(t, Config{Names: Names{Latency: "-", Requests: "-", ClientErrors: "-", Faults: "-", Throttles: "-"}})
	allOff.Observe("/r", "GET", 200, time.Millisecond, tid(""))
	_ = allOff.Flush(context.Background())
	if len(sink.Documents())+len(sink2.Documents()) != 0 {
		t.Error("a disabled recorder wrote documents")
	}
}

func TestConfigRefused(t *testing.T) {
	sink := emftest.NewSink()
	for name, cfg := range map[string]Config{
		"no service":       {},
		"negative":         {Service: "s", Interval: -1},
		"empty-ish value":  {Service: "  "},
		"duplicate name":   {Service: "s", Names: Names{Faults: "Requests"}},
		"dimension clash":  {Service: "s", Names: Names{Latency: "Route"}},
		"property clash":   {Service: "s", Names: Names{Requests: "ErrorTraceId"}},
		"invalid name":     {Service: "s", Names: Names{Latency: "Laténcy"}},
		"invalid namespce": {Service: "s", Namespace: "AWS/X"},
	} {
		cfg.Sink = sink
		if r, err := New(cfg); err == nil {
			_ = r.Shutdown(context.Background())
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// notifySink signals every document written, so a test can wait for the
// background flush without sleeping.
type notifySink struct {
	*emftest.Sink
	wrote chan struct{}
}

func (s notifySink) WriteDocument(ctx context.Context, doc []byte) error {
	err := s.Sink.WriteDocument(ctx, doc)
	s.wrote <- struct{}{}
	return err
}

func TestIntervalAndShutdown(t *testing.T) {
	tick := make(chan time.Time)
	sink := notifySink{emftest.NewSink(), make(chan struct{}, 10)}
	r, err := New(Config{Service: "s", Namespace: "N", Sink: sink, Tick: tick})
	if err != nil {
		t.Fatal(err)
	}
	r.Observe("/r", "GET", 200, time.Millisecond, tid(""))
	tick <- time.Now()
	select {
	case <-sink.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("no document after a tick")
	}
	r.Observe("/r", "GET", 500, time.Millisecond, tid(""))
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Documents()); n != 2 {
		t.Errorf("%d documents after Shutdown, want 2 (tick + final flush)", n)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestConcurrentObserve(t *testing.T) {
	r, sink := newRecorder(t, Config{})
	var wg sync.WaitGroup
	const workers, each = 8, 2000
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r.Observe(fmt.Sprintf("/r%d", i%3), "GET", 200+w%2*300, time.Duration(i)*time.Microsecond, tid(trace1))
			}
		}()
	}
	// Flush while requests are being observed: nothing may be lost.
	for range 5 {
		if err := r.Flush(context.Background()); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, docs := range decode(t, sink) {
		for _, v := range values(docs, "Requests") {
			total += v
		}
	}
	if total != workers*each {
		t.Errorf("Requests sum %v, want %d", total, workers*each)
	}
}

func TestObserveAllocs(t *testing.T) {
	r, _ := newRecorder(t, Config{})
	r.Observe("GET /orders/{id}", "GET", 200, time.Millisecond, tid(trace1))
	if a := testing.AllocsPerRun(1000, func() {
		r.Observe("GET /orders/{id}", "GET", 200, time.Millisecond, tid(trace1))
		r.Observe("GET /orders/{id}", "GET", 503, time.Millisecond, tid(trace2))
	}); a != 0 {
		t.Errorf("Observe allocates %v times per call", a)
	}
}

func TestBuckets(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<41; us = us*9/8 + 1 {
		b := bucketOf(us)
		if b < prev || b >= nBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", us, b, prev, nBuckets)
		}
		prev = b
		if us <= maxMicro {
			if mid := bucketMiddle(b); math.Abs(mid-float64(us)) > float64(us)/32+0.5 {
				t.Fatalf("bucket %d middle %v is more than 1/32 from %d", b, mid, us)
			}
		}
	}
}

func TestSinkFailureReported(t *testing.T) {
	sink := emftest.NewSink()
	r, err := New(Config{Service: "s", Namespace: "N", Sink: sink, Tick: make(chan time.Time)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(context.Background())
	_ = sink.Shutdown(context.Background())
	r.Observe("/r", "GET", 200, time.Millisecond, tid(""))
	if err := r.Flush(context.Background()); err == nil || !errors.Is(err, err) {
		t.Fatal("Flush to a failed sink returned nil")
	}
	_ = emf.Count
}
