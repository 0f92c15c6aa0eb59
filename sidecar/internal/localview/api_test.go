package localview

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// apiFixture stores one faulted scenario, two healthy traces and one
// throttled trace, and serves them.
type apiFixture struct {
	srv    *httptest.Server
	store  *Store
	sc     scenario
	okIDs  []string
	thrID  string
	client *http.Client
}

func newAPIFixture(t *testing.T) *apiFixture {
	clk := &fixedClock{t: t0}
	s := newStore(t, Config{Now: clk.Now, AllowedHosts: []string{"sidecar"}})
	var g ids
	f := &apiFixture{store: s}
	for i, name := range []string{"health", "catalog"} {
		id, d := okTrace(t, &g, t0.Add(time.Duration(i)*time.Second), name, time.Duration(5+i*100)*time.Millisecond)
		mustAdd(t, s, d)
		f.okIDs = append(f.okIDs, id)
		clk.Add(time.Second)
	}
	f.sc = newScenario(t, &g, clk.Now())
	mustAdd(t, s, f.sc.docs...)
	clk.Add(time.Second)
	f.thrID = g.traceID(clk.Now())
	mustAdd(t, s, doc(t, map[string]any{"name": "catalog", "id": g.id(), "trace_id": f.thrID,
		"start_time": ts(clk.Now()), "end_time": ts(clk.Now().Add(2 * time.Millisecond)), "error": true, "throttle": true,
		"http":        map[string]any{"response": map[string]any{"status": 429}},
		"annotations": map[string]any{"cors": "denied"}}))
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	f.client = f.srv.Client()
	return f
}

func (f *apiFixture) get(t *testing.T, path string, out any) *http.Response {
	t.Helper()
	resp, err := f.client.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return resp
}

func TestAPIListFilters(t *testing.T) {
	f := newAPIFixture(t)
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{f.thrID, f.sc.traceID, f.okIDs[1], f.okIDs[0]}},
		{"status=fault", []string{f.sc.traceID}},
		{"status=throttle", []string{f.thrID}},
		{"status=error", []string{f.thrID}},
		{"status=ok", []string{f.okIDs[1], f.okIDs[0]}},
		{"service=orders", []string{f.sc.traceID}}, // any service in the trace
		{"service=catalog", []string{f.thrID, f.okIDs[1]}},
		{"annotation=cors", []string{f.thrID, f.sc.traceID}},
		{"annotation=cors%3Dallowed", []string{f.sc.traceID}},
		{"annotation=ColdStart%3Dtrue", []string{f.sc.traceID}},
		{"annotation=route%3DPOST+%2Forders", []string{f.sc.traceID}},
		{"annotation=cor", nil},
		{"min_ms=40", []string{f.sc.traceID, f.okIDs[1]}},
		{"min_ms=40&max_ms=50", []string{f.sc.traceID}},
		{"service=catalog&status=ok", []string{f.okIDs[1]}},
		{"limit=1", []string{f.thrID}},
	}
	for _, c := range cases {
		var l traceList
		resp := f.get(t, "/api/traces?"+c.query, &l)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", c.query, resp.StatusCode)
		}
		var got []string
		for _, tr := range l.Traces {
			got = append(got, tr.ID)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("?%s = %v, want %v", c.query, got, c.want)
		}
		if l.Total != 4 {
			t.Errorf("?%s: total %d, want 4", c.query, l.Total)
		}
	}
}

func TestAPIBadQueries(t *testing.T) {
	f := newAPIFixture(t)
	for _, q := range []string{"/api/traces?status=broken", "/api/traces?min_ms=-1", "/api/traces?max_ms=NaN",
		"/api/traces?limit=x", "/api/metrics?bucket=0", "/api/metrics?bucket=1e9",
		"/api/traces?seg_status=broken", "/api/traces?seg_min_ms=-1", "/api/traces?seg_min_ms=Inf",
		"/api/traces?seg_since=yesterday", "/api/traces?seg_until=x", "/api/traces?seg_route=a&service_route=b"} {
		var e struct{ Error string }
		if resp := f.get(t, q, &e); resp.StatusCode != 400 || e.Error == "" {
			t.Errorf("%s: status %d, error %q; want 400 with a message", q, resp.StatusCode, e.Error)
		}
	}
	for _, q := range []string{"/api/traces/1-00000000-000000000000000000000000", "/api/traces/%3Cscript%3E", "/api/nothing"} {
		if resp := f.get(t, q, nil); resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", q, resp.StatusCode)
		}
	}
}

