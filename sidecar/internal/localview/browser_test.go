package localview

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
)

// browser starts headless Chromium for one test and stops it, waiting for
// the process, when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserSized(t, 1400, 1400)
}

// browserSized is browser with a window of w×h pixels.
func browserSized(t *testing.T, w, h int) context.Context {
	t.Helper()
	path := browsertest.Path(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	actx, acancel := chromedp.NewExecAllocator(ctx, browsertest.Options(t,
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(w, h),
	)...)
	bctx, bcancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		bcancel()
		acancel()
		cancel()
		t.Fatalf("starting Chromium %s: %v", path, err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(bctx, 20*time.Second)
		defer ccancel()
		if err := chromedp.Cancel(cctx); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
		bcancel()
		acancel() // waits for the browser process
		cancel()
	})
	return bctx
}

// artifactDir is where screenshots go: $SIDELIGHT_ARTIFACTS or the test's
// temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("SIDELIGHT_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(buf) < 1000 || string(buf[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(buf))
	}
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(buf))
}

func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := browsertest.Poll[chromedp.Void](ctx, expr, 30*time.Second); err != nil {
		page, _ := browsertest.Eval[string](ctx, `location.hash + '\n' + document.querySelector('main').innerText.slice(0, 2000)`)
		t.Fatalf("waiting for %s (%s): %v\npage: %s", what, expr, err, page)
	}
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

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := browsertest.Eval[T](ctx, expr)
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func TestBrowserFaultedTraceWaterfall(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	// Healthy traffic around one faulted request.
	for i := range 30 {
		_, d := okTrace(t, &g, now.Add(time.Duration(i-40)*time.Second), []string{"frontend", "catalog", "orders"}[i%3], time.Duration(3+i)*time.Millisecond)
		mustAdd(t, s, d)
	}
	sc := newScenario(t, &g, now.Add(-5*time.Second))
	mustAdd(t, s, sc.docs...)
	for i := range 5 {
		_, d := okTrace(t, &g, now.Add(time.Duration(i-4)*time.Second), "frontend", 7*time.Millisecond)
		mustAdd(t, s, d)
	}
	if err := s.AddEMF(emfJSON(t, now.Add(-5*time.Second), "POST /checkout", []float64{45, 12, 9}, 1, sc.traceID)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the full list", `document.querySelectorAll('#trace-list tr.trace-row').length === 36`)
	screenshot(t, ctx, "localview-list.png")
	if got := eval[[]string](t, ctx, `[...document.querySelectorAll('#trace-list tr.trace-row')].filter(r => r.dataset.status !== 'ok').map(r => r.dataset.traceId)`); !slices.Equal(got, []string{sc.traceID}) {
		t.Errorf("rows not ok: %v, want only %s", got, sc.traceID)
	}

	// Filter to faults with the form, as a user would.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("f-status"), "fault"),
		chromedp.Click(chromedp.ID("f-apply")),
	); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the filtered list", `document.querySelectorAll('#trace-list tr.trace-row').length === 1`)
	if got := eval[string](t, ctx, `document.querySelector('#trace-list tr.trace-row').dataset.traceId`); got != sc.traceID {
		t.Fatalf("filtered row is %s, want %s", got, sc.traceID)
	}
	if h := eval[string](t, ctx, `location.hash`); h != "#/traces?status=fault" {
		t.Errorf("filter not reflected in the URL: %q", h)
	}
	// An annotation chip filters by that annotation.
	click(t, ctx, `#trace-list a.chip[title="only traces with cors=allowed"]`)
	poll(t, ctx, "the annotation filter", `location.hash === '#/traces?annotation=cors%3Dallowed' && document.getElementById('f-annotation').value === 'cors=allowed' && document.querySelectorAll('#trace-list tr.trace-row').length === 1`)

	// Open its waterfall.
	click(t, ctx, `#trace-list tr.trace-row a.trace-link`)
	poll(t, ctx, "the waterfall", `document.querySelectorAll('#waterfall .wf-row').length === 6`)
	names := eval[[]string](t, ctx, `[...document.querySelectorAll('#waterfall .wf-name')].map(e => e.textContent)`)
	want := []string{"frontend", "cache-lookup", "DynamoDB", "orders", "orders", "postgres"}
	if !slices.Equal(names, want) {
		t.Errorf("waterfall rows = %q, want %q", names, want)
	}
	exc, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("exceptions")))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{scenarioException, "*net.OpError", "(*Store).Put", "orders/store.go:88", "createOrder"} {
		if !strings.Contains(exc, w) {
			t.Errorf("exceptions section lacks %q: %q", w, exc)
		}
	}
	// The bars sit on a time axis: the orders segment starts later than the
	// cache lookup and its bar is red.
	bars := eval[[]map[string]any](t, ctx, `[...document.querySelectorAll('#waterfall .wf-row')].map(r => {
		const b = r.querySelector('.bar'); return {left: parseFloat(b.style.left), width: parseFloat(b.style.width), cls: b.className}; })`)
	if len(bars) != 6 || !(bars[4]["left"].(float64) > bars[1]["left"].(float64)) || !strings.Contains(bars[4]["cls"].(string), "st-fault") {
		t.Errorf("bars = %v", bars)
	}
	if l := bars[0]["left"].(float64); l != 0 || bars[0]["width"].(float64) != 100 {
		t.Errorf("root bar spans %v+%v, want 0+100", l, bars[0]["width"])
	}
	// The selected node's details show HTTP and annotations.
	click(t, ctx, `#waterfall .wf-row[data-id="`+sc.frontendID+`"] .wf-name`)
	poll(t, ctx, "frontend details", `document.querySelector('#node-detail table.annotations') !== null`)
	detail, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("node-detail")))
	for _, w := range []string{"https://shop.example.com/checkout", "cors", "allowed", "ColdStart", "502"} {
		if !strings.Contains(detail, w) {
			t.Errorf("node details lack %q: %q", w, detail)
		}
	}
	screenshot(t, ctx, "localview-waterfall.png")

	// Service map and metrics render from the same data.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/map")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the service map", `document.querySelectorAll('#map-svg .node').length === 6`)
	edges := eval[[]string](t, ctx, `[...document.querySelectorAll('#map-edges tbody tr')].map(r => r.cells[0].textContent + '->' + r.cells[1].textContent)`)
	if !slices.Contains(edges, "frontend->orders") || !slices.Contains(edges, "orders->postgres") {
		t.Errorf("map edges = %v", edges)
	}
	screenshot(t, ctx, "localview-servicemap.png")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/metrics")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the charts", `document.querySelectorAll('#charts figure').length === 2`)
	// Clicking the latency point lists the trace it came from.
	click(t, ctx, `#charts figure[data-metric="Latency"] circle.pt.linked`)
	poll(t, ctx, "linked traces", `document.querySelectorAll('#charts .point-traces ul.linked-traces a').length === 1`)
	if got := eval[string](t, ctx, `document.querySelector('#charts .point-traces ul.linked-traces a').textContent`); got != sc.traceID {
		t.Errorf("linked trace = %q, want %q", got, sc.traceID)
	}
	screenshot(t, ctx, "localview-metrics.png")
	click(t, ctx, `#charts .point-traces ul.linked-traces a`)
	poll(t, ctx, "the linked trace's waterfall", `document.querySelectorAll('#waterfall .wf-row').length === 6`)

	// The metrics form narrows the charts.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/metrics")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the charts", `document.querySelectorAll('#charts figure').length === 2`)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("m-metric"), "Latency"),
		chromedp.Click(chromedp.CSS(`#metric-filters button`))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "only the latency chart", `location.hash === '#/metrics?metric=Latency' && document.querySelectorAll('#charts figure').length === 1 && document.querySelector('#charts figure').dataset.metric === 'Latency'`)
}

