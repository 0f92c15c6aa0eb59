package localview

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// TestInboxTakesParsedEMF: a document the receiver parsed is stored
// without being parsed again (emf.Parses does not move), from a copy (the
// receiver reuses its document for the next line), with the same series
// and trace links as the same line given as bytes; lines the receiver
// refused are shown counted by reason, without waiting on the store.
func TestInboxTakesParsedEMF(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	ref := newStore(t, Config{Now: func() time.Time { return t0 }})
	var rejected atomic.Uint64
	in := s.NewInbox(InboxConfig{Rejected: &rejected})
	var g ids
	a, b := g.traceID(t0), g.traceID(t0)
	lines := [][]byte{emfJSON(t, t0, "/a", []float64{12, 40}, 1, a), emfJSON(t, t0.Add(time.Second), "/b", []float64{7}, 0, a, b)}
	var p emfdoc.Parser
	var d emfdoc.Document
	before := emfdoc.Parses()
	for _, l := range lines {
		if r := p.Decode(l, &d, true); r != emfdoc.OK {
			t.Fatal(r)
		}
		if !in.AddEMFDocument(&d) {
			t.Fatal("inbox refused a document")
		}
		for i := range d.Points { // the receiver's next line overwrites its document
			d.Points[i].Values[0] = -1
		}
	}
	parsed := emfdoc.Parses() - before
	s.mu.Lock() // a busy view: refusals are counted without waiting
	in.RejectedEMF(emfdoc.BadUnit)
	in.RejectedEMF(emfdoc.BadUnit)
	in.RejectedEMF(emfdoc.NotJSON)
	s.mu.Unlock()
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if after := emfdoc.Parses() - before; after != parsed || parsed != uint64(len(lines)) {
		t.Errorf("%d lines parsed %d times, and %d times by the view", len(lines), parsed, after-parsed)
	}
	for _, l := range lines {
		if err := ref.AddEMF(l); err != nil {
			t.Fatal(err)
		}
	}
	got, want := s.metrics(metricsQuery{bucketMS: 60_000}), ref.metrics(metricsQuery{bucketMS: 60_000})
	if len(got.Series) == 0 || fmtJSON(t, got) != fmtJSON(t, want) {
		t.Errorf("series from parsed documents\n%s\nfrom lines\n%s", fmtJSON(t, got), fmtJSON(t, want))
	}
	st := s.Stats()
	if st.MetricDocsTotal != 2 || st.MetricRejected != 3 || st.MetricRejectedReasons["bad_unit"] != 2 ||
		st.MetricRejectedReasons["not_json"] != 1 || rejected.Load() != 3 {
		t.Errorf("stats %+v, local.rejected %d", st, rejected.Load())
	}
}

func fmtJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
