package localview

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The overview is the landing page: per service and route, figures that
// link to the traces behind them. A user reads the fault share of a route
// and clicks it to get exactly its faulted traces, then clicks a bar of
// the timeline to get the traces of that moment.
func TestBrowserOverview(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	var faulted []string
	for i := range 40 {
		at := now.Add(time.Duration(i-40) * time.Second)
		route, marks := "GET /items", []string(nil)
		if i%4 == 0 {
			route = "POST /orders"
			if i%8 == 0 {
				marks = []string{"fault"}
			}
		}
		d := routedSeg(t, &g, at, "shop", route, time.Duration(5+i)*time.Millisecond, marks...)
		mustAdd(t, s, d)
		if marks != nil {
			var m struct {
				TraceID string `json:"trace_id"`
			}
			json.Unmarshal(d, &m)
			faulted = append(faulted, m.TraceID)
		}
	}
	mustAdd(t, s, routedSeg(t, &g, now.Add(-3*time.Second), "inventory", "", 21*time.Microsecond))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the overview", `document.querySelectorAll('#overview tbody tr').length === 4`)
	if a := eval[string](t, ctx, `document.querySelector('header nav a.active').id`); a != "nav-overview" {
		t.Errorf("landing page nav = %q, want nav-overview", a)
	}
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll('#overview tbody tr')].map(r => r.className + ':' + r.cells[0].textContent)`)
	if fmt.Sprint(rows) != "[service-row:inventory service-row:shop route-row:GET /items route-row:POST /orders]" {
		t.Errorf("rows = %v", rows)
	}
	// The 21 µs request reads in microseconds, not "0.0 ms".
	if p50 := eval[string](t, ctx, `document.querySelector('#overview tr[data-service="inventory"] td.p50').textContent`); !strings.HasSuffix(p50, "µs") {
		t.Errorf("inventory p50 = %q, want microseconds", p50)
	}
	fault := eval[string](t, ctx, `document.querySelector('#overview tr.route-row[data-route="POST /orders"] td.fault').textContent`)
	if fault != "50% (5)" {
		t.Errorf("POST /orders faults = %q, want 50%% (5)", fault)
	}
	screenshot(t, ctx, "localview-overview.png")

	// One click from the number to its traces.
	click(t, ctx, `#overview tr.route-row[data-route="POST /orders"] td.fault a`)
	poll(t, ctx, "the faulted traces", `location.hash.startsWith('#/traces?') && document.querySelectorAll('#trace-list tr.trace-row').length === 5`)
	got := eval[[]string](t, ctx, `[...document.querySelectorAll('#trace-list tr.trace-row')].map(r => r.dataset.traceId).sort()`)
	want := append([]string(nil), faulted...)
	if fmt.Sprint(sorted(got...)) != fmt.Sprint(sorted(want...)) {
		t.Errorf("fault link lists %v, want %v", got, want)
	}
	if note := eval[string](t, ctx, `document.getElementById('segment-filter').textContent`); !strings.Contains(note, "of shop, with route POST /orders, marked fault") {
		t.Errorf("the list says %q of its filter", note)
	}
	if h := eval[string](t, ctx, `location.hash`); !strings.Contains(h, "seg_service=shop&seg_route=POST+%2Forders&seg_status=fault") {
		t.Errorf("the fault link %s does not name the row's service, route and marker", h)
	}

	// A timeline bar lists the traces of its column only.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/overview")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the overview", `document.querySelectorAll('#overview tr.service-row svg.spark a.col').length > 0`)
	cols := eval[int](t, ctx, `document.querySelectorAll('#overview tr[data-service="shop"].service-row svg.spark a.col').length`)
	if cols < 3 {
		t.Errorf("shop timeline has %d columns with requests, want several", cols)
	}
	eval[chromedp.Void](t, ctx, `(() => { const a = document.querySelector('#overview tr[data-service="shop"].service-row svg.spark a.col'); location.hash = a.getAttribute('href'); })()`)
	poll(t, ctx, "the column's traces", `location.hash.includes('seg_until=') && document.getElementById('trace-list') !== null && document.getElementById('trace-list').dataset.renders !== '0'`)
	n := eval[int](t, ctx, `document.querySelectorAll('#trace-list tr.trace-row').length`)
	if n == 0 || n >= 40 {
		t.Errorf("a timeline column lists %d traces, want some of the 40", n)
	}
}

