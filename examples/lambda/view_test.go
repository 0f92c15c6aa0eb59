package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

// viewCase is one scenario as a reader debugs it in the sidecar's local
// view: the request the page's broken button makes; the filter the
// tutorial gives, typed into the search box; what the trace page must say.
type viewCase struct {
	number    int
	method    string
	path      string
	query     string // quoted in the tutorial
	rootCause []string
	// check reads more from the trace page.
	check func(t *testing.T, page string)
}

var viewCases = []viewCase{
	{1, "GET", "/coldstart/broken", `annotation.cold_start = true`,
		[]string{"Cold start on ## shop-slowinit", "cold start"},
		func(t *testing.T, page string) {
			// The gap before the function's subsegment is the
			// initialisation: four settings read one after the other,
			// 300 ms each.
			m := regexp.MustCompile(`it started ([0-9.]+) s after shop-api/local did`).FindStringSubmatch(page)
			if m == nil {
				t.Fatal("the page does not say how long the initialisation took")
			}
			if s, _ := strconv.ParseFloat(m[1], 64); s < 1.2 {
				t.Errorf("initialisation %s s, want at least 1.2", m[1])
			}
		}},
	{2, "GET", "/timeout/broken", `annotation.timeout = true`,
		[]string{"Timeout on ## shop", "sidelight.Timeout", "CORS blocked (missing-allow-origin)",
			"inventory"}, // the call that was still running, seen from the other side
		nil},
	{3, "POST", "/panic/broken", `fault = true`,
		[]string{"runtime error: invalid memory address or nil pointer dereference", "main.placeOrder"},
		nil},
	{4, "GET", "/error/broken", `annotation.cors_verdict = "blocked"`,
		[]string{"load cart c-404: cart not found", "CORS blocked (missing-allow-origin)",
			"No 'Access-Control-Allow-Origin' header is present on the requested resource."},
		nil},
	{5, "GET", "/propagation/broken", `annotation.scenario = "propagation"`,
		[]string{"2 segments and subsegments"},
		func(t *testing.T, page string) {
			// The trace stops at the function: no call, no inventory.
			if strings.Contains(page, "remote") || strings.Contains(page, "inventory") {
				t.Errorf("the broken variant's trace has the inventory call")
			}
		}},
	{6, "GET", "/goroutine/broken", `annotation.scenario = "goroutine"`,
		[]string{"Outlived its parent", "after ## shop had", "context canceled"},
		nil},
}

// TestViewFindsEachScenario debugs every scenario as the tutorial tells a
// reader to: the example (function under the emulator, local API Gateway,
// inventory) sends its telemetry to a real sidecar in local mode, each
// scenario's broken variant is called once as the page's button does, and
// then, in headless Chromium on the sidecar's view, for each scenario the
// test types the tutorial's filter into the search box and presses Enter
// (one action), clicks the scenario's request in the list (two), and reads
// the root cause from the trace page. One sidecar, one example and one
// browser serve all six.
func TestViewFindsEachScenario(t *testing.T) {
	browsertest.Path(t) // skips, or fails under CI, without Chromium
	rie := lambdatest.RIE(t)
	readme := tutorialtest.README(t)
	for _, c := range viewCases {
		if !strings.Contains(readme, "`"+c.query+"`") {
			t.Errorf("scenario %d: the tutorial does not give the filter %s", c.number, c.query)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sc := tutorialtest.StartSidecar(t, ctx)
	e := &example{out: lambdatest.NewLines()}
	e.run(t, ctx, "-rie", rie, "-xray", sc.UDP, "-emf", sc.EMF, "-view", sc.UI)

	traces := map[string]string{} // the trace of each case's request
	for _, c := range viewCases {
		traces[c.path] = e.call(t, c.method, c.path).trace
	}
	// Segments travel by UDP: wait until the view finds each request with
	// the tutorial's filter, and the timed-out trace has the inventory's
	// segment of the call that was still running.
	for _, c := range viewCases {
		tutorialtest.Poll(t, 30*time.Second, "the view to find "+c.path+" with "+c.query, func() bool {
			return slices.Contains(browsertest.ViewTraces(ctx, t, sc.UI, c.query, c.method+" "+c.path), traces[c.path])
		})
	}
	tutorialtest.Poll(t, 30*time.Second, "the inventory's /slow segment in the timed-out trace", func() bool {
		resp, err := http.Get(sc.UI + "/api/traces/" + traces["/timeout/broken"])
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"name":"inventory"`)
	})

	bctx, _ := browsertest.Start(ctx, t)
	for _, c := range viewCases {
		t.Run(c.path, func(t *testing.T) {
			id, page := browsertest.OpenFromSearch(bctx, t, sc.UI, c.query, c.method+" "+c.path)
			if id != traces[c.path] {
				t.Errorf("opened trace %s, want %s", id, traces[c.path])
			}
			for _, s := range c.rootCause {
				if !strings.Contains(page, s) {
					t.Errorf("scenario %d: the trace page does not say %q", c.number, s)
				}
			}
			if c.check != nil {
				c.check(t, page)
			}
			if t.Failed() {
				t.Logf("the trace page:\n%s", page)
			}
		})
	}
}
