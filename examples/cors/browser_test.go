package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// The tutorial shows Chromium's messages for the default addresses.
const (
	tutorialAPI  = "http://127.0.0.1:8090"
	tutorialPage = "http://127.0.0.1:8091"
)

// TestBrowserAgreesWithTraces runs every scenario, broken and fixed, from
// the example's page in headless Chromium, and checks that what the
// middleware recorded on each request's segment (cors_verdict, cors_code,
// cors_reason) agrees with what the browser did and said in its console,
// that the CORSBlocked metric counts the same blocks, and that the
// tutorial quotes Chromium's messages as they are.
func TestBrowserAgreesWithTraces(t *testing.T) {
	f := newFixture(t)
	a, stop := f.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	bctx, cons := browsertest.Start(ctx, t)

	// One button, clicked as a reader would.
	if err := chromedp.Do(bctx, chromedp.Navigate(a.pageURL+"/"), chromedp.Click(chromedp.ID("run-s1-broken"))); err != nil {
		t.Fatal(err)
	}
	clicked, err := browsertest.Poll[string](bctx, `document.getElementById("result-s1-broken").textContent || null`, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(clicked, "blocked: TypeError: Failed to fetch") {
		t.Errorf("after clicking s1/broken the page shows %q", clicked)
	}
	link, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.ID("trace-view"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	if link.Value != blockedURL("http://127.0.0.1:2772") {
		t.Errorf("trace view link %q", link.Value)
	}

	// Then every scenario, as "Run all" does.
	results, blockedFetches := browsertest.RunScenarios(bctx, t, cons)
	cons.WaitLoadFailed(ctx, t, blockedFetches) // may come after the CORS messages

	paths := byPath(t, f.segments(t, a))
	tutorial := tutorialtest.README(t)
	if !strings.Contains(tutorial, browsertest.FailedToLoad) {
		t.Errorf("the tutorial does not show Chromium's %q", browsertest.FailedToLoad)
	}
	apiBlocks := map[[2]string]float64{} // route and code of blocked segments
	var hints []string                   // every hint recorded
	for i, s := range corsscenarios.All() {
		r := results[i]
		t.Run(s.ID, func(t *testing.T) {
			browsertest.CheckResult(t, s, r)
			segs := paths[s.Path]
			if len(segs) == 0 {
				t.Fatal("no segment for the scenario's requests")
			}
			var block *xraytest.Segment
			for i, seg := range segs {
				v := annotation(seg, "cors_verdict")
				if h := annotation(seg, "cors_hint"); h != "" {
					hints = append(hints, h)
				}
				if v == "blocked" {
					route := annotation(seg, middleware.RouteAnnotation)
					if route == "" {
						route = "unmatched" // as the metrics name requests no route matched
					}
					apiBlocks[[2]string{route, annotation(seg, "cors_code")}]++
				}
				if s.PrimeFromOtherOrigin && annotation(seg, "cors_origin") != a.pageURL {
					// The visit from the other origin that filled the cache:
					// allowed, with a warning when Vary lacks Origin.
					if v != "allowed" || strings.Contains(annotation(seg, "cors_warnings"), "missing-vary-origin") != s.Blocked {
						t.Errorf("the other origin's request: %v", seg.Annotations)
					}
					continue
				}
				t.Logf("%s preflight=%v: %s %s %q hint=%q warnings=%q", seg.HTTP.Request.Method, seg.Annotations["cors_preflight"],
					v, annotation(seg, "cors_code"), annotation(seg, "cors_reason"), annotation(seg, "cors_hint"), annotation(seg, "cors_warnings"))
				if v == "" || annotation(seg, "cors_origin") != a.pageURL {
					t.Fatalf("segment without a CORS verdict for the page's origin: %v", seg.Annotations)
				}
				if pre, _ := seg.Annotations["cors_preflight"].(bool); pre != (seg.HTTP.Request.Method == "OPTIONS") {
					t.Errorf("cors_preflight %v on a %s", pre, seg.HTTP.Request.Method)
				}
				if (v == "blocked" || v == "depends-on-credentials" && s.Credentials == "include") && block == nil {
					block = &segs[i]
				}
			}
			if s.ChromiumAllows {
				// The verdict follows the standard and says Chromium differs.
				if block == nil || annotation(*block, "cors_code") != "header-not-allowed" || !strings.Contains(annotation(*block, "cors_hint"), "Chromium still allows it") {
					t.Fatalf("want a standard verdict that notes Chromium's leniency, got %v", block)
				}
				return
			}
			if (block != nil) != r.Blocked {
				t.Fatalf("segment says blocked=%v, the browser blocked=%v", block != nil, r.Blocked)
			}
			if block == nil && (cons.Blocked(a.apiURL+s.Path) != "" || cons.LoadFailed(a.apiURL+s.Path)) {
				t.Errorf("allowed, but the console says %q", cons.Blocked(a.apiURL+s.Path))
			}
			if block != nil {
				msg := cons.Blocked(a.apiURL + s.Path)
				if msg == "" {
					t.Fatalf("no console message for %s", a.apiURL+s.Path)
				}
				reason := annotation(*block, "cors_reason")
				if annotation(*block, "cors_code") == "" || !strings.Contains(msg, browsertest.CORSPolicy+reason) {
					t.Errorf("console says\n  %s\nthe segment says %s: %s", msg, annotation(*block, "cors_code"), reason)
				}
				if !cons.LoadFailed(a.apiURL + s.Path) {
					t.Errorf("no %q in the console for %s", browsertest.FailedToLoad, a.apiURL+s.Path)
				}
				quoted := strings.NewReplacer(a.apiURL, tutorialAPI, a.pageURL, tutorialPage).Replace(msg)
				if !strings.Contains(tutorial, quoted) {
					t.Errorf("the tutorial does not quote Chromium's message:\n%s", quoted)
				}
			}
			if s.ReadHeader != "" && !r.Blocked {
				last := segs[len(segs)-1]
				if strings.Contains(annotation(last, "cors_warnings"), "header-not-exposed") != (r.Header == nil) {
					t.Errorf("warnings %q, the page read %s = %v", annotation(last, "cors_warnings"), s.ReadHeader, r.Header)
				}
			}
		})
	}

	// The hints the tutorial quotes are ones the middleware records.
	quotedHints := regexp.MustCompile(`hint[^"]{0,40}"([^"]+)"`).FindAllStringSubmatch(strings.Join(strings.Fields(tutorial), " "), -1)
	if len(quotedHints) < 8 {
		t.Errorf("the tutorial quotes %d hints, want one per scenario", len(quotedHints))
	}
	for _, q := range quotedHints {
		if !slices.ContainsFunc(hints, func(h string) bool { return strings.Contains(h, q[1]) }) {
			t.Errorf("the tutorial quotes a hint no segment has: %q", q[1])
		}
	}

	t.Run("annotations shown in the tutorial", func(t *testing.T) {
		var shown map[string]any
		_, block, ok := strings.Cut(tutorial, "```json\n")
		block, _, _ = strings.Cut(block, "```")
		if !ok || json.Unmarshal([]byte(block), &shown) != nil {
			t.Fatalf("no JSON annotations block in the tutorial")
		}
		for _, seg := range paths["/s3/broken-401"] {
			if seg.HTTP.Request.Method != http.MethodOptions {
				continue
			}
			got := maps.Clone(seg.Annotations)
			got["cors_origin"] = tutorialPage
			if !reflect.DeepEqual(got, shown) {
				t.Errorf("the tutorial shows\n%v\nthe segment has\n%v", shown, got)
			}
			return
		}
		t.Error("no preflight segment for /s3/broken-401")
	})

	t.Run("gateway 502 trace", func(t *testing.T) {
		segs := paths["/s2/broken-502"]
		if len(segs) == 0 {
			t.Fatal("no segment")
		}
		seg := segs[len(segs)-1]
		if seg.HTTP.Response.Status != 502 || !seg.Fault {
			t.Errorf("gateway segment: status %d fault %v", seg.HTTP.Response.Status, seg.Fault)
		}
		remote := false
		for _, sub := range seg.Subsegments {
			remote = remote || sub.Namespace == "remote" && (sub.Error || sub.Fault || sub.Cause != nil)
		}
		if !remote {
			t.Errorf("no failed call to the orders backend in %s", seg.Raw)
		}
	})

	// The metric counts what the segments call blocked, per route and code.
	stop()
	f.agent.waitIdle(ctx, t)
	got := f.agent.corsBlocked(t)
	if fmt.Sprint(got) != fmt.Sprint(apiBlocks) {
		t.Errorf("CORSBlocked %v\nsegments   %v", got, apiBlocks)
	}
	if len(got) < 8 {
		t.Errorf("CORSBlocked has %d route/reason pairs, want one per blocked scenario", len(got))
	}
}