// An empty store's landing page is not empty: it says what to send where,
// and the first request shows up without a reload.
func TestBrowserOverviewWaitingForData(t *testing.T) {
	ctx := browser(t)
	s := newStore(t, Config{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the waiting message", `document.getElementById('waiting') !== null`)
	text := eval[string](t, ctx, `document.getElementById('waiting').textContent`)
	for _, w := range []string{"Waiting for data", "udp://127.0.0.1:2000", "AWS_XRAY_DAEMON_ADDRESS", "tcp://127.0.0.1:25888", "-demo"} {
		if !strings.Contains(text, w) {
			t.Errorf("waiting message lacks %q: %q", w, text)
		}
	}
	var g ids
	_, d := okTrace(t, &g, time.Now(), "first", time.Millisecond)
	mustAdd(t, s, d)
	poll(t, ctx, "the first service", `document.querySelector('#overview tr[data-service="first"]') !== null`)

	// The metrics page says the same while no EMF has arrived.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/metrics")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the metrics waiting message", `document.getElementById('waiting') !== null && document.getElementById('waiting').textContent.includes('EMF metrics')`)
}

// The metrics page groups charts by metric, split by Service by default,
// folds series that are zero throughout (counted, expandable), draws the
// charts of a group on one time axis, and shows a point's details beside
// its group.
func TestBrowserMetricsGroups(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	var faultID string
	for i := range 6 {
		at := now.Add(time.Duration(i-6) * 10 * time.Second)
		for _, svc := range []string{"shop", "inventory", "billing"} {
			tid, d := okTrace(t, &g, at, svc, 5*time.Millisecond)
			faults := 0
			if svc == "shop" && i == 3 {
				faults, faultID = 1, tid
				d = doc(t, map[string]any{"name": svc, "id": g.id(), "trace_id": tid, "start_time": ts(at), "end_time": ts(at.Add(time.Millisecond)),
					"fault": true, "http": map[string]any{"request": map[string]any{"method": "GET"}, "response": map[string]any{"status": 500}}})
			}
			mustAdd(t, s, d)
			if svc == "shop" {
				// shop ships v2 halfway: a deployment marker on its charts.
				version := "v1"
				if i >= 3 {
					version = "v2"
				}
				mustAdd(t, s, doc(t, map[string]any{"name": svc, "id": g.id(), "trace_id": g.traceID(at), "start_time": ts(at),
					"end_time": ts(at.Add(time.Millisecond)), "service": map[string]any{"version": version}}))
			}
			if err := s.AddEMF(redDocService(t, at, svc, faults, tid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/metrics")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the groups", `document.querySelectorAll('#charts section.metric-group').length === 3`)
	groups := eval[[]string](t, ctx, `[...document.querySelectorAll('#charts section.metric-group')].map(s => s.dataset.metric + ':' + s.querySelectorAll('figure').length)`)
	// Faults: shop's chart shown, inventory's and billing's (all zero) folded.
	if fmt.Sprint(groups) != "[Faults:1 Latency:3 Requests:3]" {
		t.Errorf("groups = %v", groups)
	}
	if n := eval[string](t, ctx, `document.querySelector('section[data-metric="Faults"] button.fold').textContent`); !strings.Contains(n, "2 series with only zeros") {
		t.Errorf("fold button = %q", n)
	}
	// One time axis: every chart's axis labels agree.
	if labels := eval[[]string](t, ctx, `[...new Set([...document.querySelectorAll('#charts svg.chart')].map(s => [...s.querySelectorAll('.xlabel')].map(x => x.textContent).join('-')))]`); len(labels) != 1 {
		t.Errorf("charts have %d different time axes: %v", len(labels), labels)
	}
	// Deployment markers: v2 of shop on shop's charts, none on the others.
	if got := eval[[]string](t, ctx, `[...new Set([...document.querySelectorAll('figure[data-series="Service=shop"] line.deploy-marker')].map(l => l.dataset.version))]`); !slices.Contains(got, "v2") {
		t.Errorf("shop's deployment markers = %v, want v2 among them", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('figure[data-series="Service=inventory"] line.deploy-marker').length`); n != 0 {
		t.Errorf("inventory's charts show %d deployment markers of shop", n)
	}
	click(t, ctx, `section[data-metric="Faults"] button.fold`)
	poll(t, ctx, "the unfolded zero series", `document.querySelectorAll('section[data-metric="Faults"] figure').length === 3`)

	// A point's details sit beside its group's charts, not below them all.
	click(t, ctx, `section[data-metric="Faults"] figure[data-series="Service=shop"] circle.pt.linked`)
	poll(t, ctx, "the point's traces", `document.querySelectorAll('section[data-metric="Faults"] .point-traces ul.linked-traces a').length === 1`)
	if got := eval[string](t, ctx, `document.querySelector('section[data-metric="Faults"] .point-traces ul.linked-traces a').textContent`); got != faultID {
		t.Errorf("linked trace = %q, want %q", got, faultID)
	}
	beside := eval[bool](t, ctx, `(() => { const f = document.querySelector('section[data-metric="Faults"] figure').getBoundingClientRect();
		const a = document.querySelector('section[data-metric="Faults"] .point-traces').getBoundingClientRect();
		return a.left >= f.right && a.top < f.bottom && a.bottom > f.top; })()`)
	if !beside {
		t.Error("point details are not beside the chart")
	}
	screenshot(t, ctx, "localview-metrics-groups.png")

	// Sum of all series: one chart per metric.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("m-group"), "*")); err != nil {
		t.Fatal(err)
	}
	eval[chromedp.Void](t, ctx, `document.getElementById('m-group').dispatchEvent(new Event('change'))`)
	poll(t, ctx, "the summed charts", `location.hash.includes('group=*') && document.querySelectorAll('#charts figure').length === 3`)
	total := eval[float64](t, ctx, `(() => { const f = document.querySelector('section[data-metric="Requests"] figure'); return [...f.querySelectorAll('circle.pt')].length; })()`)
	if total == 0 {
		t.Error("the summed Requests chart has no points")
	}
}

// redDocService is a middleware-shaped EMF document for one request of
// service: [Service, Route, Method, StatusClass] and [Service].
func redDocService(t *testing.T, at time.Time, service string, faults int, traceID string) []byte {
	class := "2xx"
	if faults > 0 {
		class = "5xx"
	}
	b, err := json.Marshal(map[string]any{
		"_aws": map[string]any{"Timestamp": at.UnixMilli(), "CloudWatchMetrics": []any{map[string]any{
			"Namespace": "Sidelight", "Dimensions": []any{[]any{"Service", "Route", "Method", "StatusClass"}, []any{"Service"}},
			"Metrics": []any{map[string]any{"Name": "Requests", "Unit": "Count"}, map[string]any{"Name": "Faults", "Unit": "Count"},
				map[string]any{"Name": "Latency", "Unit": "Milliseconds"}},
		}}},
		"Service": service, "Route": "GET /x", "Method": "GET", "StatusClass": class,
		"Requests": 1, "Faults": faults, "Latency": []float64{5}, "TraceId": traceID,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
