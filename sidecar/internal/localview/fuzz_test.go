package localview

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

func addSegmentSeeds(f *testing.F) {
	for _, name := range []string{"xray-example-minimal-segment.json", "xray-example-in-progress-segment.json",
		"xray-example-cause-exceptions-gosdk.json", "xray-example-segment-http-embedded-subsegment.json",
		"xray-example-independent-subsegment.txt", "xray-example-metadata-subsegment-dynamodb.json"} {
		if b, err := schematest.ReadReference("samples/" + name); err == nil {
			f.Add(b)
		}
	}
	var g ids
	for _, d := range newScenario(f, &g, t0).docs {
		f.Add(d)
	}
	f.Add([]byte(`{"name":"a","id":"70de5b6f19ff9a0b","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":1e308,"subsegments":[{"name":"b","id":"70de5b6f19ff9a0c","start_time":1,"in_progress":true}]}`))
	f.Add([]byte(`{"name":"a","id":"70de5b6f19ff9a0b","trace_id":"1-581cf771-a006649127e371903a2de979","parent_id":"70de5b6f19ff9a0b","type":"subsegment","start_time":1,"end_time":2,"namespace":"remote"}`))
}

// FuzzAddSegment feeds arbitrary documents: the store must reject or keep
// each one without panicking, stay consistent, and serve every view as JSON.
func FuzzAddSegment(f *testing.F) {
	addSegmentSeeds(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := New(Config{MaxTraces: 3, MaxBytes: 1 << 20, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		err = s.AddSegment(doc)
		// A second copy replaces the first (same ids), so counts must not grow.
		err2 := s.AddSegment(doc)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("same document accepted once: %v / %v", err, err2)
		}
		st := s.Stats()
		if err != nil {
			if st.Traces != 0 || st.Bytes != 0 {
				t.Fatalf("rejected document stored: %+v", st)
			}
			return
		}
		if st.Traces != 1 {
			t.Fatalf("accepted document made %d traces", st.Traces)
		}
		l := s.list(listQuery{limit: 10})
		if len(l.Traces) != 1 || l.Traces[0].Documents != 1 {
			t.Fatalf("list = %+v", l)
		}
		d, ok := s.detail(l.Traces[0].ID)
		if !ok {
			t.Fatal("accepted trace has no detail")
		}
		// The overview counts the document once, however often it came.
		o := s.overview(overviewQuery{})
		n := 0
		for _, sr := range o.Services {
			n += sr.Total.Requests
		}
		if n > 1 {
			t.Fatalf("overview counts %d requests for one document", n)
		}
		for _, v := range []any{l, d, s.serviceMap(), s.facets(), s.metrics(metricsQuery{}), o} {
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("view does not encode: %v", err)
			}
		}
	})
}

