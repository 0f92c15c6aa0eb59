package localview

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/compare"
)

// request is one generated request of a service.
type request struct {
	service, version, route string
	at                      time.Time
	ms                      float64
	status                  int
	serviceBlock            bool // version in service.version instead of the annotation
}

// segmentDoc builds the segment of r, checked against X-Ray's schema.
func segmentDoc(t testing.TB, g *ids, r request) []byte {
	return doc(t, segmentMap(g, r))
}

// segmentMap is the segment of r as a map.
func segmentMap(g *ids, r request) map[string]any {
	m := map[string]any{
		"name": r.service, "id": g.id(), "trace_id": g.traceID(r.at),
		"start_time": ts(r.at), "end_time": ts(r.at.Add(time.Duration(r.ms * float64(time.Millisecond)))),
		"http": map[string]any{"request": map[string]any{"method": "GET", "url": "http://" + r.service + "/x"},
			"response": map[string]any{"status": r.status}},
	}
	ann := map[string]any{}
	if r.route != "" {
		ann["route"] = r.route
	}
	if r.version != "" {
		if r.serviceBlock {
			m["service"] = map[string]any{"version": r.version}
		} else {
			ann[deployversion.AnnotationKey] = r.version
		}
	}
	if len(ann) > 0 {
		m["annotations"] = ann
	}
	switch {
	case r.status >= 500:
		m["fault"] = true
	case r.status == 429:
		m["throttle"] = true
		m["error"] = true
	case r.status >= 400:
		m["error"] = true
	}
	return m
}

// rolloutTraffic generates n requests per version per route of "shop":
//   - GET /orders/{id}: 5% faults on v1, 10% on v2 (the 2× fault rate);
//   - GET /products/{id}: v2 slower (every latency + 20 ms);
//   - GET /healthz, GET /cart: the same rates and latencies on both (random, equal);
//
// v1's requests come first, then v2's, from start. The first document of
// each route and version is checked against X-Ray's schema (checking them
// all costs seconds under -race).
func rolloutTraffic(t testing.TB, g *ids, start time.Time, n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var docs [][]byte
	add := func(r request) {
		if len(docs) < 8 || len(docs) >= 4*n && len(docs) < 4*n+8 {
			docs = append(docs, segmentDoc(t, g, r))
			return
		}
		b, err := json.Marshal(segmentMap(g, r))
		if err != nil {
			panic(err)
		}
		docs = append(docs, b)
	}
	for vi, v := range []string{"v1", "v2"} {
		base := start.Add(time.Duration(vi) * time.Duration(n) * 100 * time.Millisecond)
		for i := range n {
			at := base.Add(time.Duration(i) * 100 * time.Millisecond)
			st := 200
			faultEvery := 20
			if v == "v2" {
				faultEvery = 10
			}
			if i%faultEvery == 3 {
				st = 500
			}
			add(request{service: "shop", version: v, route: "GET /orders/{id}", at: at, ms: 10 + float64(i%7), status: st})
			slow := 0.0
			if v == "v2" {
				slow = 20
			}
			add(request{service: "shop", version: v, route: "GET /products/{id}", at: at, ms: 5 + float64(rng.IntN(20)) + slow, status: 200})
			st = 200
			if rng.Float64() < 0.1 {
				st = 500
			}
			add(request{service: "shop", version: v, route: "GET /healthz", at: at, ms: 1 + rng.Float64()*3, status: st})
			st = 200
			if rng.Float64() < 0.05 {
				st = 404
			}
			add(request{service: "shop", version: v, route: "GET /cart", at: at, ms: 8 + rng.Float64()*10, status: st, serviceBlock: true})
		}
	}
	return docs
}

func getCompare(t *testing.T, h http.Handler, query string) (int, compareResult, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/api/compare?"+query, nil))
	var res compareResult
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("decoding %s: %v", rec.Body.String(), err)
		}
	}
	return rec.Code, res, rec.Body.String()
}

func verdicts(res compareResult) map[string]compare.Verdict {
	m := map[string]compare.Verdict{}
	for _, r := range res.Routes {
		m[r.Route.Route] = r.Verdict
	}
	return m
}

