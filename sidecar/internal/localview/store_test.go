package localview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func TestAddSegmentRejects(t *testing.T) {
	const tid = `"trace_id":"1-581cf771-a006649127e371903a2de979"`
	cases := []struct {
		name, doc, want string
	}{
		{"empty", ``, "not a JSON object"},
		{"array", `[1]`, "not a JSON object"},
		{"not JSON", `{"name":`, "unexpected end"},
		{"trailing garbage", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2} x`, "invalid character"},
		{"bad trace id", `{"name":"a","id":"70de5b6f19ff9a0b","trace_id":"1-zz","start_time":1,"end_time":2}`, "trace_id"},
		{"no id", `{"name":"a",` + tid + `,"start_time":1,"end_time":2}`, "id \"\" is not 16 hex"},
		{"no name", `{"id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2}`, "name is empty"},
		{"no start", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"end_time":2}`, "start_time"},
		{"start in milliseconds", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1478293361271,"end_time":1478293361449}`, "epoch seconds"},
		{"end overflows", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":1e308}`, "epoch seconds"},
		{"both end and in_progress", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2,"in_progress":true}`, "exactly one"},
		{"neither end nor in_progress", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1}`, "exactly one"},
		{"end before start", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":3,"end_time":2}`, "end_time before"},
		{"wrong type", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2,"type":"segment"}`, "type"},
		{"subsegment without parent", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2,"type":"subsegment"}`, "without parent_id"},
		{"bad parent", `{"name":"a","id":"70de5b6f19ff9a0b","parent_id":"x",` + tid + `,"start_time":1,"end_time":2}`, "parent_id"},
		{"name of wrong type", `{"name":5,"id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2}`, "cannot unmarshal"},
		{"bad nested", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2,"subsegments":[{"name":"b","id":"1","start_time":1,"end_time":2}]}`, "not 16 hex"},
		{"null nested", `{"name":"a","id":"70de5b6f19ff9a0b",` + tid + `,"start_time":1,"end_time":2,"subsegments":[null]}`, "null subsegment"},
		{"too big", `{"name":"` + strings.Repeat("a", MaxDocBytes) + `"}`, "over"},
	}
	s := newStore(t, Config{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.AddSegment([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "localview: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
	st := s.Stats()
	if st.Traces != 0 || st.Bytes != 0 || st.SegmentsRejected != uint64(len(cases)) {
		t.Errorf("stats after rejects = %+v, want nothing stored and %d rejected", st, len(cases))
	}
}

func TestAcceptsReferenceSamples(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	for _, name := range []string{
		"samples/xray-example-minimal-segment.json",
		"samples/xray-example-in-progress-segment.json",
		"samples/xray-example-cause-exceptions-gosdk.json",
	} {
		b, err := schematest.ReadReference(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddSegment(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The published independent-subsegment example lacks a comma; repaired,
	// it must attach under its parent's id even though the parent never came.
	b, err := schematest.ReadReference("samples/xray-example-independent-subsegment.txt")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"1-581cf771-a006649127e371903a2de979"`), []byte(`"1-581cf771-a006649127e371903a2de979",`), 1)
	if err := s.AddSegment(b); err != nil {
		t.Fatalf("independent subsegment: %v", err)
	}
	d, ok := s.detail("1-5f29ab21-d4ebf299219a65bd5c31d6da")
	if !ok {
		t.Fatal("DDB trace not found")
	}
	if d.Status != "fault" || d.Service != "DDB" {
		t.Errorf("DDB trace = %s %s, want DDB fault", d.Service, d.Status)
	}
	// The minimal, in-progress and independent examples share a trace ID and
	// none is the parent of another: three roots, in progress.
	d, ok = s.detail("1-581cf771-a006649127e371903a2de979")
	if !ok || !d.InProgress || len(d.Segments) != 3 {
		t.Fatalf("shared trace = %+v, want in progress with three unattached documents", d)
	}
}

func TestListNewestFirst(t *testing.T) {
	clk := &fixedClock{t: t0}
	s := newStore(t, Config{Now: clk.Now})
	var g ids
	var want []string
	for i := range 5 {
		id, d := okTrace(t, &g, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("svc%d", i), 10*time.Millisecond)
		mustAdd(t, s, d)
		clk.Add(time.Second)
		want = append([]string{id}, want...)
	}
	got := s.list(listQuery{limit: 100})
	if got.Total != 5 || got.Matched != 5 || len(got.Traces) != 5 {
		t.Fatalf("list = %+v", got)
	}
	for i, tr := range got.Traces {
		if tr.ID != want[i] {
			t.Errorf("position %d: %s, want %s", i, tr.ID, want[i])
		}
	}
	if got := s.list(listQuery{limit: 2}); len(got.Traces) != 2 || got.Matched != 5 || got.Traces[0].ID != want[0] {
		t.Errorf("limit 2 = %+v", got)
	}
}

