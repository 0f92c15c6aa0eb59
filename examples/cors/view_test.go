package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

// viewCase is one scenario as a reader debugs it in the sidecar's local
// view: the filter the tutorial gives, typed into the search box; the
// request whose trace to open; what the trace page must say.
type viewCase struct {
	number    int
	query     string // quoted in the tutorial, as typed into the search box
	request   string // the list row to open: method and path
	rootCause []string
}

var viewCases = []viewCase{
	{1, `annotation.cors_code = "missing-allow-origin"`, "GET /s1/broken",
		[]string{"blocked", "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
			"The response has no CORS headers: the origin is not allowed, or CORS is not configured for this route."}},
	{2, `annotation.cors_code = "missing-allow-origin" AND http.status >= 500`, "GET /s2/broken-502",
		[]string{"blocked", "The 502 error response has no CORS headers: error paths, and gateways or proxies in front, must add them too.",
			"orders: database connection pool exhausted"}},
	{3, `annotation.cors_preflight = true AND annotation.cors_verdict = "blocked"`, "OPTIONS /s3/broken-401",
		[]string{"blocked", "It does not have HTTP ok status.",
			"The preflight (OPTIONS) got status 401: it must answer 2xx, without authentication, on every route the page calls."}},
	{4, `annotation.cors_code = "header-not-allowed"`, "OPTIONS /s4/broken-traceparent",
		[]string{"blocked", "Request header field traceparent is not allowed by Access-Control-Allow-Headers in preflight response.",
			"Tracing in the page adds traceparent: list it in Access-Control-Allow-Headers."}},
	{5, `annotation.cors_code = "multiple-allow-origin"`, "GET /s5/broken",
		[]string{"blocked", "header contains multiple values"}},
	{6, `annotation.cors_code = "wildcard-with-credentials"`, "GET /s6/broken-wildcard",
		[]string{"blocked", "must not be the wildcard '*' when the request's credentials mode is 'include'"}},
	{7, `annotation.cors_code = "origin-mismatch"`, "GET /s7/broken",
		[]string{"blocked", "The response lacks 'Vary: Origin': a cache likely served an answer made for another origin."}},
	{8, `annotation.cors_code = "preflight-redirect"`, "OPTIONS /s8/broken",
		[]string{"blocked", "Redirect is not allowed for a preflight request.", "The preflight was redirected (308 to '/s8/broken/')"}},
	{9, `annotation.cors_warnings = "header-not-exposed"`, "GET /s9/broken",
		[]string{"allowed", "Response header X-Request-Id is not listed in Access-Control-Expose-Headers: the page reads it as null."}},
}