func TestCompareVerdictsThroughView(t *testing.T) {
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	const n = 400
	mustAdd(t, s, rolloutTraffic(t, &g, now.Add(-10*time.Minute), n, 7)...)
	code, res, body := getCompare(t, s.Handler(), "service=shop&baseline=v1&candidate=v2")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	want := map[string]compare.Verdict{
		"GET /orders/{id}":   compare.Fail, // 2× the fault rate
		"GET /products/{id}": compare.Fail, // slower
		"GET /healthz":       compare.Pass, // equal fault rates, noise
		"GET /cart":          compare.Pass, // equal error rates, version from service.version
	}
	if got := verdicts(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verdicts %v, want %v", got, want)
	}
	if res.Verdict != compare.Fail {
		t.Errorf("overall verdict %s, want fail", res.Verdict)
	}
	for _, r := range res.Routes {
		if r.Baseline.Requests != n || r.Candidate.Requests != n {
			t.Errorf("%s: %d and %d requests, want %d each", r.Route.Route, r.Baseline.Requests, r.Candidate.Requests, n)
		}
		switch r.Route.Route {
		case "GET /orders/{id}":
			if r.Baseline.FaultRate != 0.05 || r.Candidate.FaultRate != 0.1 || !r.Faults.Worse || r.Latency.Worse {
				t.Errorf("orders: %+v", r)
			}
		case "GET /products/{id}":
			if !r.Latency.Worse || r.Faults.Worse || r.Candidate.P99 < r.Baseline.P99+15 {
				t.Errorf("products: %+v", r)
			}
		}
		// n requests over n×100 ms: 10 per second.
		if r.BaselineRate < 9.9 || r.BaselineRate > 10.1 || r.CandidateRate < 9.9 || r.CandidateRate > 10.1 {
			t.Errorf("%s: rates %.2f and %.2f per second, want 10", r.Route.Route, r.BaselineRate, r.CandidateRate)
		}
	}
	if res.Method != compare.Method || res.MinRequests != compare.DefaultMinRequests || res.Config.MinRequests != compare.DefaultMinRequests {
		t.Errorf("method %q, min requests %d", res.Method, res.MinRequests)
	}
	if res.BaselineSide.Requests != 4*n || res.CandidateSide.Requests != 4*n || res.Baseline != "v1" || res.Candidate != "v2" {
		t.Errorf("sides %+v %+v (%s, %s)", res.BaselineSide, res.CandidateSide, res.Baseline, res.Candidate)
	}
	if len(res.Deployments) != 2 || res.Deployments[1].Version != "v2" || res.Deployments[1].Previous != "v1" {
		t.Errorf("deployments %+v", res.Deployments)
	}

	// Below the minimum sample size nothing fails or passes.
	_, res, _ = getCompare(t, s.Handler(), "service=shop&baseline=v1&candidate=v2&min_requests=1000")
	for _, r := range res.Routes {
		if r.Verdict != compare.NotEnoughData {
			t.Errorf("%s: %s with min_requests 1000", r.Route.Route, r.Verdict)
		}
	}
	if res.Verdict != compare.NotEnoughData || res.MinRequests != 1000 {
		t.Errorf("overall %s, min %d", res.Verdict, res.MinRequests)
	}
}

// Equal versions at the stated sample size: noise is not flagged.
func TestCompareNoiseAtEqualRatesPasses(t *testing.T) {
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	rng := rand.New(rand.NewPCG(42, 42))
	for _, v := range []string{"a", "b"} {
		for i := range compare.DefaultMinRequests * 4 {
			// A slice, not a map: a map's random order would hand the
			// seeded draws to different routes on each run, making the
			// data (and, one run in twenty or so, the verdict) vary. The
			// false-alarm rate over many seeds is compare's own test.
			for _, rr := range []struct {
				r    string
				rate float64
			}{{"GET /a", 0.02}, {"GET /b", 0.1}, {"GET /c", 0.3}} {
				r, rate := rr.r, rr.rate
				st := 200
				if rng.Float64() < rate {
					st = 503
				}
				mustAdd(t, s, segmentDoc(t, &g, request{service: "svc", version: v, route: r,
					at: now.Add(time.Duration(i-200) * time.Second), ms: 5 + rng.ExpFloat64()*10, status: st}))
			}
		}
	}
	_, res, body := getCompare(t, s.Handler(), "service=svc&baseline=a&candidate=b")
	for _, r := range res.Routes {
		if r.Verdict != compare.Pass {
			t.Errorf("%s: %s, want pass: %+v", r.Route.Route, r.Verdict, r)
		}
	}
	if len(res.Routes) != 3 || res.Verdict != compare.Pass {
		t.Errorf("routes %d, verdict %s: %s", len(res.Routes), res.Verdict, body)
	}
}