func TestAssembleAnyOrder(t *testing.T) {
	var g ids
	sc := newScenario(t, &g, t0)
	orders := [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {2, 0, 1}}
	for _, order := range orders {
		s := newStore(t, Config{Now: func() time.Time { return t0 }})
		for _, i := range order {
			mustAdd(t, s, sc.docs[i])
		}
		d, ok := s.detail(sc.traceID)
		if !ok {
			t.Fatal("trace not found")
		}
		if len(d.Segments) != 1 || d.Segments[0].ID != sc.frontendID {
			t.Fatalf("order %v: roots = %v, want only the frontend segment", order, names(d.Segments))
		}
		fe := d.Segments[0]
		if got := names(fe.Subsegments); strings.Join(got, ",") != "cache-lookup,DynamoDB,orders" {
			t.Errorf("order %v: frontend children = %v", order, got)
		}
		call := fe.Subsegments[2]
		if len(call.Subsegments) != 1 || call.Subsegments[0].ID != sc.ordersID || !call.Subsegments[0].Attached {
			t.Errorf("order %v: orders segment not attached under the remote call: %v", order, names(call.Subsegments))
		}
		if d.Service != "frontend" || d.Status != "fault" || d.DurationMS < 44.9 || d.DurationMS > 45.1 {
			t.Errorf("order %v: summary = %+v", order, d.traceSummary)
		}
		if d.Method != "POST" || d.HTTPStatus != 502 || d.Documents != 3 {
			t.Errorf("order %v: summary http = %+v", order, d.traceSummary)
		}
	}
}

func names(ns []*segDoc) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

func TestInProgressReplaced(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	tid, id := g.traceID(t0), g.id()
	open := doc(t, map[string]any{"name": "api", "id": id, "trace_id": tid, "start_time": ts(t0), "in_progress": true})
	done := doc(t, map[string]any{"name": "api", "id": id, "trace_id": tid, "start_time": ts(t0), "end_time": ts(t0.Add(time.Second))})
	mustAdd(t, s, open)
	if l := s.list(listQuery{limit: 10}); !l.Traces[0].InProgress {
		t.Fatal("in-progress trace not marked")
	}
	mustAdd(t, s, done, open) // the late in-progress copy must not win
	l := s.list(listQuery{limit: 10})
	if len(l.Traces) != 1 || l.Traces[0].InProgress || l.Traces[0].Documents != 1 || l.Traces[0].DurationMS != 1000 {
		t.Fatalf("after completion: %+v", l.Traces)
	}
	st := s.Stats()
	if st.SegmentsStale != 1 || st.Bytes != int64(len(done)) {
		t.Errorf("stats = %+v, want 1 stale and only the completed document's bytes (%d)", st, len(done))
	}
}

func TestParentCyclesDoNotHang(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	tid, a, b, c := g.traceID(t0), g.id(), g.id(), g.id()
	mk := func(id, parent string) []byte {
		return doc(t, map[string]any{"name": "n" + id[:4], "id": id, "trace_id": tid, "parent_id": parent,
			"type": "subsegment", "start_time": ts(t0), "end_time": ts(t0)})
	}
	mustAdd(t, s, mk(a, b), mk(b, c), mk(c, a), mk(g.id(), g.id()))
	d, ok := s.detail(tid)
	if !ok {
		t.Fatal("not found")
	}
	count := 0
	var walk func([]*segDoc, int)
	walk = func(ns []*segDoc, depth int) {
		if depth > 10 {
			t.Fatal("tree deeper than the documents allow: a cycle was built")
		}
		for _, n := range ns {
			count++
			walk(n.Subsegments, depth+1)
		}
	}
	walk(d.Segments, 0)
	if count != 4 {
		t.Errorf("tree holds %d nodes, want each of the 4 documents once", count)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Fatal(err)
	}
	_ = s.serviceMap() // must terminate too
}