func TestAPITraceDetail(t *testing.T) {
	f := newAPIFixture(t)
	var d struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Segments []struct {
			Name        string `json:"name"`
			Subsegments []struct {
				Name        string          `json:"name"`
				Namespace   string          `json:"namespace"`
				AWS         json.RawMessage `json:"aws"`
				Metadata    json.RawMessage `json:"metadata"`
				Subsegments []struct {
					Name     string `json:"name"`
					Attached bool   `json:"attached"`
					Cause    struct {
						Exceptions []struct {
							Message string `json:"message"`
							Stack   []struct{ Label string }
						} `json:"exceptions"`
					} `json:"cause"`
				} `json:"subsegments"`
			} `json:"subsegments"`
		} `json:"segments"`
	}
	// Upper-case IDs find the same trace.
	resp := f.get(t, "/api/traces/"+strings.ToUpper(f.sc.traceID), &d)
	if resp.StatusCode != 200 || d.ID != f.sc.traceID || d.Status != "fault" || len(d.Segments) != 1 {
		t.Fatalf("detail = %d %+v", resp.StatusCode, d)
	}
	subs := d.Segments[0].Subsegments
	if len(subs) != 3 || subs[0].Name != "cache-lookup" || string(subs[0].Metadata) != `{"default":{"hit":false}}` ||
		subs[1].Namespace != "aws" || !strings.Contains(string(subs[1].AWS), "GetItem") {
		t.Fatalf("frontend subsegments = %+v", subs)
	}
	orders := subs[2].Subsegments
	if len(orders) != 1 || !orders[0].Attached || orders[0].Cause.Exceptions[0].Message != scenarioException ||
		orders[0].Cause.Exceptions[0].Stack[1].Label != "createOrder" {
		t.Errorf("orders segment = %+v", orders)
	}
}