// TestViewFindsEachScenario debugs every scenario as the tutorial tells a
// reader to: the example sends its telemetry to a real sidecar in local
// mode, each scenario's requests are made once the way Chromium makes them
// (the example's -smoke), and then, in headless Chromium on the sidecar's
// view, for each scenario the test types the filter the tutorial gives
// into the search box and presses Enter (one action), clicks the
// scenario's request in the list (two), and reads the root cause the
// tutorial promises from the trace page. One sidecar, one example and one
// browser serve all nine.
func TestViewFindsEachScenario(t *testing.T) {
	browsertest.Path(t) // skips, or fails under CI, without Chromium
	readme := tutorialtest.README(t)
	for _, c := range viewCases {
		if !strings.Contains(readme, "`"+c.query+"`") {
			t.Errorf("scenario %d: the tutorial does not give the filter %s", c.number, c.query)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sc := tutorialtest.StartSidecar(t, ctx)
	cfg, err := parseFlags([]string{"-api-addr", "127.0.0.1:0", "-page-addr", "127.0.0.1:0",
		"-daemon", sc.UDP, "-emf", sc.EMF, "-view", sc.UI}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w := &testWriter{t: t}
	defer w.close()
	a, err := start(ctx, cfg, slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatal(err)
	}
	smokeErr := smoke(ctx, a, io.Discard)
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil { // flushes the segments
		t.Errorf("shutdown: %v", err)
	}
	if smokeErr != nil {
		t.Fatal(smokeErr)
	}

	// The segments travel by UDP: wait until the view has each
	// scenario's request, found by the tutorial's filter.
	for _, c := range viewCases {
		tutorialtest.Poll(t, 20*time.Second, "the view to find "+c.request+" with "+c.query, func() bool {
			return len(listed(t, ctx, sc.UI, c.query, c.request)) > 0
		})
	}

	bctx, _ := browsertest.Start(ctx, t)
	for _, c := range viewCases {
		t.Run(c.request, func(t *testing.T) {
			want := listed(t, ctx, sc.UI, c.query, c.request)
			if err := chromedp.Do(bctx, chromedp.Navigate(sc.UI+"/#/traces")); err != nil {
				t.Fatal(err)
			}
			renders, err := browsertest.Poll[string](bctx, `document.getElementById('f-q') && document.getElementById('trace-list').dataset.renders !== '0' ? document.getElementById('trace-list').dataset.renders : null`, 20*time.Second)
			if err != nil {
				t.Fatalf("the trace list: %v\n%s", err, pageText(bctx))
			}
			// Action 1: type the filter into the search box, press Enter.
			if err := chromedp.Do(bctx, chromedp.SendKeys("#f-q", c.query+kb.Enter)); err != nil {
				t.Fatal(err)
			}
			// The list the search rendered, not the one before it.
			searched := `location.hash.includes('q=') && document.getElementById('trace-list') !== null && document.getElementById('trace-list').dataset.renders !== '0' && document.getElementById('trace-list').dataset.renders !== ` + strconv.Quote(renders)
			link := rowLink(c.request)
			if _, err := browsertest.Poll[bool](bctx, searched+` && `+link+` !== null`, 20*time.Second); err != nil {
				t.Fatalf("no row %s after searching %s: %v\n%s", c.request, c.query, err, pageText(bctx))
			}
			// Action 2: open the request's trace.
			if _, err := browsertest.Poll[bool](bctx, `(() => { const a = `+link+`; if (a) a.click(); return a !== null })()`, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if _, err := browsertest.Poll[bool](bctx, `location.hash.startsWith('#/trace/') && document.getElementById('node-detail') !== null && document.getElementById('node-detail').textContent.length > 0`, 20*time.Second); err != nil {
				t.Fatalf("the trace did not open: %v\n%s", err, pageText(bctx))
			}
			id := strings.TrimPrefix(browsertestEval[string](t, bctx, `decodeURIComponent(location.hash)`), "#/trace/")
			if !contains(want, id) {
				t.Errorf("opened trace %s, want one of %v", id, want)
			}
			page := pageText(bctx)
			for _, s := range c.rootCause {
				if !strings.Contains(page, s) {
					t.Errorf("scenario %d: the trace page does not say %q:\n%s", c.number, s, page)
				}
			}
		})
	}
}

// rowLink is a JavaScript expression for the trace link of the list row
// whose request is request (method and path), or null.
func rowLink(request string) string {
	b, _ := json.Marshal(request)
	return `(([...document.querySelectorAll('#trace-list tr.trace-row')].find((r) => {
		const [m, u] = r.querySelector('td.url').textContent.split(' ');
		try { return m + ' ' + new URL(u).pathname === ` + string(b) + `; } catch (e) { return false; }
	}) || {querySelector: () => null}).querySelector('a.trace-link'))`
}

// listed returns the IDs of the traces the view's API finds with query
// whose root request is request ("GET /path").
func listed(t *testing.T, ctx context.Context, view, query, request string) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, view+"/api/traces?q="+url.QueryEscape(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Traces []struct {
			ID     string `json:"id"`
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"traces"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("search %s: %d %v %s", query, resp.StatusCode, err, list.Error)
	}
	var ids []string
	for _, tr := range list.Traces {
		u, err := url.Parse(tr.URL)
		if err == nil && tr.Method+" "+u.Path == request {
			ids = append(ids, tr.ID)
		}
	}
	return ids
}

func pageText(ctx context.Context) string {
	s, _ := browsertest.Eval[string](ctx, `location.hash + '\n' + document.querySelector('main').innerText`)
	return s
}

func browsertestEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := browsertest.Eval[T](ctx, expr)
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
