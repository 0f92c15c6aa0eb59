package localview

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// routeLinkFixture has routes on more than one segment of a trace: shop
// serves GET /items and POST /orders; a GET /items request calls billing
// (route POST /orders) and inventory (no route); inventory also serves
// requests of its own, with and without a route. The overview counts each segment under its own
// service and route.
type routeLinkFixture struct {
	srv                            *httptest.Server
	orders, items, invAlone, stock string
}

func newRouteLinkFixture(t *testing.T) *routeLinkFixture {
	s := newStore(t, Config{})
	var g ids
	now := time.Now()
	f := &routeLinkFixture{}
	var d []byte
	at := now.Add(-9 * time.Second)
	d = routedSeg(t, &g, at, "shop", "POST /orders", 5*time.Millisecond)
	mustAdd(t, s, d)
	f.orders = traceIDOf(t, d)

	at = now.Add(-7 * time.Second)
	f.items = g.traceID(at)
	shopID, callID, invCallID := g.id(), g.id(), g.id()
	mustAdd(t, s, doc(t, map[string]any{"name": "shop", "id": shopID, "trace_id": f.items, "start_time": ts(at), "end_time": ts(at.Add(20 * time.Millisecond)),
		"annotations": map[string]any{"route": "GET /items"},
		"subsegments": []any{
			map[string]any{"name": "billing", "id": callID, "namespace": "remote", "start_time": ts(at.Add(time.Millisecond)), "end_time": ts(at.Add(9 * time.Millisecond))},
			map[string]any{"name": "inventory", "id": invCallID, "namespace": "remote", "start_time": ts(at.Add(10 * time.Millisecond)), "end_time": ts(at.Add(19 * time.Millisecond))},
		}}))
	mustAdd(t, s, doc(t, map[string]any{"name": "billing", "id": g.id(), "trace_id": f.items, "parent_id": callID,
		"start_time": ts(at.Add(2 * time.Millisecond)), "end_time": ts(at.Add(8 * time.Millisecond)), "annotations": map[string]any{"route": "POST /orders"}}))
	mustAdd(t, s, doc(t, map[string]any{"name": "inventory", "id": g.id(), "trace_id": f.items, "parent_id": invCallID,
		"start_time": ts(at.Add(11 * time.Millisecond)), "end_time": ts(at.Add(18 * time.Millisecond))}))

	at = now.Add(-5 * time.Second)
	d = routedSeg(t, &g, at, "inventory", "", 3*time.Millisecond)
	mustAdd(t, s, d)
	f.invAlone = traceIDOf(t, d)
	at = now.Add(-3 * time.Second)
	d = routedSeg(t, &g, at, "inventory", "GET /stock", 3*time.Millisecond)
	mustAdd(t, s, d)
	f.stock = traceIDOf(t, d)
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func traceIDOf(t *testing.T, d []byte) string {
	var m struct {
		TraceID string `json:"trace_id"`
	}
	if err := json.Unmarshal(d, &m); err != nil {
		t.Fatal(err)
	}
	return m.TraceID
}

func getInto(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func (f *routeLinkFixture) list(t *testing.T, query string) []string {
	t.Helper()
	var l traceList
	getInto(t, f.srv.URL+"/api/traces?"+query, &l)
	var ids []string
	for _, tr := range l.Traces {
		ids = append(ids, tr.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestAPIListServiceRoute: service_route selects the traces with a
// segment of the service whose own route annotation is the route ("" for
// none), so that every overview row's link lists as many traces as the
// row counts requests (one request per trace here).
func TestAPIListServiceRoute(t *testing.T) {
	f := newRouteLinkFixture(t)
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"service=shop&service_route=" + url.QueryEscape("POST /orders"), []string{f.orders}},
		{"service=shop&service_route=" + url.QueryEscape("GET /items"), []string{f.items}},
		{"service=billing&service_route=" + url.QueryEscape("POST /orders"), []string{f.items}},
		{"service=inventory&service_route=", sorted(f.items, f.invAlone)},
		{"service=inventory&service_route=" + url.QueryEscape("GET /stock"), []string{f.stock}},
		{"service=shop&service_route=", nil},
		{"service_route=" + url.QueryEscape("POST /orders"), sorted(f.orders, f.items)},
		{"service=shop", sorted(f.orders, f.items)}, // no service_route: no route condition
	} {
		if got := f.list(t, c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}

	var o overviewResult
	getInto(t, f.srv.URL+"/api/overview", &o)
	rows := 0
	for _, sr := range o.Services {
		for _, r := range sr.Routes {
			rows++
			got := f.list(t, "service="+url.QueryEscape(r.Service)+"&service_route="+url.QueryEscape(r.Route))
			if len(got) != r.Total.Requests {
				t.Errorf("row %s %q counts %d requests, its traces are %v", r.Service, r.Route, r.Total.Requests, got)
			}
		}
	}
	if rows != 5 {
		t.Errorf("%d route rows, want shop's two, billing's and inventory's two", rows)
	}
}

// TestBrowserOverviewRouteLinksAreExact: a route's link on the overview
// lists the traces the row counts, not those where the route is on
// another service's segment (shop's POST /orders row, while billing
// serves POST /orders in a GET /items trace), and the row of requests
// without a route keeps those whose trace has a route elsewhere
// (inventory called from shop's GET /items). With annotation.route in a
// filter expression, as before, both were wrong.
func TestBrowserOverviewRouteLinksAreExact(t *testing.T) {
	ctx := browser(t)
	f := newRouteLinkFixture(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/#/overview")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		service, route string
		want           []string
	}{
		{"shop", "POST /orders", []string{f.orders}},
		{"inventory", "", []string{f.items, f.invAlone}},
	} {
		t.Run(fmt.Sprintf("%s %q", c.service, c.route), func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/#/overview")); err != nil {
				t.Fatal(err)
			}
			sel := fmt.Sprintf(`#overview tr.route-row[data-service=%q][data-route=%q] a.route-link`, c.service, c.route)
			poll(t, ctx, "the overview's row", `document.querySelector(`+jsString(sel)+`) !== null`)
			click(t, ctx, sel)
			poll(t, ctx, "the row's traces", `location.hash.startsWith('#/traces?') && document.getElementById('trace-list') !== null && document.getElementById('trace-list').dataset.renders !== '0'`)
			got := eval[[]string](t, ctx, `[...document.querySelectorAll('#trace-list tr.trace-row')].map(r => r.dataset.traceId).sort()`)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("the link lists %v, want %v", got, want)
			}
		})
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
