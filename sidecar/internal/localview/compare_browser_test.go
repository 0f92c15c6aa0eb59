package localview

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// The compare page, read as a user reads it: the verdict of each route,
// the method and minimum sample size, the deployments, and a link to one
// side's example traces.
func TestBrowserCompareVerdicts(t *testing.T) {
	ctx := browser(t)
	s := newStore(t, Config{})
	var g ids
	const n = 400
	mustAdd(t, s, rolloutTraffic(t, &g, time.Now().Add(-10*time.Minute), n, 7)...)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// From the nav, with no parameters: the page picks the newest
	// deployment (shop v2) and the version before it.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "#nav-compare")
	poll(t, ctx, "the verdicts", `document.querySelectorAll('#cmp-table tr.cmp-row').length === 4`)
	screenshot(t, ctx, "localview-compare.png")
	got := eval[[]string](t, ctx, `[...document.querySelectorAll('#cmp-table tr.cmp-row')].map(r => r.querySelector('td.route').textContent + ': ' + r.querySelector('td.verdict .vbadge').textContent)`)
	want := []string{"GET /cart: pass", "GET /healthz: pass", "GET /orders/{id}: fail", "GET /products/{id}: fail"}
	if !slices.Equal(got, want) {
		t.Errorf("verdicts on the page %q, want %q", got, want)
	}
	if v := eval[string](t, ctx, `document.getElementById('cmp-verdict').textContent`); !strings.HasPrefix(v, "Verdict: fail — 4 routes: 2 fail, 2 pass") {
		t.Errorf("overall verdict line %q", v)
	}
	if h := eval[string](t, ctx, `location.hash`); h != "#/compare" {
		t.Errorf("hash %q", h)
	}
	if sel := eval[[]string](t, ctx, `[document.getElementById('cmp-service').value, document.getElementById('cmp-baseline').value, document.getElementById('cmp-candidate').value]`); !slices.Equal(sel, []string{"shop", "v1", "v2"}) {
		t.Errorf("form shows %q", sel)
	}
	method := eval[string](t, ctx, `document.getElementById('cmp-method').textContent`)
	if !strings.Contains(method, "Mann-Whitney U") || !strings.Contains(method, "two-proportion z-test") {
		t.Errorf("method not stated: %q", method)
	}
	if m := eval[string](t, ctx, `document.getElementById('cmp-min').textContent`); !strings.Contains(m, "Minimum sample size: 30 requests per side") {
		t.Errorf("minimum sample size not stated: %q", m)
	}
	// Side by side: the orders route's fault rates, 5% and 10%, the
	// candidate's marked worse.
	cells := eval[[]string](t, ctx, `[...document.querySelectorAll('#cmp-table tr.cmp-row[data-route="GET /orders/{id}"] td[data-k="fault_rate"]')].map(td => td.textContent + (td.classList.contains('worse') ? ' worse' : ''))`)
	if !slices.Equal(cells, []string{"5.0%", "10.0% worse"}) {
		t.Errorf("orders fault rates %q", cells)
	}
	p99 := eval[[]string](t, ctx, `[...document.querySelectorAll('#cmp-table tr.cmp-row[data-route="GET /products/{id}"] td[data-k="p99_ms"]')].map(td => td.textContent)`)
	if len(p99) != 2 || p99[0] == p99[1] {
		t.Errorf("products p99 %q", p99)
	}
	if d := eval[[]string](t, ctx, `[...document.querySelectorAll('#cmp-deploys li.deploy')].map(li => li.dataset.version)`); !slices.Equal(d, []string{"v2", "v1"}) {
		t.Errorf("deployments listed %q, want v2 then v1", d)
	}

	// The candidate's example traces on the orders route.
	click(t, ctx, `#cmp-table tr.cmp-row[data-route="GET /orders/{id}"] a.cmp-traces.candidate`)
	poll(t, ctx, "the candidate's traces", `location.hash.startsWith('#/traces?') && document.querySelectorAll('#trace-list tr.trace-row').length === 100`)
	if sum := eval[string](t, ctx, `document.getElementById('list-summary').textContent`); !strings.HasPrefix(sum, fmt.Sprintf("%d of %d traces match", n, 8*n)) {
		t.Errorf("list summary %q", sum)
	}

	// Back, then a comparison the other way round with the form: nothing
	// fails when the old version is the candidate, except what v1 does worse.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/compare?service=shop&baseline=v2&candidate=v1")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the reversed verdicts", `document.querySelector('#cmp-verdict') && document.getElementById('cmp-candidate').value === 'v1' && document.querySelectorAll('#cmp-table tr.cmp-row[data-verdict="fail"]').length === 0`)

	// A bad query is said on the page.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/compare?service=shop&baseline_since=yesterday&candidate=v2")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the error", `(document.getElementById('cmp-error') || {}).textContent === 'baseline_since "yesterday" is not a duration before now (15m), epoch seconds or an RFC 3339 time'`)
}

// fastSegment is segmentDoc without the schema check, for large stores;
// the first document of a test is checked.
func fastSegment(g *ids, r request) []byte {
	end := r.at.Add(time.Duration(r.ms * float64(time.Millisecond)))
	flags := ""
	if r.status >= 500 {
		flags = `,"fault":true`
	} else if r.status >= 400 {
		flags = `,"error":true`
	}
	return fmt.Appendf(nil, `{"name":%q,"id":%q,"trace_id":%q,"start_time":%.6f,"end_time":%.6f%s,`+
		`"http":{"request":{"method":"GET","url":"http://%s/x"},"response":{"status":%d}},"annotations":{"route":%q,"Version":%q}}`,
		r.service, g.id(), g.traceID(r.at), ts(r.at), ts(end), flags, r.service, r.status, r.route, r.version)
}

// 10,000 traces, two versions of 50 routes each: the page renders the
// verdicts of all 50 routes, computed server-side. Timings are logged, not
// asserted; TestCompareLinear bounds the work.
func TestBrowserCompareTenThousandTraces(t *testing.T) {
	ctx := browser(t)
	s := newStore(t, Config{MaxTraces: 10_000})
	var g ids
	start := time.Now().Add(-20 * time.Minute)
	for i := range 10_000 {
		v := []string{"v1", "v2"}[i%2]
		st := 200
		if i%97 == 0 {
			st = 500
		}
		d := fastSegment(&g, request{service: "big", version: v, route: fmt.Sprintf("GET /r%02d", (i/2)%50),
			at: start.Add(time.Duration(i) * 100 * time.Millisecond), ms: float64(1 + i%13), status: st})
		if i == 0 {
			if err := schematest.Segment(d); err != nil {
				t.Fatalf("%v\n%s", err, d)
			}
		}
		mustAdd(t, s, d)
	}
	if st := s.Stats(); st.Traces != 10_000 {
		t.Fatalf("%d traces stored", st.Traces)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/compare?service=big&baseline=v1&candidate=v2")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "50 routes", `document.querySelectorAll('#cmp-table tr.cmp-row').length === 50`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#cmp-table tr.cmp-row[data-verdict="pass"]').length`); n != 50 {
		t.Errorf("%d of 50 equal routes pass", n)
	}
	t.Logf("10,000 traces, 50 routes: fetch %s ms, build %s ms",
		eval[string](t, ctx, `document.getElementById('cmp-result').dataset.fetchMs`),
		eval[string](t, ctx, `document.getElementById('cmp-result').dataset.buildMs`))
}
