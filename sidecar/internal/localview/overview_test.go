package localview

import (
	"fmt"
	"github.com/seed-c77c9410/sidelight/middleware"
	"math"
	"testing"
	"time"
)

// routedSeg is one completed request to service on route, started at
// and lasting dur, with the given markers.
func routedSeg(t testing.TB, g *ids, at time.Time, service, route string, dur time.Duration, marks ...string) []byte {
	m := map[string]any{"name": service, "id": g.id(), "trace_id": g.traceID(at),
		"start_time": ts(at), "end_time": ts(at.Add(dur))}
	if route != "" {
		m["annotations"] = map[string]any{"route": route}
	}
	for _, k := range marks {
		m[k] = true
	}
	return doc(t, m)
}

func findRow(t *testing.T, o overviewResult, service, route string) *overviewRow {
	t.Helper()
	for _, sr := range o.Services {
		if sr.Service != service {
			continue
		}
		if route == "" {
			return sr
		}
		for _, r := range sr.Routes {
			if r.Route == route {
				return r
			}
		}
	}
	t.Fatalf("no row %s %s in %+v", service, route, o.Services)
	return nil
}

// The overview's figures per service and route: rates over the span the
// data covers, error/fault/throttle shares, and percentiles within one
// histogram bin (9 %) of the exact ones.
func TestOverviewFigures(t *testing.T) {
	clk := &fixedClock{t: t0.Add(time.Minute)}
	s := newStore(t, Config{Now: clk.Now})
	var g ids
	// shop GET /items: 100 requests over 50 s, 1..100 ms, 10 errors, 5 faults, 2 throttles.
	for i := range 100 {
		var marks []string
		switch {
		case i < 10:
			marks = append(marks, "error")
			if i < 2 {
				marks = append(marks, "throttle")
			}
		case i < 15:
			marks = append(marks, "fault")
		}
		mustAdd(t, s, routedSeg(t, &g, t0.Add(time.Duration(i)*500*time.Millisecond), "shop", "GET /items", time.Duration(i+1)*time.Millisecond, marks...))
	}
	// shop POST /orders: 10 slow requests; inventory: 1 request without a route.
	for i := range 10 {
		mustAdd(t, s, routedSeg(t, &g, t0.Add(time.Duration(i)*time.Second), "shop", "POST /orders", 2*time.Second))
	}
	mustAdd(t, s, routedSeg(t, &g, t0, "inventory", "", 21*time.Microsecond))

	o := s.overview(overviewQuery{})
	if len(o.Services) != 2 || o.Services[0].Service != "inventory" || o.Services[1].Service != "shop" {
		t.Fatalf("services = %+v", o.Services)
	}
	if o.ColumnSeconds != 10 || o.Columns != 5 || o.Start != t0.Unix() {
		t.Errorf("axis: start %d, %d columns of %d s; want %d, 5 of 10 s", o.Start, o.Columns, o.ColumnSeconds, t0.Unix())
	}
	items := findRow(t, o, "shop", "GET /items")
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.1 {
			t.Errorf("%s = %v, want %v within 10%%", what, got, want)
		}
	}
	if items.Total.Requests != 100 || items.Total.Errors != 10 || items.Total.Faults != 5 || items.Total.Throttles != 2 {
		t.Errorf("GET /items counts = %+v", items.Total)
	}
	near("rate", items.Total.Rate, 2) // 100 requests in 50 s
	near("error rate", items.Total.ErrorRate, 0.10)
	near("p50", items.Total.P50MS, 50)
	near("p90", items.Total.P90MS, 90)
	near("p99", items.Total.P99MS, 99)
	if got := items.Columns[0].Requests; got != 20 {
		t.Errorf("first column has %d requests, want 20", got)
	}
	shop := findRow(t, o, "shop", "")
	if shop.Total.Requests != 110 || len(shop.Routes) != 2 || len(shop.Columns) != 5 {
		t.Errorf("shop row = %+v", shop.Total)
	}
	near("shop p99", shop.Total.P99MS, 2000)
	inv := findRow(t, o, "inventory", "")
	if inv.Total.Requests != 1 || inv.Routes[0].Route != "" {
		t.Errorf("inventory row = %+v", inv)
	}
	near("21 µs p50", inv.Total.P50MS, 0.021)

	// since narrows the span to the last columns.
	o2 := s.overview(overviewQuery{since: timeBound{set: true, abs: float64(t0.Add(40 * time.Second).Unix())}})
	if got := findRow(t, o2, "shop", "GET /items").Total.Requests; got != 20 {
		t.Errorf("since t0+40s: %d requests, want 20", got)
	}
}

// An in-progress segment is not counted until it completes, and a
// replacement counts once.
func TestOverviewInProgressReplaced(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	tid, id := g.traceID(t0), g.id()
	mustAdd(t, s, doc(t, map[string]any{"name": "fn", "id": id, "trace_id": tid, "start_time": ts(t0), "in_progress": true}))
	if o := s.overview(overviewQuery{}); len(o.Services) != 0 {
		t.Fatalf("in-progress segment counted: %+v", o.Services)
	}
	for range 2 {
		mustAdd(t, s, doc(t, map[string]any{"name": "fn", "id": id, "trace_id": tid, "start_time": ts(t0), "end_time": ts(t0.Add(time.Second)), "fault": true}))
	}
	o := s.overview(overviewQuery{})
	if len(o.Services) != 1 || o.Services[0].Total.Requests != 1 || o.Services[0].Total.Faults != 1 {
		t.Fatalf("after completion: %+v", o.Services)
	}
}

