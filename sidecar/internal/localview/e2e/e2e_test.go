// Package e2e_test sends real traffic through Sidelight's middleware and the
// sidecar's receivers into the local view, then reads it back through the
// JSON API and in headless Chromium. It lives apart from package localview
// so that the store's own tests do not depend on the middleware building.
package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
	emfrecv "github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/emf"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/xrayudp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// feed is the sidecar's local-mode consumer: documents go to the store, and
// each accepted one is announced on a channel so the test waits on events,
// not on time.
type feed struct {
	store          *localview.Store
	segs, emfs     chan struct{}
	rejected       atomic.Uint64
	firstRejection atomic.Value
}

func (f *feed) ConsumeSegment(doc []byte, _ xraydoc.Info) {
	if err := f.store.AddSegment(doc); err != nil {
		f.rejected.Add(1)
		f.firstRejection.CompareAndSwap(nil, err.Error()+": "+string(doc))
		return
	}
	f.segs <- struct{}{}
}

// WantsTraceIDs: the view links metrics to traces.
func (f *feed) WantsTraceIDs() bool { return true }

func (f *feed) ConsumeEMF(doc *emfdoc.Document) {
	if err := f.store.AddEMFDocument(doc); err != nil {
		f.rejected.Add(1)
		f.firstRejection.CompareAndSwap(nil, err.Error()+": "+string(doc.Raw))
		return
	}
	f.emfs <- struct{}{}
}

const inventoryError = "inventory database unavailable: connection reset by peer"

// pipeline is two instrumented services (shop calls inventory) feeding a
// local-mode sidecar's receivers and store.
type pipeline struct {
	store      *localview.Store
	feed       *feed
	shop, view *httptest.Server
}

func newPipeline(t *testing.T) (*pipeline, func(ok, broken int) string) {
	ctx := context.Background()
	store, err := localview.New(localview.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &feed{store: store, segs: make(chan struct{}, 4096), emfs: make(chan struct{}, 4096)}
	counters := status.NewCounters()
	udp, err := xrayudp.New(xrayudp.Config{Addr: "127.0.0.1:0", Consumer: f, Counters: counters})
	if err != nil {
		t.Fatal(err)
	}
	if err := udp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Shutdown(ctx) })
	er, err := emfrecv.New(emfrecv.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "off", Consumer: f, Counters: counters})
	if err != nil {
		t.Fatal(err)
	}
	if err := er.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { er.Shutdown(ctx) })

	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(udp.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emitter.Shutdown(ctx) })
	all, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		t.Fatal(err)
	}

	invMux := http.NewServeMux()
	invMux.HandleFunc("GET /stock/{sku}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("sku") == "broken" {
			middleware.RecordError(r.Context(), errors.New(inventoryError))
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "12")
	})
	inventory := httptest.NewServer(middleware.HTTP(middleware.WithSegmentExporter(emitter), middleware.WithServiceName("inventory"),
		middleware.WithSamplingRules(all), middleware.WithoutMetrics())(invMux))
	t.Cleanup(inventory.Close)

	sink, err := emf.NewAgentSink("tcp://" + er.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Shutdown(ctx) })
	kit, err := middleware.New(middleware.WithSegmentExporter(emitter), middleware.WithSamplingRules(all),
		middleware.WithMetricsSink(sink), middleware.WithMetricsNamespace("Shop"), middleware.WithMetricsInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Shutdown(ctx) })
	client := &http.Client{Transport: kit.Transport(nil)}
	shopMux := http.NewServeMux()
	shopMux.HandleFunc("GET /buy/{sku}", func(w http.ResponseWriter, r *http.Request) {
		middleware.AddAnnotation(r.Context(), "sku", r.PathValue("sku"))
		req, _ := http.NewRequestWithContext(r.Context(), "GET", inventory.URL+"/stock/"+r.PathValue("sku"), nil)
		resp, err := client.Do(req)
		if err != nil {
			middleware.RecordError(r.Context(), err)
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			http.Error(w, "inventory failed", http.StatusBadGateway)
			return
		}
		io.WriteString(w, "bought")
	})
	shop := httptest.NewServer(kit.HTTP(middleware.WithServiceName("shop"))(shopMux))
	t.Cleanup(shop.Close)
	view := httptest.NewServer(store.Handler())
	t.Cleanup(view.Close)
	p := &pipeline{store: store, feed: f, shop: shop, view: view}

	// drive sends traffic, flushes both exporters and waits until the store
	// has every document; it returns the broken request's trace ID.
	drive := func(ok, broken int) string {
		t.Helper()
		var brokenID string
		for i := range ok + broken {
			sku := fmt.Sprintf("sku-%d", i)
			if i == ok {
				sku = "broken"
			}
			resp, err := shop.Client().Get(shop.URL + "/buy/" + sku)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if sku == "broken" {
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("broken purchase: status %d", resp.StatusCode)
				}
				brokenID = traceRoot(resp.Header.Get("X-Amzn-Trace-Id"))
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := emitter.ForceFlush(wctx); err != nil {
			t.Fatal(err)
		}
		if err := kit.ForceFlush(wctx); err != nil {
			t.Fatal(err)
		}
		if err := sink.Flush(wctx); err != nil {
			t.Fatal(err)
		}
		// Each request makes a shop segment and an inventory segment.
		for n := 0; n < 2*(ok+broken); n++ {
			select {
			case <-f.segs:
			case <-wctx.Done():
				t.Fatalf("only %d of %d segments reached the store (%d rejected: %v)", n, 2*(ok+broken), f.rejected.Load(), f.firstRejection.Load())
			}
		}
		select {
		case <-f.emfs:
		case <-wctx.Done():
			t.Fatalf("no EMF reached the store (%d rejected: %v)", f.rejected.Load(), f.firstRejection.Load())
		}
		if n := f.rejected.Load(); n != 0 {
			t.Fatalf("the store rejected %d documents from the middleware; first: %v", n, f.firstRejection.Load())
		}
		return brokenID
	}
	return p, drive
}

