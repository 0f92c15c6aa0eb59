package localview

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// logRec is a record of trace tid (X-Ray form; "" for none) at t.
func logRec(t testing.TB, tid string, at time.Time, sev int32, body string, span string) otlplogs.Record {
	r := otlplogs.Record{TimeUnixNano: at.UnixNano(), SeverityNumber: sev, Body: []byte(fmt.Sprintf("%q", body)), Service: "shop"}
	if tid != "" {
		b, err := hex.DecodeString(tid[2:10] + tid[11:])
		if err != nil || len(b) != 16 {
			t.Fatalf("trace ID %q", tid)
		}
		r.TraceID, r.HasTraceID = [16]byte(b), true
	}
	if span != "" {
		b, err := hex.DecodeString(span)
		if err != nil || len(b) != 8 {
			t.Fatalf("span ID %q", span)
		}
		r.SpanID, r.HasSpanID = [8]byte(b), true
	}
	return r
}

// TestLogsByTrace: a trace's records come back in time order whatever
// the order they arrived in, with severity levels and span IDs; records of
// other traces and without a trace stay apart.
func TestLogsByTrace(t *testing.T) {
	clk := &fixedClock{t: t0}
	s := newStore(t, Config{Now: clk.Now})
	var g ids
	a, b := g.traceID(t0), g.traceID(t0)
	span := g.id()
	if n := s.AddLogs([]otlplogs.Record{
		logRec(t, a, t0.Add(3*time.Millisecond), 17, "payment refused", span),
		logRec(t, b, t0, 9, "other trace", ""),
		logRec(t, a, t0.Add(time.Millisecond), 9, "checkout started", ""),
		logRec(t, "", t0, 13, "no trace", ""),
	}); n != 0 {
		t.Fatalf("%d refused", n)
	}
	got := s.traceLogs(a)
	if got.Total != 2 || len(got.Records) != 2 || string(got.Records[0].Body) != `"checkout started"` || got.Records[0].Severity != "info" ||
		string(got.Records[1].Body) != `"payment refused"` || got.Records[1].Severity != "error" || got.Records[1].SpanID != span ||
		got.Records[1].Service != "shop" || got.Records[1].Time != ts(t0.Add(3*time.Millisecond)) {
		t.Fatalf("trace %s logs %+v", a, got)
	}
	if u := s.unlinkedLogs(10); u.Total != 1 || string(u.Records[0].Body) != `"no trace"` || u.Records[0].Severity != "warn" {
		t.Fatalf("unlinked %+v", u)
	}
	st := s.Stats()
	if st.Logs != 4 || st.UnlinkedLogs != 1 || st.LogsReceived != 4 || st.LogBytes <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLogsBounds: over MaxLogRecords, MaxLogBytes or MaxUnlinkedLogs the
// oldest records are evicted and counted; a record larger than
// MaxLogBytes alone is refused and counted; expired ones are dropped.
func TestLogsBounds(t *testing.T) {
	var g ids
	t.Run("count", func(t *testing.T) {
		s := newStore(t, Config{MaxLogRecords: 10})
		tids := []string{g.traceID(t0), g.traceID(t0)}
		for i := range 25 {
			s.AddLogs([]otlplogs.Record{logRec(t, tids[i%2], t0.Add(time.Duration(i)), 9, fmt.Sprint(i), "")})
		}
		st := s.Stats()
		if st.Logs != 10 || st.LogsEvicted != 15 || st.LogsReceived != 25 {
			t.Fatalf("stats %+v", st)
		}
		// The newest ten are left: 15..24, five per trace.
		if got := s.traceLogs(tids[0]); got.Total != 5 || string(got.Records[0].Body) != `"16"` {
			t.Fatalf("trace 0 %+v", got)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		r := logRec(t, g.traceID(t0), t0, 9, strings.Repeat("x", 1000), "")
		s := newStore(t, Config{MaxLogBytes: 5 * r.Size()})
		for range 8 {
			s.AddLogs([]otlplogs.Record{r})
		}
		if st := s.Stats(); st.Logs != 5 || st.LogsEvicted != 3 || st.LogBytes != 5*r.Size() {
			t.Fatalf("stats %+v", st)
		}
		big := logRec(t, "", t0, 9, strings.Repeat("x", 6000), "")
		if n := s.AddLogs([]otlplogs.Record{big, r}); n != 1 {
			t.Fatalf("%d refused, want the one over MaxLogBytes", n)
		}
		if st := s.Stats(); st.LogsRejected != 1 || st.Logs != 5 || st.LogsEvicted != 4 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("unlinked", func(t *testing.T) {
		s := newStore(t, Config{MaxLogRecords: 100, MaxUnlinkedLogs: 3})
		tid := g.traceID(t0)
		s.AddLogs([]otlplogs.Record{logRec(t, tid, t0, 9, "linked", "")})
		for i := range 10 {
			s.AddLogs([]otlplogs.Record{logRec(t, "", t0, 9, fmt.Sprint(i), "")})
		}
		st := s.Stats()
		if st.Logs != 4 || st.UnlinkedLogs != 3 || st.UnlinkedLogsEvicted != 7 || st.LogsEvicted != 0 {
			t.Fatalf("stats %+v", st)
		}
		if u := s.unlinkedLogs(10); u.Total != 3 || string(u.Records[0].Body) != `"9"` {
			t.Fatalf("unlinked %+v", u)
		}
		// The linked record, older than every unlinked one, is still there.
		if got := s.traceLogs(tid); got.Total != 1 {
			t.Fatalf("linked %+v", got)
		}
	})
	t.Run("expired", func(t *testing.T) {
		clk := &fixedClock{t: t0}
		s := newStore(t, Config{Now: clk.Now, Retention: time.Minute})
		tid := g.traceID(t0)
		s.AddLogs([]otlplogs.Record{logRec(t, tid, t0, 9, "old", "")})
		clk.Add(2 * time.Minute)
		if got := s.traceLogs(tid); got.Total != 0 {
			t.Fatalf("expired record shown: %+v", got)
		}
		s.AddLogs([]otlplogs.Record{logRec(t, tid, clk.Now(), 9, "new", "")})
		if st := s.Stats(); st.Logs != 1 || st.LogsExpired != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestLogsLinear: storing records costs work linear in their number,
// even when unlinked records are evicted from behind an old linked one
// (which leaves holes in the arrival order until they are compacted), and
// the arrival list stays within twice the records kept.
func TestLogsLinear(t *testing.T) {
	work := func(n int) (uint64, int) {
		s := newStore(t, Config{MaxLogRecords: 1000, MaxUnlinkedLogs: 10})
		var g ids
		s.AddLogs([]otlplogs.Record{logRec(t, g.traceID(t0), t0, 9, "linked", "")})
		batch := make([]otlplogs.Record, 10)
		for i := range batch {
			batch[i] = logRec(t, "", t0, 9, "u", "")
		}
		for range n / len(batch) {
			s.AddLogs(batch)
		}
		s.logs.mu.RLock()
		defer s.logs.mu.RUnlock()
		return s.logs.work, len(s.logs.order)
	}
	w1, l1 := work(10_000)
	w4, l4 := work(40_000)
	t.Logf("entries visited: %d for 10,000 records, %d for 40,000; arrival list %d and %d entries", w1, w4, l1, l4)
	if w4 > 4*w1+4*1000 || w1 < 10_000 {
		t.Fatalf("work %d for n, %d for 4n: not linear", w1, w4)
	}
	if l1 > 2*11+64 || l4 > 2*11+64 {
		t.Fatalf("arrival list %d and %d entries for 11 records kept", l1, l4)
	}
}

// TestInboxLogs: records queued through an Inbox reach the store; when the
// inbox is full a whole request's records are dropped and counted one by
// one.
func TestInboxLogs(t *testing.T) {
	s := newStore(t, Config{})
	var dropped atomic.Uint64
	in := s.NewInbox(InboxConfig{MaxDocs: 1, Dropped: &dropped})
	var g ids
	tid := g.traceID(t0)
	if n := in.AddLogs([]otlplogs.Record{logRec(t, tid, t0, 9, "a", ""), logRec(t, tid, t0, 9, "b", "")}); n != 0 {
		t.Fatalf("%d dropped from an empty inbox", n)
	}
	// Not started: the first request fills the one slot.
	if n := in.AddLogs([]otlplogs.Record{logRec(t, tid, t0, 9, "c", ""), logRec(t, tid, t0, 9, "d", ""), logRec(t, tid, t0, 9, "e", "")}); n != 3 {
		t.Fatalf("%d dropped from a full inbox, want 3", n)
	}
	if dropped.Load() != 3 || s.Stats().InboxDropped != 3 {
		t.Fatalf("dropped %d, stats %+v", dropped.Load(), s.Stats())
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := in.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.traceLogs(tid); got.Total != 2 {
		t.Fatalf("trace logs after the inbox drained: %+v", got)
	}
}

// TestAPITraceLogs: /api/traces/{id}/logs takes the X-Ray or W3C form of
// the ID and answers records in time order; a trace with no records has
// an empty list; what is not a trace ID is 400.
func TestAPITraceLogs(t *testing.T) {
	f := newAPIFixture(t)
	span := f.sc.ordersID
	f.store.AddLogs([]otlplogs.Record{
		logRec(t, f.sc.traceID, t0.Add(time.Second), 17, "order store unavailable", span),
		logRec(t, f.sc.traceID, t0, 9, "order received", ""),
	})
	w3c := f.sc.traceID[2:10] + f.sc.traceID[11:]
	for _, id := range []string{f.sc.traceID, w3c, strings.ToUpper(w3c)} {
		var got traceLogs
		if resp := f.get(t, "/api/traces/"+id+"/logs", &got); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", id, resp.StatusCode)
		}
		if got.TraceID != f.sc.traceID || got.Total != 2 || string(got.Records[0].Body) != `"order received"` ||
			got.Records[1].Severity != "error" || got.Records[1].SpanID != span {
			t.Fatalf("%s: %+v", id, got)
		}
	}
	var empty struct {
		Records []any `json:"records"`
	}
	if resp := f.get(t, "/api/traces/"+f.okIDs[0]+"/logs", &empty); resp.StatusCode != http.StatusOK || empty.Records == nil || len(empty.Records) != 0 {
		t.Fatalf("no logs: %d %+v", resp.StatusCode, empty)
	}
	if resp := f.get(t, "/api/traces/nope/logs", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad ID: %d", resp.StatusCode)
	}
	if resp := f.get(t, "/api/logs/unlinked?limit=0", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("limit 0: %d", resp.StatusCode)
	}
	var st Stats
	f.get(t, "/api/stats", &st)
	if st.Logs != 2 || st.MaxLogRecords != DefaultMaxLogRecords {
		t.Fatalf("stats %+v", st)
	}
}

// TestDefaultInputsNameOTLP: the page that waits for data tells an
// OpenTelemetry app what to set.
func TestDefaultInputsNameOTLP(t *testing.T) {
	s := newStore(t, Config{})
	for _, in := range s.Stats().Inputs {
		if in.Env == "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318" && strings.Contains(in.Signal, "logs") {
			return
		}
	}
	t.Fatalf("inputs %+v", s.Stats().Inputs)
}

// TestLogsConcurrent: records added while a trace's records and the stats
// are read (run with -race).
func TestLogsConcurrent(t *testing.T) {
	s := newStore(t, Config{MaxLogRecords: 50, MaxUnlinkedLogs: 5})
	var g ids
	tid := g.traceID(t0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			s.AddLogs([]otlplogs.Record{logRec(t, tid, t0.Add(time.Duration(i)), 9, "x", ""), logRec(t, "", t0, 9, "u", "")})
		}
	}()
	for range 200 {
		if got := s.traceLogs(tid); got.Total > 50 {
			t.Fatalf("%d records over the bound", got.Total)
		}
		s.unlinkedLogs(10)
		s.Stats()
	}
	<-done
	if st := s.Stats(); st.Logs != 50 || st.LogsEvicted+st.UnlinkedLogsEvicted != 4000-50 {
		t.Fatalf("stats %+v", st)
	}
}