func TestCompareTimeWindows(t *testing.T) {
	clock := &fixedClock{t: time.Unix(1_800_000_000, 0)}
	s := newStore(t, Config{Now: clock.Now})
	var g ids
	start := clock.Now().Add(-30 * time.Minute)
	// One version, no version at all: the windows alone split it. The
	// second 15 minutes fault twice as often.
	for i := range 900 {
		at := start.Add(time.Duration(i) * 2 * time.Second)
		every := 20
		if i >= 450 {
			every = 5
		}
		st := 200
		if i%every == 0 {
			st = 500
		}
		mustAdd(t, s, segmentDoc(t, &g, request{service: "api", route: "GET /x", at: at, ms: 3, status: st}))
	}
	q := url.Values{"service": {"api"}, "baseline_since": {"30m"}, "baseline_until": {"15m"}, "candidate_since": {"15m"}}
	code, res, body := getCompare(t, s.Handler(), q.Encode())
	if code != 200 {
		t.Fatalf("%d: %s", code, body)
	}
	if len(res.Routes) != 1 || res.Routes[0].Verdict != compare.Fail || res.BaselineSide.Requests != 451 || res.CandidateSide.Requests != 450 {
		t.Errorf("windows: %s", body)
	}
	if res.Baseline != "[30m … 15m]" || res.CandidateSide.Since != "15m" {
		t.Errorf("labels %q, side %+v", res.Baseline, res.CandidateSide)
	}
}

func TestCompareAPIErrors(t *testing.T) {
	s := newStore(t, Config{})
	for q, want := range map[string]string{
		"":                                 "service is required",
		"service=a":                        "name two versions",
		"service=a&baseline=v&candidate=v": "same requests",
		"service=a&baseline=v1&candidate=v2&min_requests=1":                 "min_requests",
		"service=a&baseline=v1&candidate=v2&alpha=1":                        "alpha",
		"service=a&baseline=v1&candidate=v2&alpha=NaN":                      "alpha",
		"service=a&baseline_since=yesterday&candidate=v2":                   "baseline_since",
		"service=a&baseline=v1&candidate_until=-1":                          "candidate_until",
		"service=a&baseline=" + strings.Repeat("v", 2000) + "&candidate=v2": "over 1024 bytes",
	} {
		code, _, body := getCompare(t, s.Handler(), q)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%q: %d %s, want 400 saying %q", q, code, body, want)
		}
	}
	// No data: a well-formed empty answer.
	code, res, body := getCompare(t, s.Handler(), "service=a&baseline=v1&candidate=v2")
	if code != 200 || res.Routes == nil || len(res.Routes) != 0 || res.Verdict != compare.NotEnoughData || res.Deployments == nil {
		t.Errorf("empty: %d %s", code, body)
	}
	if !strings.Contains(body, `"routes":[]`) || !strings.Contains(body, `"deployments":[]`) {
		t.Errorf("empty lists are not [] in %s", body)
	}
}