func traceRoot(h string) string {
	for _, part := range strings.Split(h, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			return v
		}
	}
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestMiddlewareThroughSidecarToAPI(t *testing.T) {
	p, drive := newPipeline(t)
	brokenID := drive(10, 1)

	var list struct {
		Traces []struct {
			ID, Service, Status string
			Services            []string
			Annotations         []string
		}
		Matched int
	}
	getJSON(t, p.view.URL+"/api/traces?status=fault", &list)
	if list.Matched != 1 || list.Traces[0].Service != "shop" || !slices.Contains(list.Traces[0].Services, "inventory") {
		t.Fatalf("faults = %+v", list)
	}
	if brokenID != "" && list.Traces[0].ID != brokenID {
		t.Errorf("faulted trace %s, the response header said %s", list.Traces[0].ID, brokenID)
	}
	if !slices.Contains(list.Traces[0].Annotations, "sku=broken") {
		t.Errorf("annotations = %v", list.Traces[0].Annotations)
	}
	getJSON(t, p.view.URL+"/api/traces?annotation=route%3DGET+%2Fbuy%2F%7Bsku%7D", &list)
	if list.Matched != 11 {
		t.Errorf("route annotation matched %d traces, want 11", list.Matched)
	}
	var m struct {
		Nodes []struct {
			Name  string
			Kind  string
			Count int
		}
		Edges []struct {
			From, To string
			Count    int
			Faults   int
		}
	}
	getJSON(t, p.view.URL+"/api/servicemap", &m)
	found := false
	for _, e := range m.Edges {
		if e.From == "shop" && e.To == "inventory" {
			found = true
			if e.Count != 11 || e.Faults != 1 {
				t.Errorf("shop→inventory = %+v, want 11 calls, 1 fault", e)
			}
		}
	}
	if !found {
		t.Errorf("no shop→inventory edge: %+v", m)
	}
	var metrics struct {
		Series []struct {
			Name, Kind string
			Points     []struct {
				N        int
				Sum      float64
				TraceIDs []string `json:"trace_ids"`
			}
		}
	}
	getJSON(t, p.view.URL+"/api/metrics?namespace=Shop", &metrics)
	var requests float64
	linked := false
	for _, se := range metrics.Series {
		for _, pt := range se.Points {
			if se.Name == "Requests" {
				requests += pt.Sum
			}
			if slices.Contains(pt.TraceIDs, brokenID) {
				linked = true
			}
		}
	}
	// Requests appears once per dimension set ([Service, Route, Method,
	// StatusClass] and [Service]): 11 requests counted twice.
	if requests != 22 {
		t.Errorf("Requests summed to %v over all series, want 22", requests)
	}
	if !linked {
		t.Errorf("no metric point links to the faulted trace %s", brokenID)
	}
}

func TestMiddlewareThroughSidecarInChromium(t *testing.T) {
	ctx := browser(t)
	p, drive := newPipeline(t)
	brokenID := drive(20, 1)

	if err := chromedp.Do(ctx, chromedp.Navigate(p.view.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the list", `document.querySelectorAll('#trace-list tr.trace-row').length === 21`)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("f-status"), "fault"),
		chromedp.Click(chromedp.ID("f-apply"))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the faulted trace", `document.querySelectorAll('#trace-list tr.trace-row').length === 1`)
	click(t, ctx, `#trace-list a.trace-link`)
	poll(t, ctx, "the waterfall with the exception", `document.querySelector('#exceptions') !== null`)
	if id, err := browsertest.Eval[string](ctx, `location.hash`); err != nil || !strings.HasSuffix(id, brokenID) {
		t.Errorf("opened %q (%v), want the trace of the broken purchase %s", id, err, brokenID)
	}
	names, err := browsertest.Eval[[]string](ctx, `[...document.querySelectorAll('#waterfall .wf-name')].map(e => e.textContent)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 3 || names[0] != "shop" || !slices.Contains(names, "inventory") {
		t.Errorf("waterfall rows = %q, want shop, its call and the inventory segment", names)
	}
	exc, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("exceptions")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(exc, inventoryError) {
		t.Errorf("exceptions section lacks the handler's error: %q", exc)
	}
	screenshot(t, ctx, "localview-e2e-waterfall.png")
	t.Logf("waterfall rows: %q", names)
}

// ---- Chromium helpers (as in package localview's tests) ----

func browser(t *testing.T) context.Context {
	t.Helper()
	browsertest.Path(t) // skips, or fails under CI, without Chromium
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	actx, acancel := chromedp.NewExecAllocator(ctx, browsertest.Options(t, chromedp.WindowSize(1400, 1400))...)
	bctx, bcancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		bcancel()
		acancel()
		cancel()
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(bctx, 20*time.Second)
		defer ccancel()
		chromedp.Cancel(cctx)
		bcancel()
		acancel()
		cancel()
	})
	return bctx
}

// click clicks the first element matching selector from inside the page,
// waiting until there is one. Unlike chromedp.Click it holds no node handle
// across calls, so a list the page re-renders (live refresh, facets
// arriving) between finding the node and clicking it cannot fail the test.
func click(t *testing.T, ctx context.Context, selector string) {
	t.Helper()
	sel, _ := json.Marshal(selector)
	poll(t, ctx, "a click on "+selector, `(() => { const e = document.querySelector(`+string(sel)+`); if (!e) return false; e.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window})); return true })()`)
}

func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := browsertest.Poll[chromedp.Void](ctx, expr, 30*time.Second); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("SIDELIGHT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(buf))
}