// FuzzAddEMF feeds arbitrary EMF documents: reject or keep, never panic,
// and the metrics view always encodes.
func FuzzAddEMF(f *testing.F) {
	for _, name := range []string{"emf-example-1.json", "emf-example-2.json", "emf-example-3.json"} {
		if b, err := schematest.ReadReference("samples/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Add(emfJSON(f, t0, "/x", []float64{1.5, 1e308, 1e308}, 1, "1-5759e988-bd862e3fe1be46a994272793"))
	f.Add([]byte(`{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m","Unit":"Seconds"}]}]},"m":[-1e308,-1e308],"t":["Root=1-5759e988-bd862e3fe1be46a994272793"]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := New(Config{MaxSeries: 5, Now: func() time.Time { return t0 }, Retention: 1 << 62})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.AddEMF(doc); err != nil {
			if st := s.Stats(); st.MetricDocs != 0 || st.Bytes != 0 || st.Series != 0 {
				t.Fatalf("rejected document stored: %+v", st)
			}
			return
		}
		for _, q := range []metricsQuery{{}, {bucketMS: 1000}, {group: "*"}, {group: "Service"}} {
			if _, err := json.Marshal(s.metrics(q)); err != nil {
				t.Fatalf("metrics do not encode: %v", err)
			}
		}
		if st := s.Stats(); st.MetricDocs != 1 || st.Series > 5 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// FuzzAPIQuery feeds arbitrary query strings and paths to the handler: it
// must answer 200, 400 or 404 with JSON, never panic.
func FuzzAPIQuery(f *testing.F) {
	for _, q := range []string{"status=fault", "annotation=a%3Db&min_ms=1&max_ms=2&limit=5", "min_ms=-1", "limit=1e99",
		"service=%00", "bucket=60", "bucket=NaN",
		"q=annotation.cors+%3D+%22allowed%22+AND+responsetime+%3E+0", "q=fault&since=15m&sort=duration&order=asc",
		"q=Root%3D1-581cf771-a006649127e371903a2de979", "q=edge(%22a%22)", "q=%28%28%28", "since=1e308&until=2026-12-07T16:00:00Z"} {
		f.Add("/api/traces", q)
		f.Add("/api/metrics", q)
		f.Add("/api/overview", q)
	}
	f.Add("/api/metrics", "group=Service&bucket=10")
	f.Add("/api/metrics", "group=*")
	f.Add("/api/traces", "call=DynamoDB")
	f.Add("/api/traces", "service=shop&service_route=&service_route=POST+%2Forders")
	f.Add("/api/traces", "seg_service=shop&seg_route=&seg_status=fault&seg_min_ms=1.5&seg_since=15m&seg_until=1796693420")
	f.Add("/api/traces", "seg_route=a&service_route=b&seg_status=ok")
	f.Add("/api/traces/1-581cf771-a006649127e371903a2de979", "")
	f.Add("/api/traces/%2e%2e%2f", "")
	f.Add("/api/traces/1-581cf771-a006649127e371903a2de979/version", "")
	f.Add("/api/traces/581cf771a006649127e371903a2de979/version", "")
	var g ids
	sc := newScenario(f, &g, t0)
	s, err := New(Config{Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range sc.docs {
		if err := s.AddSegment(d); err != nil {
			f.Fatal(err)
		}
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, path, query string) {
		u := &url.URL{Path: path, RawQuery: query}
		if len(path) == 0 || path[0] != '/' {
			u.Path = "/" + path
		}
		req := httptest.NewRequest("GET", "http://localhost/", nil)
		req.URL = u
		req.RequestURI = u.RequestURI()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 301, 307, 308, 400, 404, 405:
		default:
			t.Fatalf("%s?%s: status %d", path, query, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); w.Code >= 400 && strings.HasPrefix(u.Path, "/api/") && ct != "application/json; charset=utf-8" {
			t.Fatalf("%s: error without JSON: %q", path, ct)
		}
	})
}

// FuzzLoad feeds arbitrary persistence content: the store loads what it
// can, never fails on content, and what it writes back loads to the same
// store.
func FuzzLoad(f *testing.F) {
	var g ids
	sc := newScenario(f, &g, t0)
	var seed []byte
	for _, d := range sc.docs {
		line, _ := json.Marshal(persistLine{Kind: kindSegment, Recv: t0.UnixNano(), Doc: d})
		seed = append(append(seed, line...), '\n')
	}
	line, _ := json.Marshal(persistLine{Kind: kindEMF, Recv: t0.UnixNano(), Doc: emfJSON(f, t0, "/", []float64{1}, 0)})
	seed = append(append(seed, line...), '\n')
	rec := logRec(f, sc.traceID, t0, 17, "order store <unavailable>", sc.ordersID)
	rec.Attributes, rec.SeverityText, rec.EventName, rec.Scope = []byte(`{"db":{"system":"postgresql"},"retry":3}`), "ERROR", "db.error", "orders/store"
	for _, r := range []otlplogs.Record{rec, logRec(f, "", t0, 9, "no trace", ""), {TimeUnixNano: 1, Body: []byte("null")}} {
		l := toLogLine(&r)
		doc, _ := json.Marshal(l)
		line, _ = json.Marshal(persistLine{Kind: kindLog, Recv: t0.UnixNano(), Doc: doc})
		seed = append(append(seed, line...), '\n')
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-40]) // cut short, as by a crash
	f.Add([]byte("not json\n{\"kind\":\"emf\",\"recv\":1,\"doc\":{}}\n"))
	f.Add([]byte(`{"kind":"log","recv":1,"doc":{"time":1,"trace_id":"00000000000000000000000000000000","attributes":[1]}}` + "\n" +
		`{"kind":"log","recv":1,"doc":{"time":1,"span_id":"zz","body":{ "a" : 1 }}}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		cfg := Config{MaxTraces: 5, Now: func() time.Time { return t0 }}
		s1, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		loaded, bad, _ := s1.loadFrom(bytes.NewReader(content))
		if loaded < 0 || bad < 0 {
			t.Fatal("negative counts")
		}
		var out bytes.Buffer
		n, skipped, err := s1.writeTo(&out)
		if err != nil || skipped != 0 {
			t.Fatalf("writeTo: %v, %d skipped", err, skipped)
		}
		s2, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		loaded2, bad2, err := s2.loadFrom(&out)
		if loaded2 != n || bad2 != 0 {
			t.Fatalf("rewritten file: loaded %d of %d, %d bad (%v)", loaded2, n, bad2, err)
		}
		a, b := s1.Stats(), s2.Stats()
		if a.Traces != b.Traces || a.Bytes != b.Bytes || a.MetricDocs != b.MetricDocs ||
			a.Logs != b.Logs || a.LogBytes != b.LogBytes || a.UnlinkedLogs != b.UnlinkedLogs {
			t.Fatalf("round trip changed the store: %+v vs %+v", a, b)
		}
		if a.Logs > 0 {
			var again bytes.Buffer
			if _, _, err := s2.writeTo(&again); err != nil {
				t.Fatal(err)
			}
			var first bytes.Buffer
			s1.writeTo(&first)
			if !bytes.Equal(first.Bytes(), again.Bytes()) {
				t.Fatalf("rewritten file differs:\n%s\n%s", first.Bytes(), again.Bytes())
			}
		}
	})
}

// FuzzReadLines: the persistence file's line reader gives the lines a
// plain split on newlines gives, blank ones left out and those over the
// limit reported as errors, whatever the content and the reader's buffer.
func FuzzReadLines(f *testing.F) {
	f.Add([]byte("a\n\nbb\r\nccc"), 2)
	f.Add(bytes.Repeat([]byte("x"), 200<<10), 100<<10)
	f.Add(append(append(bytes.Repeat([]byte("y"), 70<<10), '\n'), "z\n"...), 80<<10)
	f.Fuzz(func(t *testing.T, content []byte, maxLine int) {
		if maxLine < 1 || maxLine > 1<<20 {
			return
		}
		var want []string
		for _, l := range bytes.Split(content, []byte("\n")) {
			switch {
			case len(l) > maxLine:
				want = append(want, "!")
			case len(bytes.TrimSpace(bytes.TrimSuffix(l, []byte("\r")))) > 0:
				want = append(want, string(bytes.TrimSuffix(l, []byte("\r"))))
			}
		}
		var got []string
		err := readLines(bytes.NewReader(content), maxLine, func(line []byte, err error) {
			if err != nil {
				got = append(got, "!")
				return
			}
			got = append(got, string(line))
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("line %d = %.40q, want %.40q", i, got[i], want[i])
			}
		}
	})
}
