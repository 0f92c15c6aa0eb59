package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

// browserScenario4 clicks scenario 4's buttons on the page in
// headless Chromium: the broken variant's console says the response had no
// Access-Control-Allow-Origin header, while the trace has the function's
// real error and the verdict blocked; the fixed variant is allowed. The
// console message is the one the tutorial quotes.
//
// It runs as a subtest of TestScenarios, on its example.
func browserScenario4(t *testing.T, e *example) {
	browsertest.Path(t) // skips, or fails under CI, without Chromium
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bctx, cons := browsertest.Start(ctx, t)

	from := e.out.Len()
	if err := chromedp.Do(bctx, chromedp.Navigate(e.page+"/"), chromedp.Click(chromedp.ID("run-error-broken"))); err != nil {
		t.Fatal(err)
	}
	shown, err := browsertest.Poll[string](bctx, `(t => t && t !== "…" ? t : null)(document.getElementById("result-error-broken").textContent)`, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if shown != "failed: TypeError: Failed to fetch" {
		t.Errorf("the page shows %q", shown)
	}
	const noHeader = "No 'Access-Control-Allow-Origin' header is present on the requested resource."
	msg := cons.Wait(ctx, t, noHeader)
	want := "Access to fetch at '" + e.api + "/error/broken' from origin '" + e.page + "' has been blocked by CORS policy: " + noHeader
	if !strings.HasPrefix(msg, want) {
		t.Errorf("console:\n%s\nwant:\n%s", msg, want)
	}
	// The tutorial quotes the message for the default addresses.
	quoted := strings.NewReplacer(e.api, tutorialAPI, e.page, tutorialPage).Replace(want)
	if !strings.Contains(tutorialtest.README(t), quoted) {
		t.Errorf("README.md does not quote Chromium's message:\n%s", quoted)
	}

	// The trace of that request has the real fault and the verdict.
	line := e.out.WaitFrom(t, from, "the gateway's line for the browser's request", func(s string) bool {
		return strings.HasPrefix(s, "[gateway] GET /error/broken -> 502")
	})
	_, trace, _ := strings.Cut(line, "trace ")
	trace, _, _ = strings.Cut(trace, " ")
	sub := e.functionSubsegment(t, trace)
	if !sub.Fault || sub.Cause == nil || sub.Cause.Exceptions[0].Message != "load cart c-404: cart not found" {
		t.Errorf("the trace should show the function's error: %s", sub.Raw)
	}
	if sub.Annotations["cors_verdict"] != "blocked" || sub.Annotations["cors_code"] != "missing-allow-origin" || sub.Annotations["cors_origin"] != e.page ||
		!strings.Contains(sub.Annotations["cors_reason"].(string), "No 'Access-Control-Allow-Origin' header") {
		t.Errorf("verdict: %v", sub.Annotations)
	}
	if doc := e.emf.invocationDoc(t, trace); doc["CORSBlocked"] != 1.0 {
		t.Errorf("CORSBlocked: %v", doc)
	}

	// The fixed variant: the page reads the function's 404.
	from = e.out.Len()
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("run-error-fixed"))); err != nil {
		t.Fatal(err)
	}
	shown, err = browsertest.Poll[string](bctx, `(t => t && t !== "…" ? t : null)(document.getElementById("result-error-fixed").textContent)`, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if shown != `404: {"message":"cart c-404 not found"}` {
		t.Errorf("fixed: the page shows %q", shown)
	}
	line = e.out.WaitFrom(t, from, "the gateway's line for the fixed request", func(s string) bool {
		return strings.HasPrefix(s, "[gateway] GET /error/fixed -> 404")
	})
	_, trace, _ = strings.Cut(line, "trace ")
	sub = e.functionSubsegment(t, strings.TrimSpace(trace))
	if sub.Annotations["cors_verdict"] != "allowed" {
		t.Errorf("fixed verdict: %v", sub.Annotations)
	}
	if cons.Has("/error/fixed' from origin") {
		t.Errorf("the fixed request is reported in the console")
	}
}
