package localview

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
