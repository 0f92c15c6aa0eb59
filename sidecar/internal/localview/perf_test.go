package localview

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// fill stores n traces received over the last n/4 seconds before now: a
// mix of services, statuses, annotations and shapes (one, two or three
// documents), plus EMF documents every 5 traces. It returns the ID of one
// faulted trace.
func fill(tb testing.TB, s *Store, n int, now time.Time) (faultID string) {
	tb.Helper()
	services := []string{"frontend", "orders", "catalog", "payments", "search", "auth"}
	var g ids
	for i := range n {
		at := now.Add(-time.Duration(n-i) * 250 * time.Millisecond)
		tid, root := g.traceID(at), g.id()
		svc := services[i%len(services)]
		dur := time.Duration(1+(i*7919)%900) * time.Millisecond
		seg := map[string]any{
			"name": svc, "id": root, "trace_id": tid, "start_time": ts(at), "end_time": ts(at.Add(dur)),
			"http": map[string]any{"request": map[string]any{"method": "GET", "url": "http://" + svc + "/items/" + fmt.Sprint(i%50)},
				"response": map[string]any{"status": 200}},
			"annotations": map[string]any{"route": "GET /items/{id}", "ColdStart": i%50 == 0},
		}
		switch {
		case i%97 == 0:
			seg["fault"] = true
			seg["http"].(map[string]any)["response"] = map[string]any{"status": 500}
			seg["cause"] = map[string]any{"exceptions": []any{map[string]any{"id": g.id(), "type": "panic", "message": "index out of range"}}}
			faultID = tid
		case i%31 == 0:
			seg["error"], seg["throttle"] = true, true
			seg["http"].(map[string]any)["response"] = map[string]any{"status": 429}
		case i%13 == 0:
			seg["annotations"].(map[string]any)["cors"] = "denied"
			seg["error"] = true
			seg["http"].(map[string]any)["response"] = map[string]any{"status": 403}
		}
		var docs []map[string]any
		if i%3 != 0 {
			call := g.id()
			seg["subsegments"] = []any{map[string]any{"name": "DynamoDB", "id": g.id(), "namespace": "aws", "start_time": ts(at), "end_time": ts(at.Add(dur / 4))},
				map[string]any{"name": "inventory", "id": call, "namespace": "remote", "start_time": ts(at.Add(dur / 4)), "end_time": ts(at.Add(dur / 2))}}
			if i%3 == 2 {
				docs = append(docs, map[string]any{"name": "inventory", "id": g.id(), "trace_id": tid, "parent_id": call,
					"start_time": ts(at.Add(dur / 4)), "end_time": ts(at.Add(dur / 2))})
			}
		}
		docs = append(docs, seg)
		for j, d := range docs {
			b, err := json.Marshal(d)
			if err != nil {
				tb.Fatal(err)
			}
			if i < 100 { // spot-check the generator against the schema
				if err := schematest.Segment(b); err != nil {
					tb.Fatalf("generated document %d/%d: %v\n%s", i, j, err, b)
				}
			}
			if err := s.addSegment(b, at.UnixNano()); err != nil {
				tb.Fatal(err)
			}
		}
		if i%5 == 0 {
			lat := []float64{float64(dur.Milliseconds()), float64(dur.Milliseconds()/2 + 1)}
			b := fmt.Appendf(nil, `{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"Sidelight","Dimensions":[["Service","Route"]],"Metrics":[{"Name":"Latency","Unit":"Milliseconds"},{"Name":"Requests","Unit":"Count"},{"Name":"ColdStart","Unit":"Count"}]}]},"Service":%q,"Route":"GET /items/{id}","Latency":[%v,%v],"Requests":2,"ColdStart":%d,"TraceId":%q}`,
				at.UnixMilli(), svc, lat[0], lat[1], map[bool]int{true: 1}[i%50 == 0], tid)
			if err := s.addEMF(b, at.UnixNano()); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return faultID
}

func newFilled(tb testing.TB, n int) (*Store, string) {
	now := time.Now()
	s, err := New(Config{MaxTraces: n, MaxBytes: 256 << 20, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, fill(tb, s, n, now)
}

var perfQueries = []string{
	"/api/traces",
	"/api/traces?status=fault",
	"/api/traces?service=payments&min_ms=500",
	"/api/traces?annotation=cors%3Ddenied",
	"/api/traces?annotation=ColdStart%3Dtrue&limit=1000",
	"/api/traces?limit=10000",
	"/api/traces?q=" + url.QueryEscape(`annotation.cors = "denied" AND responsetime > 0.1`),
	"/api/traces?q=" + url.QueryEscape(`fault OR (service("payments") AND duration > 0.5)`),
	"/api/traces?q=" + url.QueryEscape(`http.url CONTAINS "/items/7"`) + "&sort=duration&limit=1000",
	"/api/facets",
	"/api/servicemap",
	"/api/metrics",
}

// Test10kTracesAPI measures the JSON API with 10,000 stored traces and
// reports the figures; it asserts results, not timings.
func Test10kTracesAPI(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, faultID := newFilled(t, 10_000)
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := s.Stats()
	t.Logf("heap held by the store: %.1f MiB for %.1f MiB of counted documents (%.1fx)",
		float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), float64(st.Bytes)/(1<<20), float64(after.HeapAlloc-before.HeapAlloc)/float64(st.Bytes))
	if st.Traces != 10_000 {
		t.Fatalf("stored %d traces", st.Traces)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, q := range append(perfQueries, "/api/traces/"+faultID) {
		const rounds = 20
		var times []time.Duration
		var size int
		for range rounds {
			start := time.Now()
			resp, err := srv.Client().Get(srv.URL + q)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			times = append(times, time.Since(start))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %d %v", q, resp.StatusCode, err)
			}
			size = len(b)
		}
		slices.Sort(times)
		t.Logf("%-55s median %8v  max %8v  %7d bytes", q, times[rounds/2].Round(time.Microsecond), times[rounds-1].Round(time.Microsecond), size)
	}
	var l traceList
	resp, _ := srv.Client().Get(srv.URL + "/api/traces?status=fault&limit=1000")
	json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if l.Matched != 104 || l.Total != 10_000 { // every 97th trace faults
		t.Errorf("faults matched %d of %d, want 104 of 10000", l.Matched, l.Total)
	}
	// The search box's expression finds what the older parameters find.
	for _, pair := range [][2]string{
		{"q=" + url.QueryEscape(`annotation.cors = "denied"`), "annotation=cors%3Ddenied"},
		{"q=fault", "status=fault"},
		{"q=" + url.QueryEscape(`service("payments") AND duration >= 0.5`), "service=payments&min_ms=500"},
	} {
		var a, b traceList
		for i, q := range pair {
			resp, err := srv.Client().Get(srv.URL + "/api/traces?" + q)
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(resp.Body).Decode([]*traceList{&a, &b}[i])
			resp.Body.Close()
		}
		if a.Matched == 0 || a.Matched != b.Matched {
			t.Errorf("?%s matched %d, ?%s %d", pair[0], a.Matched, pair[1], b.Matched)
		}
	}
	t.Logf("stored: %d traces, %d EMF documents, %d series, %.1f MiB of documents", st.Traces, st.MetricDocs, st.Series, float64(st.Bytes)/(1<<20))
}

// TestBrowser10kTraces measures, in Chromium, how long the page takes to
// show the list and react to filters with 10,000 traces stored. It reports
// the figures and asserts only that each view rendered.
func TestBrowser10kTraces(t *testing.T) {
	ctx := browser(t)
	s, faultID := newFilled(t, 10_000)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the first page", `document.querySelectorAll('#trace-list tr.trace-row').length === 100`)
	first := eval[float64](t, ctx, `performance.now()`)
	t.Logf("first page (navigation start to 100 rows rendered): %.0f ms", first)

	// measure changes the hash and waits until ready() holds, timing it in the page.
	measure := func(what, hash, ready string) float64 {
		t.Helper()
		expr := fmt.Sprintf(`(async () => {
			const list = document.getElementById('trace-list');
			const before = list ? Number(list.getAttribute('data-renders')) : -1;
			const ready = () => { %s };
			const t0 = performance.now();
			location.hash = %q;
			await new Promise((resolve, reject) => {
				const deadline = t0 + 30000;
				const check = () => { if (ready()) resolve(); else if (performance.now() > deadline) reject(new Error('timeout')); else setTimeout(check, 1); };
				check();
			});
			return performance.now() - t0;
		})()`, ready, hash)
		ms := eval[float64](t, ctx, expr)
		split := eval[string](t, ctx, `(() => { const l = document.getElementById('trace-list');
			return l ? ' (API fetch ' + l.getAttribute('data-fetch-ms') + ' ms, DOM build ' + l.getAttribute('data-build-ms') + ' ms)' : ''; })()`)
		t.Logf("%-40s %6.1f ms%s", what, ms, split)
		return ms
	}
	listReady := `const l = document.getElementById('trace-list'); return l && l.hasAttribute('data-build-ms') && Number(l.getAttribute('data-renders')) > before;`
	measure("filter status=fault", "#/traces?status=fault", listReady)
	if n := eval[int](t, ctx, `document.querySelectorAll('#trace-list tr.trace-row').length`); n != 100 {
		t.Errorf("fault filter shows %d rows, want 100 (newest of 104)", n)
	}
	measure("filter service=payments&min_ms=500", "#/traces?service=payments&min_ms=500", listReady)
	measure("filter annotation=cors=denied", "#/traces?annotation=cors%3Ddenied", listReady)
	measure("list with limit=1000 (1000 rows)", "#/traces?limit=1000", listReady)
	if n := eval[int](t, ctx, `document.querySelectorAll('#trace-list tr.trace-row').length`); n != 1000 {
		t.Errorf("limit=1000 shows %d rows", n)
	}
	measure("waterfall of a faulted trace", "#/trace/"+faultID, `return document.querySelector('#exceptions') !== null;`)
	measure("service map of 10,000 traces", "#/map", `return document.getElementById('map-svg') !== null;`)
	measure("metrics (EMF from 2,000 documents)", "#/metrics", `return document.getElementById('charts') !== null && document.querySelectorAll('#charts figure').length > 0;`)
	screenshot(t, ctx, "localview-10k-metrics.png")
	measure("back to the unfiltered list", "#/traces", listReady)
	screenshot(t, ctx, "localview-10k-list.png")
}

func BenchmarkAddSegment(b *testing.B) {
	var g ids
	sc := newScenario(b, &g, time.Now())
	s, err := New(Config{MaxTraces: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(sc.docs[2])))
	b.ResetTimer()
	for i := range b.N {
		d := sc.docs[i%3]
		if err := s.AddSegment(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddEMF(b *testing.B) {
	s, err := New(Config{MaxMetricDocs: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d := emfJSON(b, time.Now(), "GET /x", []float64{1, 2, 3, 4}, 1, "1-5759e988-bd862e3fe1be46a994272793")
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	b.ResetTimer()
	for range b.N {
		if err := s.AddEMF(d); err != nil {
			b.Fatal(err)
		}
	}
}

func Benchmark10k(b *testing.B) {
	s, faultID := newFilled(b, 10_000)
	h := s.Handler()
	for i, q := range append(perfQueries, "/api/traces/"+faultID) {
		name := strings.NewReplacer("/api/", "", "/", "-", "?", "-", "&", "-", "%3D", "=").Replace(q)
		if i == len(perfQueries) {
			name = "trace-detail"
		}
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", q, nil)
			req.Host = "localhost"
			b.ReportAllocs()
			for range b.N {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
