package localview

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
)

// oneTraceDocs returns n documents of one trace: a root segment, then
// segments of distinct services and independent subsegments, each with
// maxAnnotation annotations of its own (the shape that made adding the
// 400th document of a trace take 0.7 s when the summary was rebuilt on
// every add).
func oneTraceDocs(tb testing.TB, g *ids, n int) [][]byte {
	tb.Helper()
	tid, root := g.traceID(t0), g.id()
	docs := make([][]byte, 0, n)
	for i := range n {
		ann := make(map[string]any, maxAnnotation)
		for k := range maxAnnotation {
			ann[fmt.Sprintf("k%02d", k)] = fmt.Sprintf("doc%d", i)
		}
		m := map[string]any{"name": fmt.Sprintf("svc%d", i), "id": g.id(), "trace_id": tid,
			"start_time": ts(t0.Add(time.Duration(i) * time.Millisecond)), "end_time": ts(t0.Add(time.Second)),
			"annotations": ann}
		switch {
		case i == 0:
			m["id"] = root
		case i%2 == 0:
			m["type"], m["parent_id"] = "subsegment", root
		default:
			m["parent_id"] = root
		}
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, b)
	}
	return docs
}

// Adding documents to one trace takes time linear in the documents, not
// quadratic: the steps spent keeping the trace's summary (documents and
// annotations visited) at 4n documents are 4 times those at n.
func TestAddToOneTraceLinear(t *testing.T) {
	work := func(n int) uint64 {
		s := newStore(t, Config{Now: func() time.Time { return t0 }})
		var g ids
		mustAdd(t, s, oneTraceDocs(t, &g, n)...)
		if l := s.list(listQuery{limit: 1}); len(l.Traces) != 1 || l.Traces[0].Documents != n {
			t.Fatalf("want one trace of %d documents, got %+v", n, l.Traces)
		}
		return s.work
	}
	const n = 100
	w1, w4 := work(n), work(4*n)
	t.Logf("steps: %d at %d documents, %d at %d", w1, n, w4, 4*n)
	if w1 == 0 || w4 > 4*w1+w1/10 {
		t.Errorf("steps grew from %d to %d for 4x the documents: not linear", w1, w4)
	}
}

// Documents sent in progress and then complete (each replacing its
// earlier copy) also cost linear time.
func TestReplaceInTraceLinear(t *testing.T) {
	work := func(n int) uint64 {
		s := newStore(t, Config{Now: func() time.Time { return t0 }})
		var g ids
		for _, d := range oneTraceDocs(t, &g, n) {
			var m map[string]any
			if err := json.Unmarshal(d, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "end_time")
			m["in_progress"] = true
			open, _ := json.Marshal(m)
			mustAdd(t, s, open, d)
		}
		if l := s.list(listQuery{limit: 1}); len(l.Traces) != 1 || l.Traces[0].Documents != n || l.Traces[0].InProgress {
			t.Fatalf("want one complete trace of %d documents, got %+v", n, l.Traces)
		}
		return s.work
	}
	const n = 100
	w1, w4 := work(n), work(4*n)
	t.Logf("steps: %d at %d documents, %d at %d", w1, n, w4, 4*n)
	if w1 == 0 || w4 > 4*w1+w1/10 {
		t.Errorf("steps grew from %d to %d for 4x the documents: not linear", w1, w4)
	}
}

// The summary of a trace is the same however its documents arrived, and
// replacing a document (in progress, then complete) updates every part.
func TestSummaryIncremental(t *testing.T) {
	var g ids
	tid, root, child, ind := g.traceID(t0), g.id(), g.id(), g.id()
	at := func(ms int) float64 { return ts(t0.Add(time.Duration(ms) * time.Millisecond)) }
	rootOpen := doc(t, map[string]any{"name": "front", "id": root, "trace_id": tid, "start_time": at(0), "in_progress": true,
		"annotations": map[string]any{"stage": "open"}})
	rootDone := doc(t, map[string]any{"name": "front", "id": root, "trace_id": tid, "start_time": at(0), "end_time": at(90),
		"annotations": map[string]any{"stage": "done"}})
	childDoc := doc(t, map[string]any{"name": "back", "id": child, "trace_id": tid, "parent_id": root, "start_time": at(10),
		"end_time": at(50), "fault": true, "annotations": map[string]any{"route": "GET /x"}})
	indDoc := doc(t, map[string]any{"name": "cache", "id": ind, "trace_id": tid, "parent_id": child, "type": "subsegment",
		"start_time": at(20), "end_time": at(30)})

	for i, order := range [][][]byte{
		{rootOpen, childDoc, indDoc, rootDone},
		{indDoc, childDoc, rootOpen, rootDone},
		{rootDone, indDoc, childDoc, rootOpen}, // the stale in-progress copy is ignored
	} {
		s := newStore(t, Config{Now: func() time.Time { return t0 }})
		mustAdd(t, s, order...)
		l := s.list(listQuery{limit: 1})
		if len(l.Traces) != 1 {
			t.Fatalf("traces %+v", l.Traces)
		}
		got := l.Traces[0]
		if i == 0 && fmt.Sprint(got.Services) != "[front back]" {
			t.Errorf("services %v: want the order of first arrival, kept across the root's replacement", got.Services)
		}
		if got.Service != "front" || fmt.Sprint(got.Services) != "[front back]" && fmt.Sprint(got.Services) != "[back front]" ||
			got.InProgress || got.Status != "fault" || math.Abs(got.DurationMS-90) > 0.01 || got.Documents != 3 ||
			fmt.Sprint(got.Annotations) != "[route=GET /x stage=done]" {
			t.Errorf("summary %+v", got)
		}
		for _, q := range []listQuery{{annotation: true, annKey: "stage", annPair: "stage=done"}, {annotation: true, annKey: "route"}, {service: "back"}} {
			q.limit = 1
			if s.list(q).Matched != 1 {
				t.Errorf("query %+v does not match", q)
			}
		}
		if s.list(listQuery{limit: 1, annotation: true, annKey: "stage", annPair: "stage=open"}).Matched != 0 {
			t.Error("the replaced document's annotation still matches")
		}
		if f := s.facets(); len(f.Annotations) != 2 {
			t.Errorf("facets %+v", f.Annotations)
		}
	}
}

// BenchmarkAddSegmentOneTrace times adding the 400th document (each with
// maxAnnotation annotations) to one trace:
//
//	go test -run '^$' -bench AddSegmentOneTrace -benchtime 20x ./sidecar/internal/localview
func BenchmarkAddSegmentOneTrace(b *testing.B) {
	var g ids
	const n = 400
	for b.Loop() {
		b.StopTimer()
		s, err := New(Config{Now: func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		docs := oneTraceDocs(b, &g, n)
		for _, d := range docs[:n-1] {
			if err := s.AddSegment(d); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := s.AddSegment(docs[n-1]); err != nil {
			b.Fatal(err)
		}
	}
}
