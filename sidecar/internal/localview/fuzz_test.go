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
	f.Add("/api/traces/1-581cf771-a006649127e371903a2de979", "")
	f.Add("/api/traces/%2e%2e%2f", "")
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
	f.Add(append(seed, line...))
	f.Add([]byte("not json\n{\"kind\":\"emf\",\"recv\":1,\"doc\":{}}\n"))
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
		n, err := s1.writeTo(&out)
		if err != nil {
			t.Fatal(err)
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
		if a.Traces != b.Traces || a.Bytes != b.Bytes || a.MetricDocs != b.MetricDocs {
			t.Fatalf("round trip changed the store: %+v vs %+v", a, b)
		}
	})
}
