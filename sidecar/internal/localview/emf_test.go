package localview

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

func TestEMFReferenceSamples(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return time.UnixMilli(1605034324256) }, Retention: 24 * time.Hour})
	for _, name := range []string{"emf-example-1.json", "emf-example-2.json", "emf-example-3.json"} {
		b, err := schematest.ReadReference("samples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddEMF(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	m := s.metrics(metricsQuery{namespace: "LambdaInsights"})
	// 8 metrics times 2 dimension sets.
	if len(m.Series) != 16 {
		t.Fatalf("LambdaInsights series = %d, want 16", len(m.Series))
	}
	for _, se := range m.Series {
		if se.Name == "init_duration" && len(se.Dimensions) == 2 {
			if se.Kind != "latency" || len(se.Points) != 1 || se.Points[0].P99 != 130 {
				t.Errorf("init_duration = %+v", se)
			}
			// The sample's trace_id has 20 hex digits, not 24: not a trace ID.
			if len(se.Points[0].TraceIDs) != 0 {
				t.Errorf("malformed trace ID linked: %v", se.Points[0].TraceIDs)
			}
		}
	}
	m = s.metrics(metricsQuery{metric: "ProcessingLatency"})
	if len(m.Series) != 1 || m.Series[0].Dimensions[0] != (dim{"Operation", "Aggregator"}) || m.Series[0].Points[0].Sum != 100 {
		t.Errorf("ProcessingLatency = %+v", m.Series)
	}
}

func TestEMFRejects(t *testing.T) {
	const aws = `"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[{"Name":"m"}]}]}`
	cases := []struct {
		name, doc string
		want      emfdoc.Reason
	}{
		{"not object", `[]`, emfdoc.NotObject},
		{"not JSON", `{"_aws":`, emfdoc.NotJSON},
		{"no _aws", `{"m":1}`, emfdoc.NoAWS},
		{"no timestamp", `{"_aws":{"CloudWatchMetrics":[]}}`, emfdoc.BadTimestamp},
		{"bad timestamp", `{"_aws":{"Timestamp":"x","CloudWatchMetrics":[]}}`, emfdoc.BadTimestamp},
		{"fraction timestamp", `{"_aws":{"Timestamp":1.5,"CloudWatchMetrics":[]}}`, emfdoc.BadTimestamp},
		{"no directives", `{"_aws":{"Timestamp":1}}`, emfdoc.BadDirective},
		{"empty namespace", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":" ","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`, emfdoc.BadName},
		{"metric missing", `{` + aws + `,"d":"x"}`, emfdoc.MissingMetric},
		{"metric not number", `{` + aws + `,"d":"x","m":"1"}`, emfdoc.BadMetricValue},
		{"metric array of strings", `{` + aws + `,"d":"x","m":["1"]}`, emfdoc.BadMetricValue},
		{"too many values", `{` + aws + `,"d":"x","m":[` + strings.Repeat("1,", 100) + `1]}`, emfdoc.BadMetricValue},
		{"empty values", `{` + aws + `,"d":"x","m":[]}`, emfdoc.BadMetricValue},
		{"dimension missing", `{` + aws + `,"m":1}`, emfdoc.MissingDimension},
		{"dimension not string", `{` + aws + `,"d":5,"m":1}`, emfdoc.MissingDimension},
	}
	s := newStore(t, Config{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.AddEMF([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), string(c.want)) {
				t.Fatalf("err = %v, want one naming %q", err, c.want)
			}
		})
	}
	if st := s.Stats(); st.MetricDocs != 0 || st.MetricRejected != uint64(len(cases)) {
		t.Errorf("stats = %+v", st)
	}
}

// TestEMFStrictRules: documents local mode's own parser used to take but
// the sidecar's parser (the one AWS mode uses) refuses. The view now
// refuses them too, and shows each refusal counted by reason, instead of
// showing metrics AWS mode would never send.
func TestEMFStrictRules(t *testing.T) {
	const (
		pre  = `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n",`
		post = `}]},"d":"x","m":1}`
	)
	cases := []struct {
		name, doc string
		want      emfdoc.Reason
	}{
		{"no Dimensions member", pre + `"Metrics":[{"Name":"m"}]` + post, emfdoc.BadDirective},
		{"unknown unit", pre + `"Dimensions":[["d"]],"Metrics":[{"Name":"m","Unit":"Furlongs"}]` + post, emfdoc.BadUnit},
		{"storage resolution 5", pre + `"Dimensions":[["d"]],"Metrics":[{"Name":"m","StorageResolution":5}]` + post, emfdoc.BadResolution},
		{"non-ASCII namespace", strings.Replace(pre, `"n"`, `"nä"`, 1) + `"Dimensions":[["d"]],"Metrics":[{"Name":"m"}]` + post, emfdoc.BadName},
		{"escaped directive key", pre + `"Dimensions":[["d"]],"Metric\u0073":[{"Name":"m"}]` + post, emfdoc.BadDirective},
		{"dimension name of 251 bytes", pre + `"Dimensions":[["` + strings.Repeat("d", 251) + `"]],"Metrics":[{"Name":"m"}]` + post, emfdoc.BadName},
		{"control character in a dimension value", strings.Replace(pre+`"Dimensions":[["d"]],"Metrics":[{"Name":"m"}]`+post, `"d":"x"`, `"d":"x\u0001"`, 1), emfdoc.MissingDimension},
	}
	s := newStore(t, Config{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.AddEMF([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), string(c.want)) {
				t.Fatalf("err = %v, want one naming %q", err, c.want)
			}
		})
	}
	st := s.Stats()
	if st.MetricDocs != 0 || st.MetricRejected != uint64(len(cases)) {
		t.Errorf("stats = %+v", st)
	}
	want := map[string]uint64{}
	for _, c := range cases {
		want[string(c.want)]++
	}
	if fmt.Sprint(st.MetricRejectedReasons) != fmt.Sprint(want) {
		t.Errorf("rejected by reason %v, want %v", st.MetricRejectedReasons, want)
	}
}

func TestMetricsPercentilesAndLinks(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	var vals []float64
	for i := 1; i <= 100; i++ {
		vals = append(vals, float64(i))
	}
	a, b, c := g.traceID(t0), g.traceID(t0), g.traceID(t0)
	// 100 latencies in one bucket across two documents; errors counted.
	if err := s.AddEMF(emfJSON(t, t0, "/a", vals[:50], 2, a)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEMF(emfJSON(t, t0.Add(10*time.Second), "/a", vals[50:], 3, b, c)); err != nil {
		t.Fatal(err)
	}
	// Next minute, another route; the trace ID rides in a trace header.
	doc := fmt.Sprintf(`{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"Sidelight","Dimensions":[["Route"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"}]}]},"Route":"/b","ColdStart":1,"xray":"Root=%s;Parent=53995c3f42cd8ad8;Sampled=1"}`,
		t0.Add(70*time.Second).UnixMilli(), a)
	if err := s.AddEMF([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	m := s.metrics(metricsQuery{bucketMS: 60_000})
	if m.BucketSeconds != 60 || len(m.Series) != 3 {
		t.Fatalf("metrics = %+v", m)
	}
	byName := map[string]metricSeries{}
	for _, se := range m.Series {
		byName[se.Name] = se
	}
	lat := byName["Latency"]
	if lat.Kind != "latency" || len(lat.Points) != 1 {
		t.Fatalf("Latency = %+v", lat)
	}
	p := lat.Points[0]
	if p.N != 100 || p.P50 != 50 || p.P90 != 90 || p.P99 != 99 || p.Min != 1 || p.Max != 100 || p.Sum != 5050 {
		t.Errorf("Latency point = %+v", p)
	}
	if strings.Join(p.TraceIDs, ",") != strings.Join([]string{a, b, c}, ",") {
		t.Errorf("linked traces = %v, want %v", p.TraceIDs, []string{a, b, c})
	}
	if e := byName["Errors"]; e.Kind != "count" || e.Points[0].Sum != 5 {
		t.Errorf("Errors = %+v", e)
	}
	if cs := byName["ColdStart"]; len(cs.Points) != 1 || cs.Points[0].T != t0.Add(60*time.Second).UnixMilli() || cs.Points[0].TraceIDs[0] != a {
		t.Errorf("ColdStart = %+v", cs)
	}
	if got := s.metrics(metricsQuery{metric: "Errors", bucketMS: 1000}); len(got.Series) != 1 || len(got.Series[0].Points) != 2 {
		t.Errorf("Errors in 1 s buckets = %+v", got)
	}
}

func TestSeriesCapDropsAndCounts(t *testing.T) {
	s := newStore(t, Config{MaxSeries: 4, Now: func() time.Time { return t0 }})
	for i := range 10 {
		if err := s.AddEMF(emfJSON(t, t0, fmt.Sprintf("/r%d", i), []float64{1}, 0)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Series != 4 || st.SeriesDropped != 16 {
		t.Errorf("stats = %+v, want 4 series and 16 dropped points", st)
	}
}

func TestTraceIDSpellings(t *testing.T) {
	const id = "1-5759e988-bd862e3fe1be46a994272793"
	for _, prop := range []string{`"TraceId":"` + id + `"`, `"traceId":"` + id + `"`, `"trace_id":"` + id + `"`,
		`"AWSTraceHeader":"Root=` + id + `;Sampled=1"`, `"TraceIds":["x","` + id + `"]`, `"whatever":"` + strings.ToUpper(id[:2]) + id[2:] + `"`} {
		root := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1,` + prop + `}`
		p, r := parseEMF([]byte(root))
		if r != emfdoc.OK {
			t.Fatal(r)
		}
		if len(p.traceIDs) != 1 || p.traceIDs[0] != id {
			t.Errorf("%s: trace IDs %v", prop, p.traceIDs)
		}
	}
}

// emfShape builds a document with one directive of sets dimension sets,
// each naming root member "d" (a string of dimLen bytes; no dimension when
// dimLen is 0), and metrics metric definitions naming root members m0..,
// or, when same is set, all naming "m", an array of 100 numbers of digits
// digits.
func emfShape(sets, dimLen, metrics int, same bool, digits int) []byte {
	var b strings.Builder
	b.WriteString(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[`)
	for i := range sets {
		if i > 0 {
			b.WriteByte(',')
		}
		if dimLen > 0 {
			b.WriteString(`["d"]`)
		} else {
			b.WriteString(`[]`)
		}
	}
	b.WriteString(`],"Metrics":[`)
	for i := range metrics {
		if i > 0 {
			b.WriteByte(',')
		}
		if same {
			b.WriteString(`{"Name":"m"}`)
		} else {
			fmt.Fprintf(&b, `{"Name":"m%d"}`, i)
		}
	}
	b.WriteString(`]}]},"d":"` + strings.Repeat("v", max(dimLen, 1)) + `"`)
	if same {
		b.WriteString(`,"m":[`)
		num := "1." + strings.Repeat("0", digits)
		for i := range 100 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(num)
		}
		b.WriteString(`]`)
	}
	for i := range metrics {
		fmt.Fprintf(&b, `,"m%d":%d`, i, i)
	}
	b.WriteString(`}`)
	return []byte(b.String())
}

func TestEMFCaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  []byte
		want emfdoc.Reason
	}{
		{"31 dimension sets", emfShape(31, 1, 1, true, 1), emfdoc.TooManyDimensionSets},
		{"1020 points", emfShape(30, 1, 34, false, 1), emfdoc.TooManyPoints},
		{"101 metrics", emfShape(1, 1, 101, false, 1), emfdoc.TooManyMetrics},
		{"30 MB of dimensions", []byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[` +
			strings.Repeat(`[`+strings.Repeat(`"d",`, 29)+`"d"],`, 29) + `[` + strings.Repeat(`"d",`, 29) + `"d"]],"Metrics":[` +
			strings.Repeat(`{"Name":"m"},`, 32) + `{"Name":"m"}]}]},"d":"` + strings.Repeat("v", 1000) + `","m":1}`), emfdoc.TooVoluminous},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, r := parseEMF(tc.doc); r != tc.want {
				t.Fatalf("reason %q, want %q", r, tc.want)
			}
		})
	}
	// 990 points within the caps; the 30 sets are the same, so 33 series.
	if p, r := parseEMF(emfShape(30, 1, 33, false, 1)); r != emfdoc.OK || len(p.points) != 33 {
		t.Fatalf("990 points: %v", r)
	}
	// A 60 KB datagram of empty dimension sets and 100 metric definitions.
	if _, r := parseEMF(emfShape(20_000, 0, 100, true, 1)); r == emfdoc.OK {
		t.Fatal("60 KB datagram of 2 million points accepted")
	}
}

// BenchmarkParseEMFLongValue1MB: a 1 MB metric value named by 100
// definitions.
func BenchmarkParseEMFLongValue1MB(b *testing.B) {
	doc := emfShape(10, 0, 100, true, 10_000)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, r := parseEMF(doc); r != emfdoc.OK {
			b.Fatal(r)
		}
	}
}

// BenchmarkParseEMFDatagram60KB: 20,000 empty dimension sets and 100
// metric definitions; reports the points the document expands to
// (before deduplication) when accepted.
func BenchmarkParseEMFDatagram60KB(b *testing.B) {
	doc := emfShape(20_000, 0, 100, true, 1)
	points := 0
	for b.Loop() {
		points = 0
		if _, r := parseEMF(doc); r == emfdoc.OK {
			points = 20_000 * 100
		}
	}
	b.ReportMetric(float64(points), "points/doc")
}

// FuzzParseEMF: local mode's parser never panics, and what it accepts
// stays within the caps, with one point per series key.
func FuzzParseEMF(f *testing.F) {
	f.Add(emfShape(3, 5, 2, false, 1))
	f.Add(emfShape(2, 0, 3, true, 2))
	f.Add([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d","e"],["e","d"]],"Metrics":[{"Name":"m"}]}]},"d":"x","e":"y","m":[1,2]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, r := parseEMF(doc)
		if r != emfdoc.OK {
			return
		}
		if len(p.points) > emfdoc.MaxPoints {
			t.Fatalf("%d points", len(p.points))
		}
		keys := map[string]bool{}
		for _, pt := range p.points {
			if keys[pt.key] || len(pt.values) == 0 || len(pt.dims) > emfdoc.MaxDimensions {
				t.Fatalf("point %+v", pt)
			}
			keys[pt.key] = true
		}
	})
}