func TestFloodStaysWithinCap(t *testing.T) {
	const (
		maxTraces = 200
		maxBytes  = 96 << 10
		writers   = 4
		perWriter = 5_000 // 20,000 traces, 100 times the cap
	)
	s := newStore(t, Config{MaxTraces: maxTraces, MaxBytes: maxBytes, MaxMetricDocs: 50})
	var g ids
	sc := newScenario(t, &g, t0) // a template: rewrite the trace ID per copy
	var wg sync.WaitGroup
	var over sync.Once
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				tid := fmt.Sprintf("1-%08x-%024x", w, i)
				for _, d := range sc.docs {
					d = bytes.Replace(d, []byte(sc.traceID), []byte(tid), 1)
					if err := s.AddSegment(d); err != nil {
						t.Error(err)
						return
					}
				}
				if i%10 == 0 {
					if err := s.AddEMF(emfJSON(t, t0, "/x", []float64{1, 2, 3}, 0, tid)); err != nil {
						t.Error(err)
						return
					}
				}
				if st := s.Stats(); st.Traces > maxTraces || st.Bytes > maxBytes || st.MetricDocs > 50 {
					over.Do(func() { t.Errorf("over the cap during the flood: %+v", st) })
				}
			}
		}()
	}
	// Readers run during the flood.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			s.list(listQuery{limit: 50, status: flagFault, hasStatus: true})
			s.serviceMap()
			s.metrics(metricsQuery{})
		}
	}()
	wg.Wait()
	<-done
	st := s.Stats()
	if st.Traces == 0 || st.Traces > maxTraces || st.Bytes > maxBytes {
		t.Fatalf("after the flood: %+v", st)
	}
	total := uint64(writers * perWriter)
	if st.TracesEvicted < total-uint64(maxTraces) {
		t.Errorf("evicted %d traces, want at least %d", st.TracesEvicted, total-maxTraces)
	}
	if st.Segments != 3*total {
		t.Errorf("received %d segments, want %d", st.Segments, 3*total)
	}
	// Bytes must be exactly what the kept documents weigh.
	var sum int64
	s.mu.RLock()
	for _, tr := range s.order {
		for _, d := range tr.docs {
			sum += int64(len(d.raw))
		}
	}
	for _, d := range s.emf {
		sum += int64(len(d.raw))
	}
	n := len(s.traces)
	s.mu.RUnlock()
	if sum != st.Bytes || n != st.Traces {
		t.Errorf("accounting: counted %d bytes in %d traces, stats say %d in %d", sum, n, st.Bytes, st.Traces)
	}
	t.Logf("flood of %d traces (%d segment documents): kept %d traces, %d bytes (cap %d), evicted %d",
		total, 3*total, st.Traces, st.Bytes, maxBytes, st.TracesEvicted)
}

func TestRetention(t *testing.T) {
	clk := &fixedClock{t: t0}
	s := newStore(t, Config{Now: clk.Now, Retention: time.Hour})
	var g ids
	oldID, old := okTrace(t, &g, t0, "old", time.Millisecond)
	mustAdd(t, s, old)
	if err := s.AddEMF(emfJSON(t, t0, "/", []float64{1}, 0)); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Minute)
	newID, fresh := okTrace(t, &g, clk.Now(), "new", time.Millisecond)
	mustAdd(t, s, fresh)
	if l := s.list(listQuery{limit: 10}); l.Total != 2 {
		t.Fatalf("within the hour: %d traces, want 2", l.Total)
	}
	clk.Add(2 * time.Minute)
	// Reads hide expired traces even before a write evicts them.
	l := s.list(listQuery{limit: 10})
	if l.Total != 1 || l.Traces[0].ID != newID {
		t.Fatalf("after the hour: %+v, want only %s", l.Traces, newID)
	}
	if _, ok := s.detail(oldID); ok {
		t.Error("expired trace still served")
	}
	_, late := okTrace(t, &g, clk.Now(), "late", time.Millisecond)
	mustAdd(t, s, late)
	st := s.Stats()
	if st.Traces != 2 || st.MetricDocs != 0 || st.Expired != 2 {
		t.Errorf("stats = %+v, want 2 traces, the old trace and EMF document expired", st)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{MaxTraces: -1}, {MaxBytes: -1}, {Retention: -time.Second}, {MaxSeries: -1}, {MaxMetricDocs: -2}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted a negative bound", c)
		}
	}
}

func TestClosedStoreRefuses(t *testing.T) {
	s := newStore(t, Config{})
	s.Close()
	var g ids
	_, d := okTrace(t, &g, time.Now(), "a", time.Millisecond)
	if err := s.AddSegment(d); !errors.Is(err, ErrClosed) {
		t.Errorf("AddSegment after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestDocumentsPerTraceBounded(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	tid, root := g.traceID(t0), g.id()
	mustAdd(t, s, doc(t, map[string]any{"name": "batch", "id": root, "trace_id": tid, "start_time": ts(t0), "end_time": ts(t0.Add(time.Hour))}))
	var err error
	n := 1
	for ; n <= MaxDocsPerTrace+10 && err == nil; n++ {
		b, _ := json.Marshal(map[string]any{"name": "step", "id": g.id(), "trace_id": tid, "parent_id": root, "type": "subsegment",
			"start_time": ts(t0), "end_time": ts(t0.Add(time.Second))})
		err = s.AddSegment(b)
	}
	if err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Fatalf("document %d: err = %v, want the trace to be full", n, err)
	}
	if l := s.list(listQuery{limit: 1}); l.Traces[0].Documents != MaxDocsPerTrace {
		t.Errorf("trace holds %d documents, want %d", l.Traces[0].Documents, MaxDocsPerTrace)
	}
	if st := s.Stats(); st.SegmentsRejected != 1 {
		t.Errorf("rejected = %d, want 1", st.SegmentsRejected)
	}
}
