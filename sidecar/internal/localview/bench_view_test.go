package localview

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
)

// The view's targets (issue 15), measured by the benchmarks below with
// 10,000 traces and 200 metric series stored:
//
//	go test ./sidecar/internal/localview -run '^$' -bench 'BenchmarkView' -benchtime 10x
//
// They report figures; no test asserts a timing.

// fillSeries adds EMF documents until the store holds at least n series:
// 40 routes of one service, five metrics each, ten points per route.
func fillSeries(tb testing.TB, s *Store, n int, now time.Time) {
	tb.Helper()
	routes := (n + 4) / 5
	for r := range routes {
		for p := range 10 {
			at := now.Add(-time.Duration(10-p) * 10 * time.Second)
			b := fmt.Appendf(nil, `{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"Bench","Dimensions":[["Service","Route"]],"Metrics":[`+
				`{"Name":"Latency","Unit":"Milliseconds"},{"Name":"Requests","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Faults","Unit":"Count"},{"Name":"Throttles","Unit":"Count"}]}]},`+
				`"Service":"bench","Route":"GET /r%d","Latency":[%d,%d],"Requests":2,"Errors":%d,"Faults":0,"Throttles":0}`,
				at.UnixMilli(), r, 5+r, 9+p, p%2)
			if err := s.addEMF(b, at.UnixNano()); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if got := s.Stats().Series; got < n {
		tb.Fatalf("%d series, want %d", got, n)
	}
}

// viewBenchStore is the benchmarks' store: 10,000 traces (fill) and 200
// or more series.
func viewBenchStore(tb testing.TB) *Store {
	s, _ := newFilled(tb, 10_000)
	fillSeries(tb, s, 200, time.Now())
	return s
}

// BenchmarkViewFirstPaint loads the overview, the landing page, in a
// fresh Chromium tab per iteration and reports, from the page's
// Performance API: fcp-ms, navigation start to first contentful paint;
// overview-ms, navigation start to the overview table in the page (the
// page marks it "sidelight-overview"); and, to see where the time goes,
// dcl-ms (DOMContentLoaded ended), api-start-ms and api-end-ms (the
// /api/overview request); floor-fcp-ms is the first paint of a one-line
// page, what the machine and Chromium take for any page at all.
func BenchmarkViewFirstPaint(b *testing.B) {
	s := viewBenchStore(b)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, browsertest.Options(b, chromedp.WindowSize(1400, 1000))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		b.Fatal(err)
	}
	// The machine's floor: first paint of a one-line page from a server
	// in the same process, in a fresh tab the same way.
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>floor</title><p>Loading…</p>")
	}))
	defer floor.Close()
	var fcps, overviews, dcls, apiStarts, apiEnds, htmls, floors, datas []float64
	b.ResetTimer()
	for range b.N {
		ftab, fcancel := chromedp.NewContext(bctx)
		if err := chromedp.Do(ftab, chromedp.Navigate(floor.URL)); err != nil {
			b.Fatal(err)
		}
		f, err := browsertest.Poll[float64](ftab, `(() => { const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null; })()`, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		floors = append(floors, f)
		fcancel()

		tab, tcancel := chromedp.NewContext(bctx)
		if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/")); err != nil {
			b.Fatal(err)
		}
		v, err := browsertest.Poll[[]float64](tab, `(() => {
			const p = performance.getEntriesByName('first-contentful-paint')[0];
			const o = performance.getEntriesByName('sidelight-overview')[0];
			const n = performance.getEntriesByType('navigation')[0];
			const all = performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/overview'));
			if (all.length > 1) throw new Error('the overview was fetched ' + all.length + ' times: the preload was not used');
			const a = all[0];
			return p && o && a && document.querySelectorAll('#overview tbody tr').length > 0
				? [p.startTime, o.startTime, n.domContentLoadedEventEnd, a.startTime, a.responseEnd, n.responseEnd,
					performance.getEntriesByName('sidelight-overview-data')[0].startTime] : null; })()`, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		fcps, overviews = append(fcps, v[0]), append(overviews, v[1])
		dcls, apiStarts, apiEnds = append(dcls, v[2]), append(apiStarts, v[3]), append(apiEnds, v[4])
		htmls, datas = append(htmls, v[5]), append(datas, v[6])
		tcancel()
	}
	b.StopTimer()
	b.ReportMetric(median(fcps), "fcp-ms")
	b.ReportMetric(median(overviews), "overview-ms")
	// Where the time goes: scripts run (DOMContentLoaded), the overview
	// request sent and answered.
	b.ReportMetric(median(floors), "floor-fcp-ms")
	b.ReportMetric(median(htmls), "html-ms")
	b.ReportMetric(median(dcls), "dcl-ms")
	b.ReportMetric(median(apiStarts), "api-start-ms")
	b.ReportMetric(median(apiEnds), "api-end-ms")
	b.ReportMetric(median(datas), "data-ms") // the page has the decoded answer
}

// benchSearches are searches a user types, as the search box sends them.
var benchSearches = []string{
	"/api/traces?q=" + url.QueryEscape(`fault`),
	"/api/traces?q=" + url.QueryEscape(`annotation.cors = "denied" AND responsetime > 0.1`),
	"/api/traces?q=" + url.QueryEscape(`service("payments") AND duration > 0.5`) + "&sort=duration",
	"/api/traces?q=" + url.QueryEscape(`http.url CONTAINS "/items/7" OR throttle`) + "&since=15m",
	"/api/traces?q=" + url.QueryEscape(`NOT ok AND http.status >= 400`),
}

// BenchmarkViewSearchAPI runs the searches over HTTP against 10,000
// traces and reports the median time of one search (median-ms).
func BenchmarkViewSearchAPI(b *testing.B) {
	s := viewBenchStore(b)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client := srv.Client()
	var times []float64
	b.ResetTimer()
	for i := range b.N {
		for _, q := range benchSearches {
			t0 := time.Now()
			resp, err := client.Get(srv.URL + q)
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %d %v", q, resp.StatusCode, err)
			}
			if i > 0 || len(times) > 0 {
				times = append(times, float64(time.Since(t0).Microseconds())/1000)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(median(times), "median-ms")
}

// BenchmarkViewOverviewAPI reports the time to answer /api/overview
// with 10,000 traces stored.
func BenchmarkViewOverviewAPI(b *testing.B) {
	s := viewBenchStore(b)
	b.ResetTimer()
	for range b.N {
		if o := s.overview(overviewQuery{}); len(o.Services) == 0 {
			b.Fatal("empty overview")
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}