func TestSegmentVersionAndRoute(t *testing.T) {
	if routeAnnotation != middleware.RouteAnnotation {
		t.Fatalf("routeAnnotation %q, the middleware writes %q", routeAnnotation, middleware.RouteAnnotation)
	}
	var g ids
	at := time.Now()
	seg := func(m map[string]any) *docInfo {
		m["id"], m["trace_id"], m["start_time"], m["end_time"] = g.id(), g.traceID(at), ts(at), ts(at.Add(time.Millisecond))
		if m["name"] == nil {
			m["name"] = "svc"
		}
		d, raw, err := decodeSegment(doc(t, m))
		if err != nil {
			t.Fatal(err)
		}
		return d.info(raw, 0)
	}
	for _, tc := range []struct {
		name           string
		m              map[string]any
		version, route string
	}{
		{"annotation wins", map[string]any{"annotations": map[string]any{"Version": "orders:17", "route": "GET /o/{id}"}, "service": map[string]any{"version": "1.2.3"}}, "orders:17", "GET /o/{id}"},
		{"service.version", map[string]any{"service": map[string]any{"version": "1.2.3"}}, "1.2.3", ""},
		{"numeric annotation", map[string]any{"annotations": map[string]any{"Version": 42}}, "42", ""},
		{"only a subsegment's annotation", map[string]any{"subsegments": []any{map[string]any{"name": "x", "id": g.id(), "start_time": ts(at), "end_time": ts(at), "annotations": map[string]any{"Version": "no"}}}}, "", ""},
		{"route from the request", map[string]any{"http": map[string]any{"request": map[string]any{"method": "POST", "url": "https://h/a/b?c=d#e"}}}, "", "POST /a/b"},
		{"cleaned", map[string]any{"annotations": map[string]any{"Version": " v\u0001" + strings.Repeat("x", 400)}}, deployversion.Explicit("v\u0001" + strings.Repeat("x", 400)).Value, ""},
		{"independent subsegment", map[string]any{"type": "subsegment", "parent_id": g.id(), "annotations": map[string]any{"Version": "v9"}}, "", ""},
	} {
		di := seg(tc.m)
		if di.version != tc.version || di.cmpRoute != tc.route {
			t.Errorf("%s: version %q route %q, want %q %q", tc.name, di.version, di.cmpRoute, tc.version, tc.route)
		}
		if len(di.version) > deployversion.MaxLen {
			t.Errorf("%s: version of %d bytes", tc.name, len(di.version))
		}
	}
}

func TestTraceListByVersionAndRoute(t *testing.T) {
	s := newStore(t, Config{})
	var g ids
	now := time.Now()
	mustAdd(t, s, rolloutTraffic(t, &g, now.Add(-5*time.Minute), 10, 1)...)
	for q, want := range map[string]int{
		"service=shop&version=v2":                                40,
		"service=shop&version=v2&route=GET+%2Forders%2F%7Bid%7D": 10,
		"version=v1&route=GET+%2Fcart":                           10, // from service.version
		"service=other&version=v1":                               0,
		"version=v3":                                             0,
	} {
		var list traceList
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/api/traces?limit=1000&"+q, nil))
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
			t.Fatalf("%s: %v %s", q, err, rec.Body)
		}
		if list.Matched != want {
			t.Errorf("%s: %d match, want %d", q, list.Matched, want)
		}
		for _, tr := range list.Traces {
			if v := strings.Contains(q, "version=v2"); v && tr.Version != "v2" {
				t.Errorf("%s: listed trace of version %q", q, tr.Version)
			}
		}
	}
}