// hostile is what an attacker able to send telemetry would put in it.
var hostile = []string{
	`<img src=x onerror="window.__xss=1">`,
	`"><script>window.__xss=2</script>`,
	`<svg onload="window.__xss=3"></svg>`,
	`javascript:window.__xss=4`,
	`</pre><iframe srcdoc="<script>parent.__xss=5</script>">`,
}

func TestBrowserEscapesHostileTelemetry(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	tid, segID, subID := g.traceID(now), g.id(), g.id()
	ann := map[string]any{}
	for i, h := range hostile {
		ann[fmt.Sprintf("k%d", i)] = h
	}
	ann[hostile[0]] = hostile[1] // as a key too
	seg := map[string]any{
		"name": hostile[0], "id": segID, "trace_id": tid, "start_time": ts(now), "end_time": ts(now.Add(20 * time.Millisecond)),
		"fault":       true,
		"http":        map[string]any{"request": map[string]any{"method": hostile[2], "url": hostile[3]}, "response": map[string]any{"status": 500}},
		"annotations": ann,
		"metadata":    map[string]any{hostile[1]: map[string]any{hostile[2]: hostile[4]}},
		"cause": map[string]any{"working_directory": hostile[4], "exceptions": []any{map[string]any{
			"id": g.id(), "type": hostile[1], "message": hostile[0],
			"stack": []any{map[string]any{"path": hostile[2], "line": 1, "label": hostile[3]}}}}},
		"subsegments": []any{map[string]any{"name": hostile[2], "id": subID, "namespace": "remote", "start_time": ts(now), "end_time": ts(now),
			"aws": map[string]any{"operation": hostile[4]}}},
	}
	b, err := json.Marshal(seg) // not schema-valid on purpose: names with < and > reach the sidecar too
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, b)
	emf := map[string]any{
		"_aws": map[string]any{"Timestamp": now.UnixMilli(), "CloudWatchMetrics": []any{map[string]any{
			"Namespace": hostile[1], "Dimensions": []any{[]any{"Route"}}, "Metrics": []any{map[string]any{"Name": hostile[0], "Unit": "Milliseconds"}}}}},
		"Route": hostile[2], hostile[0]: 5, "TraceId": tid,
	}
	b, _ = json.Marshal(emf)
	if err := s.AddEMF(b); err != nil {
		t.Fatal(err)
	}
	// Serve without the Content-Security-Policy so that the test shows the
	// page's own escaping; the policy is a second line of defence.
	srv := httptest.NewServer(withoutCSP(s.Handler()))
	defer srv.Close()

	check := func(view string) {
		t.Helper()
		if v := eval[string](t, ctx, `String(window.__xss)`); v != "undefined" {
			t.Errorf("%s: a payload ran: window.__xss = %s", view, v)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('main img, main script, main iframe, main svg [onload], main [onerror]').length`); n != 0 {
			t.Errorf("%s: %d elements came from telemetry markup", view, n)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the list", `document.querySelectorAll('#trace-list tr.trace-row').length === 1`)
	text := eval[string](t, ctx, `document.getElementById('trace-list').textContent`)
	for _, h := range []string{hostile[0], hostile[2], hostile[3]} {
		if !strings.Contains(text, h) {
			t.Errorf("list does not show %q literally", h)
		}
	}
	// The annotation filter's datalist and service select carry the hostile keys as values.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("f-service"), hostile[0]),
		chromedp.Click(chromedp.ID("f-apply"))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the filtered list", `location.hash.includes('service=') && document.querySelectorAll('#trace-list tr.trace-row').length === 1`)
	check("list")

	click(t, ctx, `#trace-list a.trace-link`)
	poll(t, ctx, "the waterfall", `document.querySelectorAll('#waterfall .wf-row').length === 2 && document.getElementById('node-detail').textContent.length > 0`)
	page := eval[string](t, ctx, `document.querySelector('main').textContent`)
	for _, h := range hostile {
		if !strings.Contains(page, h) {
			t.Errorf("trace view does not show %q literally", h)
		}
	}
	check("trace")
	screenshot(t, ctx, "localview-xss.png")

	for _, view := range []string{"#/map", "#/metrics"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"+view)); err != nil {
			t.Fatal(err)
		}
		poll(t, ctx, view, `document.querySelector('main h2') !== null`)
		page := eval[string](t, ctx, `document.querySelector('main').textContent`)
		if !strings.Contains(page, hostile[2]) {
			t.Errorf("%s does not show %q literally", view, hostile[2])
		}
		check(view)
	}
	click(t, ctx, `#charts circle.pt`)
	poll(t, ctx, "point details", `document.querySelectorAll('#charts .point-traces a').length === 1`)
	check("metric point")

	// Hostile text in the address itself (a link someone was sent).
	for _, hash := range []string{"#/trace/" + url.PathEscape(hostile[0]), "#/traces?service=" + url.QueryEscape(hostile[1]) + "&annotation=" + url.QueryEscape(hostile[2])} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"+hash)); err != nil {
			t.Fatal(err)
		}
		poll(t, ctx, "the view for "+hash, `document.querySelector('main .err, #list-summary') !== null && !document.querySelector('main').textContent.includes('Loading')`)
		check(hash)
	}
}