// Memory stays bounded: evicted traces leave the overview, and distinct
// (service, route) pairs beyond the cap share one overflow row.
func TestOverviewBounded(t *testing.T) {
	clk := &fixedClock{t: t0}
	s := newStore(t, Config{Now: clk.Now, MaxTraces: 50})
	var g ids
	for i := range ovMaxKeys + 200 {
		mustAdd(t, s, routedSeg(t, &g, clk.Now(), fmt.Sprintf("svc%d", i%40), fmt.Sprintf("GET /r%d", i), time.Millisecond))
		clk.Add(time.Second)
	}
	cells := 0
	for _, se := range s.ov {
		cells += len(se.buckets)
	}
	if len(s.ov) > 50 || cells > 50 {
		t.Errorf("overview holds %d series and %d cells for 50 stored traces", len(s.ov), cells)
	}
	total := 0
	for _, sr := range s.overview(overviewQuery{}).Services {
		total += sr.Total.Requests
	}
	if total != 50 {
		t.Errorf("overview counts %d requests, store holds 50 traces", total)
	}

	// Without eviction, the key cap holds.
	s2 := newStore(t, Config{Now: clk.Now})
	for i := range ovMaxKeys + 200 {
		mustAdd(t, s2, routedSeg(t, &g, clk.Now(), "svc", fmt.Sprintf("GET /r%d", i), time.Millisecond))
	}
	if len(s2.ov) > ovMaxKeys+1 {
		t.Errorf("%d series, cap %d", len(s2.ov), ovMaxKeys)
	}
	if r := findRow(t, s2.overview(overviewQuery{}), ovOverflow, ovOverflow); r.Total.Requests != 200 {
		t.Errorf("overflow row has %d requests, want 200", r.Total.Requests)
	}
}

func TestLatencyBins(t *testing.T) {
	for _, sec := range []float64{0, 1e-7, 1e-6, 21e-6, 1e-3, 0.25, 1, 30, 1e6, math.Inf(1), math.NaN()} {
		b := latencyBin(sec)
		v := binValue(b)
		if sec > ovMinLatency && sec < 1e4 && (v < sec || v > sec*1.1) {
			t.Errorf("%v s in bin %d worth %v", sec, b, v)
		}
	}
}

func TestAPIOverview(t *testing.T) {
	f := newAPIFixture(t)
	var o overviewResult
	if resp := f.get(t, "/api/overview", &o); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	names := map[string]int{}
	for _, sr := range o.Services {
		names[sr.Service] = sr.Total.Requests
	}
	// frontend and orders (the scenario), health, catalog twice.
	if names["frontend"] != 1 || names["orders"] != 1 || names["catalog"] != 2 || names["health"] != 1 {
		t.Errorf("services = %v", names)
	}
	if resp := f.get(t, "/api/overview?since=yesterday", nil); resp.StatusCode != 400 {
		t.Errorf("bad since: status %d", resp.StatusCode)
	}
}

// lambdaTrace is what the Lambda middleware sends for one invocation, with
// its annotation names (middleware.ColdStartAnnotation, TimeoutAnnotation): an
// independent subsegment under the function segment Lambda sends to X-Ray
// itself (so never here), cold, calling DynamoDB, faulted by a timeout.
func lambdaTrace(t testing.TB, g *ids, at time.Time) (traceID, segID string, b []byte) {
	traceID, segID = g.traceID(at), g.id()
	b = doc(t, map[string]any{"name": "checkout-fn", "id": segID, "trace_id": traceID, "parent_id": g.id(), "type": "subsegment",
		"start_time": ts(at), "end_time": ts(at.Add(2900 * time.Millisecond)), "fault": true,
		"annotations": map[string]any{middleware.ColdStartAnnotation: true, middleware.TimeoutAnnotation: true, "Service": "checkout"},
		"subsegments": []any{map[string]any{"name": "DynamoDB", "id": g.id(), "namespace": "aws",
			"start_time": ts(at.Add(time.Millisecond)), "end_time": ts(at.Add(2800 * time.Millisecond))}}})
	return traceID, segID, b
}

// A document whose parent never arrived is marked an orphan; on the map
// it is a function node called by the client, with its downstream calls;
// the list finds traces by a downstream call's name.
func TestOrphanFunctionNode(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	tid, segID, b := lambdaTrace(t, &g, t0)
	mustAdd(t, s, b)
	_, ok := okTrace(t, &g, t0, "web", time.Millisecond)
	mustAdd(t, s, ok)
	d, found := s.detail(tid)
	if !found || len(d.Segments) != 1 || !d.Segments[0].Orphan || d.Segments[0].ID != segID {
		t.Fatalf("detail segments = %+v", d.Segments)
	}
	m := s.serviceMap()
	kinds := map[string]string{}
	for _, n := range m.Nodes {
		kinds[n.Name] = n.Kind
	}
	edges := map[string]bool{}
	for _, e := range m.Edges {
		edges[e.From+"->"+e.To] = true
	}
	if kinds["checkout-fn"] != "function" || kinds["client"] != "client" || kinds["DynamoDB"] != "aws" {
		t.Errorf("node kinds = %v", kinds)
	}
	for _, e := range []string{"client->checkout-fn", "checkout-fn->DynamoDB", "client->web"} {
		if !edges[e] {
			t.Errorf("no edge %s in %v", e, edges)
		}
	}
	l := s.list(listQuery{call: "DynamoDB", limit: 10})
	if l.Matched != 1 || l.Traces[0].ID != tid {
		t.Errorf("call=DynamoDB matched %d: %+v", l.Matched, l.Traces)
	}
}