func TestDeploymentMarkers(t *testing.T) {
	s := newStore(t, Config{})
	var g ids
	now := time.Now()
	// v2 arrives first but started later; v1's earlier segment arrives after.
	mustAdd(t, s,
		segmentDoc(t, &g, request{service: "shop", version: "v2", at: now.Add(-time.Minute), ms: 1, status: 200}),
		segmentDoc(t, &g, request{service: "shop", version: "v1", at: now.Add(-2 * time.Minute), ms: 1, status: 200}),
		segmentDoc(t, &g, request{service: "shop", version: "v2", at: now.Add(-30 * time.Second), ms: 1, status: 200}),
		segmentDoc(t, &g, request{service: "inventory", version: "7", at: now, ms: 1, status: 200, serviceBlock: true}),
		segmentDoc(t, &g, request{service: "plain", at: now, ms: 1, status: 200}),
	)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/api/deployments", nil))
	var list deploymentList
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, d := range list.Deployments {
		got = append(got, fmt.Sprintf("%s %s prev=%s n=%d", d.Service, d.Version, d.Previous, d.Segments))
	}
	want := []string{"inventory 7 prev= n=1", "shop v1 prev= n=1", "shop v2 prev=v1 n=2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("markers %v, want %v", got, want)
	}
	if d := list.Deployments[2]; d.FirstSeen != ts(now.Add(-time.Minute)) || d.LastSeen != ts(now.Add(-30*time.Second)) {
		t.Errorf("v2 seen %v to %v", d.FirstSeen, d.LastSeen)
	}
	if len(s.Deployments("shop")) != 2 {
		t.Errorf("shop markers: %+v", s.Deployments("shop"))
	}

	// Bounded: the earliest markers go, counted.
	for i := range MaxDeployments + 10 {
		mustAdd(t, s, segmentDoc(t, &g, request{service: "churn", version: fmt.Sprint("r", i), at: now.Add(time.Duration(i) * time.Millisecond), ms: 1, status: 200}))
	}
	list = s.deploymentList("")
	if len(list.Deployments) != MaxDeployments || list.Dropped != 13 {
		t.Errorf("%d markers, %d dropped; want %d and 13", len(list.Deployments), list.Dropped, MaxDeployments)
	}
	if list.Deployments[len(list.Deployments)-1].Version != fmt.Sprint("r", MaxDeployments+9) {
		t.Errorf("newest marker lost: %+v", list.Deployments[len(list.Deployments)-1])
	}
}

// The comparison is one pass over the stored segments: 4× the traces,
// 4× the segments visited, and allocations that grow no faster.
func TestCompareLinear(t *testing.T) {
	scan := func(n int) (int, float64) {
		s := newStore(t, Config{})
		var g ids
		mustAdd(t, s, rolloutTraffic(nil, &g, time.Now().Add(-time.Hour), n, 3)...)
		q, err := parseCompareQuery(url.Values{"service": {"shop"}, "baseline": {"v1"}, "candidate": {"v2"}})
		if err != nil {
			t.Fatal(err)
		}
		var scanned int
		allocs := testing.AllocsPerRun(3, func() { scanned = s.compare(q).SegmentsScanned })
		return scanned, allocs
	}
	s1, a1 := scan(100)
	s4, a4 := scan(400)
	if s1 != 800 || s4 != 4*s1 {
		t.Errorf("segments scanned %d and %d, want 800 and 3200", s1, s4)
	}
	t.Logf("allocations per comparison: %.0f at 800 segments, %.0f at 3200", a1, a4)
	if a4 > 4.5*a1 {
		t.Errorf("allocations %.0f at n, %.0f at 4n: more than linear", a1, a4)
	}
}

func FuzzCompareQuery(f *testing.F) {
	f.Add("service=shop&baseline=v1&candidate=v2")
	f.Add("service=a&baseline_since=30m&baseline_until=15m&candidate_since=15m")
	f.Add("service=a&baseline=v1&candidate=v2&min_requests=50&alpha=0.01")
	f.Add("service=a&candidate_until=2026-12-07T18:00:00Z&baseline=%ff")
	f.Add("service=&&&baseline=%zz")
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	var g ids
	for _, d := range rolloutTraffic(nil, &g, time.Now().Add(-time.Minute), 40, 1) {
		if err := s.AddSegment(d); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseCompareQuery(v)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if q.service == "" {
			t.Fatal("accepted without a service")
		}
		res := s.compare(q)
		if res.Routes == nil || res.MinRequests < 2 {
			t.Fatalf("result %+v", res)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
	})
}

func BenchmarkCompareTenThousand(b *testing.B) {
	s := newStore(b, Config{MaxTraces: 10_000})
	var g ids
	start := time.Now().Add(-20 * time.Minute)
	for i := range 10_000 {
		d := fastSegment(&g, request{service: "big", version: []string{"v1", "v2"}[i%2], route: fmt.Sprintf("GET /r%02d", (i/2)%50),
			at: start.Add(time.Duration(i) * 100 * time.Millisecond), ms: float64(1 + i%13), status: 200})
		mustAdd(b, s, d)
	}
	q, err := parseCompareQuery(url.Values{"service": {"big"}, "baseline": {"v1"}, "candidate": {"v2"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.compare(q)
	}
}