// withoutCSP drops the Content-Security-Policy header.
func withoutCSP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(cspStripper{w}, r)
	})
}

type cspStripper struct{ http.ResponseWriter }

func (c cspStripper) WriteHeader(code int) {
	c.Header().Del("Content-Security-Policy")
	c.ResponseWriter.WriteHeader(code)
}

func (c cspStripper) Write(b []byte) (int, error) {
	c.Header().Del("Content-Security-Policy")
	return c.ResponseWriter.Write(b)
}

func TestBrowserCSPBlocksInjectedScript(t *testing.T) {
	ctx := browser(t)
	s := newStore(t, Config{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the page", `document.getElementById('trace-list') !== null`)
	// Even markup that reached the DOM could not run inline script.
	eval[chromedp.Void](t, ctx, `(() => { const d = document.createElement('div');
		d.setAttribute('onclick', 'window.__csp = 1'); document.body.appendChild(d); d.click();
		const s = document.createElement('script'); s.textContent = 'window.__csp = 2'; document.body.appendChild(s); })()`)
	if v := eval[string](t, ctx, `String(window.__csp)`); v != "undefined" {
		t.Errorf("inline script ran despite the CSP: %s", v)
	}
}

// Live refresh is on by default: a trace that arrives later shows up
// without a reload. The pause button stops it: the refresh timer keeps
// ticking (counted on the page) but the list is not reloaded.
func TestBrowserLiveRefresh(t *testing.T) {
	ctx := browser(t)
	s := newStore(t, Config{})
	var g ids
	_, d := okTrace(t, &g, time.Now(), "first", time.Millisecond)
	mustAdd(t, s, d)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the first trace", `document.querySelectorAll('#trace-list tr.trace-row').length === 1`)
	if st := eval[string](t, ctx, `document.getElementById('live-state').textContent + ' ' + document.getElementById('live').getAttribute('aria-pressed')`); st != "live true" {
		t.Errorf("live state on first load = %q, want live", st)
	}
	id, d := okTrace(t, &g, time.Now(), "second", time.Millisecond)
	mustAdd(t, s, d)
	poll(t, ctx, "the second trace", `document.querySelector('#trace-list tr.trace-row').dataset.traceId === '`+id+`'`)

	click(t, ctx, "#live")
	poll(t, ctx, "the paused state", `document.getElementById('live-state').textContent === 'paused'`)
	renders := eval[int](t, ctx, `Number(document.getElementById('trace-list').dataset.renders)`)
	ticks := eval[int](t, ctx, `Number(document.body.dataset.liveTicks || 0)`)
	_, d = okTrace(t, &g, time.Now(), "third", time.Millisecond)
	mustAdd(t, s, d)
	poll(t, ctx, "two timer ticks", `Number(document.body.dataset.liveTicks || 0) >= `+fmt.Sprint(ticks+2))
	if n := eval[int](t, ctx, `Number(document.getElementById('trace-list').dataset.renders)`); n != renders {
		t.Errorf("paused list re-rendered: %d renders, was %d", n, renders)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#trace-list tr.trace-row').length`); n != 2 {
		t.Errorf("paused list shows %d rows, want 2", n)
	}
	// Resuming shows it.
	click(t, ctx, "#live")
	poll(t, ctx, "the third trace after resuming", `document.querySelectorAll('#trace-list tr.trace-row').length === 3`)
}
