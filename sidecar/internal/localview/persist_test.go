package localview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

func TestPersistRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.jsonl")
	clk := &fixedClock{t: t0}
	s1, err := New(Config{PersistPath: path, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	sc := newScenario(t, &g, t0)
	mustAdd(t, s1, sc.docs...)
	clk.Add(time.Second)
	_, ok1 := okTrace(t, &g, clk.Now(), "health", 3*time.Millisecond)
	mustAdd(t, s1, ok1)
	if err := s1.AddEMF(emfJSON(t, t0, "/checkout", []float64{10, 20, 30}, 1, sc.traceID)); err != nil {
		t.Fatal(err)
	}
	wantList := s1.list(listQuery{limit: 100})
	wantDetail, _ := s1.detail(sc.traceID)
	wantMetrics := s1.metrics(metricsQuery{})
	wantMap := s1.serviceMap()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Add(10 * time.Minute) // a restart within the hour
	s2 := newStore(t, Config{PersistPath: path, Now: clk.Now})
	if got := s2.list(listQuery{limit: 100}); !reflect.DeepEqual(got, wantList) {
		t.Errorf("list after reload:\n got %+v\nwant %+v", got, wantList)
	}
	gotDetail, _ := s2.detail(sc.traceID)
	if a, b := mustJSON(t, gotDetail), mustJSON(t, wantDetail); a != b {
		t.Errorf("detail after reload:\n got %s\nwant %s", a, b)
	}
	if a, b := mustJSON(t, s2.metrics(metricsQuery{})), mustJSON(t, wantMetrics); a != b {
		t.Errorf("metrics after reload:\n got %s\nwant %s", a, b)
	}
	if a, b := mustJSON(t, s2.serviceMap()), mustJSON(t, wantMap); a != b {
		t.Errorf("service map after reload:\n got %s\nwant %s", a, b)
	}
	st := s2.Stats()
	if st.Loaded != 5 || st.Segments != 0 {
		t.Errorf("stats after reload = %+v, want 5 loaded and none counted as received", st)
	}
}

func TestPersistDropsExpiredOnLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.jsonl")
	clk := &fixedClock{t: t0}
	s1, err := New(Config{PersistPath: path, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	_, old := okTrace(t, &g, t0, "old", time.Millisecond)
	mustAdd(t, s1, old)
	clk.Add(50 * time.Minute)
	newID, fresh := okTrace(t, &g, clk.Now(), "new", time.Millisecond)
	mustAdd(t, s1, fresh)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Add(20 * time.Minute) // the old trace is now 70 minutes old
	s2 := newStore(t, Config{PersistPath: path, Now: clk.Now})
	l := s2.list(listQuery{limit: 10})
	if l.Total != 1 || l.Traces[0].ID != newID {
		t.Fatalf("after reload: %+v, want only %s", l.Traces, newID)
	}
	// Close compacts: the expired line is gone from the file.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 1 || !bytes.Contains(b, []byte(newID)) {
		t.Errorf("file after compaction has %d lines:\n%s", n, b)
	}
}

func TestPersistSkipsBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.jsonl")
	var g ids
	now := time.Now()
	id, good := okTrace(t, &g, now, "good", time.Millisecond)
	line, _ := json.Marshal(persistLine{Kind: kindSegment, Recv: now.UnixNano(), Doc: good})
	content := strings.Join([]string{
		"not json",
		`{"kind":"segment","recv":1,"doc":{"name":"no id"}}`,
		`{"kind":"other","recv":1,"doc":{}}`,
		string(line),
		`{"kind":"emf","recv":` + itoa(now.UnixNano()) + `,"doc":{"_aws":{}}}`,
	}, "\n")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := newStore(t, Config{PersistPath: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if l := s.list(listQuery{limit: 10}); l.Total != 1 || l.Traces[0].ID != id {
		t.Fatalf("loaded %+v, want the one good trace", l)
	}
	if !strings.Contains(logs.String(), "skipped=4") {
		t.Errorf("log does not report the 4 unreadable lines:\n%s", logs.String())
	}
}

func TestPersistErrors(t *testing.T) {
	s := newStore(t, Config{})
	if err := s.Persist(); err == nil {
		t.Error("Persist without a path succeeded")
	}
	dir := t.TempDir()
	s2 := newStore(t, Config{PersistPath: filepath.Join(dir, "missing-dir", "x.jsonl")})
	if err := s2.Persist(); err == nil || !strings.Contains(err.Error(), "localview: persist") {
		t.Errorf("Persist into a missing directory = %v", err)
	}
	if _, err := New(Config{PersistPath: dir}); err == nil {
		t.Error("New with a directory as PersistPath succeeded")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestPersistLogRecords: OTLP log records are written to the file and
// loaded at the next start, in arrival order, so the trace page shows the
// same records and the store's log bounds hold as they did when they were
// received; a start with smaller bounds keeps the newest.
func TestPersistLogRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.jsonl")
	clk := &fixedClock{t: t0}
	s1, err := New(Config{PersistPath: path, Now: clk.Now, MaxUnlinkedLogs: 2})
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	sc := newScenario(t, &g, t0)
	mustAdd(t, s1, sc.docs...)
	errRec := logRec(t, sc.traceID, t0.Add(30*time.Millisecond), 17, "order store <unavailable>", sc.ordersID)
	errRec.SeverityText, errRec.EventName, errRec.Scope = "ERROR", "db.error", "orders/store"
	errRec.Attributes = []byte(`{"db":{"system":"postgresql"},"retry":3,"html":"<b>&</b>"}`)
	nullBody := logRec(t, sc.traceID, t0.Add(time.Millisecond), 9, "", "")
	nullBody.Body = []byte("null")
	logsOnly := g.traceID(t0)
	s1.AddLogs([]otlplogs.Record{errRec, nullBody, logRec(t, logsOnly, t0, 13, "spans never came", "")})
	clk.Add(time.Second)
	for i := range 3 { // one more than MaxUnlinkedLogs: the first is evicted
		s1.AddLogs([]otlplogs.Record{logRec(t, "", t0.Add(time.Duration(i)*time.Second), 9, fmt.Sprint("unlinked ", i), "")})
	}
	wantTrace, wantOnly, wantUnlinked := s1.traceLogs(sc.traceID), s1.traceLogs(logsOnly), s1.unlinkedLogs(10)
	st1 := s1.Stats()
	if wantTrace.Total != 2 || wantOnly.Total != 1 || wantUnlinked.Total != 2 || st1.Logs != 5 {
		t.Fatalf("before persisting: %d, %d, %d records, stats %+v", wantTrace.Total, wantOnly.Total, wantUnlinked.Total, st1)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Add(10 * time.Minute)
	var logs bytes.Buffer
	s2 := newStore(t, Config{PersistPath: path, Now: clk.Now, MaxUnlinkedLogs: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, c := range []struct{ got, want traceLogs }{
		{s2.traceLogs(sc.traceID), wantTrace}, {s2.traceLogs(logsOnly), wantOnly}, {s2.unlinkedLogs(10), wantUnlinked},
	} {
		if a, b := mustJSON(t, c.got), mustJSON(t, c.want); a != b {
			t.Errorf("records after reload:\n got %s\nwant %s", a, b)
		}
	}
	st := s2.Stats()
	if st.Logs != st1.Logs || st.LogBytes != st1.LogBytes || st.LogsReceived != 0 || st.Loaded != 8 {
		t.Errorf("stats after reload = %+v, want %d records of %d bytes, none received, 8 loaded", st, st1.Logs, st1.LogBytes)
	}
	if !strings.Contains(logs.String(), "log_records=5") || strings.Contains(logs.String(), "skipped") {
		t.Errorf("load log:\n%s", logs.String())
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	// Smaller bounds at the next start: the newest records are kept.
	s3 := newStore(t, Config{PersistPath: path, Now: clk.Now, MaxLogRecords: 2})
	if st := s3.Stats(); st.Logs != 2 || st.LogsEvicted != 3 {
		t.Errorf("with MaxLogRecords 2: %+v", st)
	}
	if got := s3.unlinkedLogs(10); got.Total != 2 || string(got.Records[0].Body) != `"unlinked 2"` {
		t.Errorf("kept %s, want the two newest", mustJSON(t, got))
	}
}

// TestPersistLogsSurviveDamage: a file cut short (a crash while it was
// written by something other than Persist, a full disk), with a corrupted
// record and a line too long to read in the middle, still loads every
// good record before and after the damage; the rest is reported.
func TestPersistLogsSurviveDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.jsonl")
	now := time.Now()
	s1, err := New(Config{PersistPath: path})
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	tid := g.traceID(now)
	for i := range 6 {
		s1.AddLogs([]otlplogs.Record{logRec(t, tid, now.Add(time.Duration(i)*time.Millisecond), 9, fmt.Sprint("record ", i), "")})
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines persisted, want 6:\n%s", len(lines), b)
	}
	lines[1] = strings.Replace(lines[1], `"trace_id":"`, `"trace_id":"zz`, 1)              // a bad ID
	lines[2] = `{"kind":"log","recv":1,"doc":{"time":` + strings.Repeat("1", 3<<20) + `}}` // longer than a line may be
	lines[5] = lines[5][:len(lines[5])/2]                                                  // cut short
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s2 := newStore(t, Config{PersistPath: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	got := s2.traceLogs(tid)
	var bodies []string
	for _, r := range got.Records {
		bodies = append(bodies, string(r.Body))
	}
	if want := []string{`"record 0"`, `"record 3"`, `"record 4"`}; !reflect.DeepEqual(bodies, want) {
		t.Errorf("loaded %v, want %v", bodies, want)
	}
	if !strings.Contains(logs.String(), "skipped=3") || !strings.Contains(logs.String(), "trace_id") {
		t.Errorf("load log does not report the 3 damaged lines:\n%s", logs.String())
	}
}
