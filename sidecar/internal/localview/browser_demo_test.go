package localview

import (
	"bufio"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/demo"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// updateDocs rewrites the README's pictures in docs/ from this run:
//
//	go test ./sidecar/internal/localview -run TestBrowserDemoPictures -update-docs
//
// (or SIDELIGHT_UPDATE_DOCS=1).
var updateDocs = flag.Bool("update-docs", false, "rewrite docs/localview-*.png from the demo's data")

// docsDir is the repository's docs/ directory.
const docsDir = "../../../docs"

// demoStore runs the demo (two instrumented services calling each other)
// for n requests, receives its X-Ray segments on UDP, its EMF over TCP and
// its log records over OTLP/HTTP as the sidecar would, and stores them.
func demoStore(t *testing.T, n int) *Store {
	t.Helper()
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines [][]byte
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			readers.Add(1)
			go func() {
				defer readers.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				sc.Buffer(make([]byte, 1<<16), MaxDocBytes)
				for sc.Scan() {
					mu.Lock()
					lines = append(lines, append([]byte(nil), sc.Bytes()...))
					mu.Unlock()
				}
			}()
		}
	}()
	var logs []otlplogs.Record
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req collogspb.ExportLogsServiceRequest
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil || r.URL.Path != "/v1/logs" {
			http.Error(w, "not OTLP logs", http.StatusBadRequest)
			return
		}
		mu.Lock()
		logs = append(logs, otlplogs.Records(&req, time.Now())...)
		mu.Unlock()
	}))
	defer otlp.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Config{XRayAddr: d.Addr(), EMFEndpoint: "tcp://" + ln.Addr().String(), OTLPEndpoint: otlp.URL, Interval: 15 * time.Millisecond})
		done <- err
	}()
	wait, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	_, werr := d.WaitFor(wait, n)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ln.Close()
	readers.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	// The last segments may still be in flight after the demo stops.
	time.Sleep(100 * time.Millisecond)
	docs, err := d.Documents()
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, Config{})
	for _, doc := range docs {
		if err := s.AddSegment(doc.Raw); err != nil {
			t.Fatalf("demo segment: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range lines {
		if err := s.AddEMF(l); err != nil {
			t.Fatalf("demo EMF: %v\n%s", err, l)
		}
	}
	if len(logs) == 0 || s.AddLogs(logs) > 0 {
		t.Fatalf("%d demo log records, or some refused", len(logs))
	}
	return s
}

// The README's pictures are made here from the demo's real data, so they
// stay true: each page is opened and read as a user would, then
// photographed. The test fails when a committed picture is missing;
// -update-docs rewrites them.
func TestBrowserDemoPictures(t *testing.T) {
	update := *updateDocs || os.Getenv("SIDELIGHT_UPDATE_DOCS") == "1"
	pages := []string{"overview", "traces", "trace", "map", "metrics"}
	if !update {
		for _, p := range pages {
			if _, err := os.Stat(filepath.Join(docsDir, "localview-"+p+".png")); err != nil {
				t.Errorf("README picture missing (regenerate with -update-docs): %v", err)
			}
		}
	}
	s := demoStore(t, 60)
	ctx := browserSized(t, 1280, 820)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	shoot := func(name string) {
		t.Helper()
		// Paused, so nothing moves while the picture is taken.
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if len(buf) < 1000 || string(buf[1:4]) != "PNG" {
			t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(buf))
		}
		path := filepath.Join(artifactDir(t), "localview-"+name+".png")
		if update {
			path = filepath.Join(docsDir, "localview-"+name+".png")
		}
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", path, len(buf))
	}
	open := func(hash, what, ready string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"+hash)); err != nil {
			t.Fatal(err)
		}
		poll(t, ctx, what, ready)
	}

	open("", "the overview", `document.querySelector('#overview tr[data-service="shop"]') !== null && document.querySelector('#overview tr[data-service="inventory"]') !== null`)
	click(t, ctx, "#live") // pause: the pictures show a still page
	poll(t, ctx, "paused", `document.getElementById('live-state').textContent === 'paused'`)
	routes := eval[[]string](t, ctx, `[...document.querySelectorAll('#overview tr.route-row[data-service="shop"]')].map(r => r.dataset.route)`)
	if !strings.Contains(strings.Join(routes, ","), "GET /checkout") {
		t.Errorf("shop routes = %v, want GET /checkout among them", routes)
	}
	shoot("overview")

	// The failing checkout, found from the overview in one click; its
	// root cause is on its page.
	click(t, ctx, `#overview tr.route-row[data-service="shop"][data-route="GET /checkout"] td.fault a`)
	poll(t, ctx, "the faulted checkouts", `document.querySelectorAll('#trace-list tr.trace-row').length > 0`)
	shoot("traces")
	click(t, ctx, `#trace-list a.trace-link`)
	poll(t, ctx, "the checkout's waterfall", `document.getElementById('exceptions') !== null`)
	if ex := eval[string](t, ctx, `document.getElementById('exceptions').textContent`); !strings.Contains(ex, "payment declined") {
		t.Errorf("exceptions = %q, want the declined payment", ex)
	}
	// Its log records under the waterfall: the error says why.
	poll(t, ctx, "the checkout's log records", `document.querySelectorAll('#trace-logs tr.log-row').length >= 2`)
	type logRow struct{ Level, Service, Body string }
	rows := eval[[]logRow](t, ctx, `[...document.querySelectorAll('#trace-logs tr.log-row')].map(r => ({
		Level: r.dataset.severity, Service: r.cells[2].textContent, Body: r.querySelector('.log-body').textContent}))`)
	if last := rows[len(rows)-1]; last.Level != "error" || last.Service != "shop" || !strings.Contains(last.Body, "payment declined") {
		t.Errorf("the declined checkout's records %+v end without the error", rows)
	}
	// The slowest product page (the p99 link, slowest first) shows the
	// call to inventory.
	open("", "the overview", `document.querySelector('#overview tr.route-row[data-route="GET /products/{id}"] td.p99 a') !== null`)
	click(t, ctx, `#overview tr.route-row[data-service="shop"][data-route="GET /products/{id}"] td.p99 a`)
	poll(t, ctx, "the slowest product pages", `location.hash.includes('sort=duration') && document.querySelectorAll('#trace-list tr.trace-row').length > 0`)
	click(t, ctx, `#trace-list a.trace-link`)
	poll(t, ctx, "the slow product page's waterfall", `[...document.querySelectorAll('#waterfall .wf-name')].some(e => e.textContent === 'inventory')`)
	shoot("trace")

	open("#/map", "the map", `document.querySelector('#map-svg .node[data-name="shop"]') !== null && document.querySelector('#map-svg .node[data-name="client"]') !== null`)
	if edges := eval[[]string](t, ctx, `[...document.querySelectorAll('#map-svg path.edge')].map(e => e.dataset.from + '->' + e.dataset.to)`); !strings.Contains(strings.Join(edges, ","), "shop->inventory") {
		t.Errorf("map edges = %v, want shop->inventory", edges)
	}
	shoot("map")

	open("#/metrics", "the metric groups", `document.querySelectorAll('#charts section.metric-group').length > 0`)
	click(t, ctx, `#charts section.metric-group figure circle.pt.linked`)
	poll(t, ctx, "a point's traces", `document.querySelector('#charts .point-traces ul.linked-traces a') !== null`)
	shoot("metrics")
}
