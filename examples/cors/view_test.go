package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

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
			return len(browsertest.ViewTraces(ctx, t, sc.UI, c.query, c.request)) > 0
		})
	}

	bctx, _ := browsertest.Start(ctx, t)
	for _, c := range viewCases {
		t.Run(c.request, func(t *testing.T) {
			want := browsertest.ViewTraces(ctx, t, sc.UI, c.query, c.request)
			id, page := browsertest.OpenFromSearch(bctx, t, sc.UI, c.query, c.request)
			if !slices.Contains(want, id) {
				t.Errorf("opened trace %s, want one of %v", id, want)
			}
			for _, s := range c.rootCause {
				if !strings.Contains(page, s) {
					t.Errorf("scenario %d: the trace page does not say %q:\n%s", c.number, s, page)
				}
			}
		})
	}
}