func TestAPIServiceMap(t *testing.T) {
	f := newAPIFixture(t)
	var m serviceMap
	f.get(t, "/api/servicemap", &m)
	nodes := map[string]*mapNode{}
	for _, n := range m.Nodes {
		nodes[n.Name] = n
	}
	edges := map[string]*mapEdge{}
	for _, e := range m.Edges {
		edges[e.From+"->"+e.To] = e
	}
	if m.Traces != 4 || len(nodes) != 7 {
		t.Fatalf("map = %+v", m)
	}
	if n := nodes["catalog"]; n.Kind != "service" || n.Count != 2 || n.Throttles != 1 || n.ErrorRate != 0.5 {
		t.Errorf("catalog = %+v", n)
	}
	if n := nodes["orders"]; n.Kind != "service" || n.Faults != 1 || n.FaultRate != 1 {
		t.Errorf("orders = %+v", n)
	}
	if n := nodes["DynamoDB"]; n == nil || n.Kind != "aws" || n.ErrorRate != 0 {
		t.Errorf("DynamoDB = %+v", n)
	}
	if n := nodes["postgres"]; n == nil || n.Kind != "remote" {
		t.Errorf("postgres = %+v", n)
	}
	if n := nodes["client"]; n == nil || n.Kind != "client" || n.Count != 4 {
		t.Errorf("client = %+v", n)
	}
	// The traced remote call to orders becomes one frontend→orders edge;
	// each root segment has an edge from the client.
	want := []string{"frontend->DynamoDB", "frontend->orders", "orders->postgres", "client->health", "client->frontend"}
	if e := edges["client->catalog"]; e == nil || e.Count != 2 {
		t.Errorf("client->catalog = %+v", e)
	}
	want = append(want, "client->catalog")
	if len(edges) != len(want) {
		t.Errorf("edges = %v, want %v", keys(edges), want)
	}
	for _, k := range want[:len(want)-1] {
		if edges[k] == nil || edges[k].Count != 1 {
			t.Errorf("edge %s = %+v", k, edges[k])
		}
	}
	if e := edges["frontend->orders"]; e != nil && (e.Faults != 1 || e.AvgMS < 27.9 || e.AvgMS > 28.1) {
		t.Errorf("frontend->orders = %+v", e)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAPIFacetsStatsMetrics(t *testing.T) {
	f := newAPIFixture(t)
	if err := f.store.AddEMF(emfJSON(t, t0, "/checkout", []float64{12, 40}, 1, f.sc.traceID)); err != nil {
		t.Fatal(err)
	}
	var fc facets
	f.get(t, "/api/facets", &fc)
	if len(fc.Services) != 4 || fc.Services[0] != (facet{"catalog", 2}) {
		t.Errorf("services facet = %+v", fc.Services)
	}
	if len(fc.Annotations) != 3 || fc.Annotations[0] != (facet{"cors", 2}) {
		t.Errorf("annotation facet = %+v", fc.Annotations)
	}
	var st Stats
	f.get(t, "/api/stats", &st)
	if st.Traces != 4 || st.Segments != 6 || st.MetricDocs != 1 {
		t.Errorf("stats = %+v", st)
	}
	var m metricsResult
	f.get(t, "/api/metrics?namespace=Sidelight&metric=Latency&bucket=60", &m)
	if len(m.Series) != 1 || m.Series[0].Points[0].P99 != 40 || m.Series[0].Points[0].TraceIDs[0] != f.sc.traceID {
		t.Errorf("metrics = %+v", m)
	}
}

func TestHostCheckAndHeaders(t *testing.T) {
	f := newAPIFixture(t)
	u, _ := url.Parse(f.srv.URL)
	cases := []struct {
		host string
		want int
	}{
		{u.Host, 200},
		{"localhost:" + u.Port(), 200},
		{"LOCALHOST", 200},
		{"[::1]:" + u.Port(), 200},
		{"sidecar:2772", 200}, // AllowedHosts
		{"evil.example.com", http.StatusMisdirectedRequest},
		{"127.0.0.1.evil.example.com:" + u.Port(), http.StatusMisdirectedRequest},
		{"localhost.evil.example.com", http.StatusMisdirectedRequest},
	}
	for _, c := range cases {
		for _, path := range []string{"/", "/api/traces", "/static/app.js"} {
			req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
			req.Host = c.host
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("Host %q %s: status %d, want %d", c.host, path, resp.StatusCode, c.want)
			}
			h := resp.Header
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: no nosniff", path)
			}
		}
	}
	anyHost := newStore(t, Config{AllowedHosts: []string{"*"}}).Handler()
	req := httptest.NewRequest("GET", "http://10.0.3.7:2772/api/stats", nil)
	w := httptest.NewRecorder()
	anyHost.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Errorf(`AllowedHosts ["*"]: status %d for Host 10.0.3.7`, w.Code)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		req, _ := http.NewRequest(m, f.srv.URL+"/api/traces", strings.NewReader("{}"))
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Errorf("%s: status %d, want 405", m, resp.StatusCode)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	f := newAPIFixture(t)
	for path, ctype := range map[string]string{"/": "text/html", "/static/app.js": "text/javascript", "/static/style.css": "text/css",
		"/static/view.js": "text/javascript", "/static/overview.js": "text/javascript"} {
		resp := f.get(t, path, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %q, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), ctype)
		}
	}
	if resp := f.get(t, "/static/nope.js", nil); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
	// The page must not depend on inline script, which the CSP forbids.
	b, _ := webFS.ReadFile("web/index.html")
	if strings.Contains(string(b), "<script>") || strings.Contains(string(b), "onclick=") || strings.Contains(string(b), "onload=") {
		t.Error("index.html has inline script")
	}
	// Every page file is in the bundle the page loads, and none builds
	// markup from strings.
	for _, name := range viewScripts {
		raw, _ := webFS.ReadFile("web/" + name)
		if len(raw) == 0 || !strings.Contains(string(viewBundle), string(raw)) {
			t.Errorf("%s is missing or not in view.js", name)
		}
		var code strings.Builder
		for _, line := range strings.Split(string(raw), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "//") {
				code.WriteString(line + "\n")
			}
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(code.String(), bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}
