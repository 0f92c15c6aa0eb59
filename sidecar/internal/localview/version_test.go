package localview

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// TestTraceVersion: /api/traces/{id}/version changes when a document of
// the trace arrives or replaces another and when one of its log records
// arrives or is evicted, and only then; If-None-Match with the current
// ETag gets 304 and no body; the idle time follows the store's clock.
func TestTraceVersion(t *testing.T) {
	clk := &fixedClock{t: t0}
	s := newStore(t, Config{Now: clk.Now, MaxLogRecords: 3})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var g ids
	sc := newScenario(t, &g, t0)
	get := func(id, etag string) (traceVersion, string, int) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/traces/"+id+"/version", nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var v traceVersion
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		} else if len(body) > 0 && resp.StatusCode == http.StatusNotModified {
			t.Fatalf("304 with a body: %s", body)
		}
		return v, resp.Header.Get("ETag"), resp.StatusCode
	}
	seen := map[string]bool{}
	step := func(what string) (traceVersion, string) {
		t.Helper()
		v, etag, code := get(sc.traceID, "")
		if code != http.StatusOK || etag != `W/"`+v.Version+`"` {
			t.Fatalf("%s: %d, ETag %q for %+v", what, code, etag, v)
		}
		if seen[v.Version] {
			t.Fatalf("%s: version %q seen before", what, v.Version)
		}
		seen[v.Version] = true
		if _, again, code := get(sc.traceID, `"x", `+etag); code != http.StatusNotModified || again != etag {
			t.Fatalf("%s: If-None-Match with the current ETag: %d, %q", what, code, again)
		}
		return v, etag
	}

	if v, _ := step("nothing yet"); v.Documents != 0 || v.LogRecords != 0 || v.IdleSeconds != 0 {
		t.Errorf("a trace not received: %+v", v)
	}
	mustAdd(t, s, sc.docs[0])
	v, etag := step("first document")
	if v.Documents != 1 || v.IdleSeconds != 0 {
		t.Errorf("after one document: %+v", v)
	}
	clk.Add(90 * time.Second)
	if v, _, code := get(sc.traceID, etag); code != http.StatusNotModified {
		t.Errorf("time alone changed the version: %d %+v", code, v)
	}
	if v, _, _ := get(sc.traceID, ""); v.IdleSeconds != 90 {
		t.Errorf("idle %v s, want 90", v.IdleSeconds)
	}
	mustAdd(t, s, sc.docs[1:]...)
	step("the other documents")
	mustAdd(t, s, sc.docs[2]) // the same document again replaces it
	_, etag = step("a document replaced")
	// Other traces' documents and records leave this one's version alone.
	_, other := okTrace(t, &g, clk.Now(), "other", time.Millisecond)
	mustAdd(t, s, other)
	s.AddLogs([]otlplogs.Record{logRec(t, "", clk.Now(), 9, "unlinked", "")})
	if v, _, code := get(sc.traceID, etag); code != http.StatusNotModified {
		t.Errorf("another trace changed this one's version: %d %+v", code, v)
	}
	for i := range 2 {
		s.AddLogs([]otlplogs.Record{logRec(t, sc.traceID, clk.Now(), 9, "record", "")})
		if v, _ := step("a log record"); v.LogRecords != i+1 {
			t.Errorf("%d records, want %d", v.LogRecords, i+1)
		}
	}
	// Another trace's records evict the unlinked one and this trace's
	// oldest (MaxLogRecords 3): one record fewer, and a new version.
	elsewhere := g.traceID(clk.Now())
	s.AddLogs([]otlplogs.Record{logRec(t, elsewhere, clk.Now(), 9, "elsewhere", ""), logRec(t, elsewhere, clk.Now(), 9, "elsewhere", "")})
	if v, _ := step("one of its records evicted"); v.LogRecords != 1 {
		t.Errorf("%d records, want 1", v.LogRecords)
	}

	// The W3C form names the same trace; anything else is refused.
	w3c := strings.ReplaceAll(strings.TrimPrefix(sc.traceID, "1-"), "-", "")
	if v, _, code := get(w3c, ""); code != http.StatusOK || v.TraceID != sc.traceID || v.Documents != 3 {
		t.Errorf("W3C form: %d %+v", code, v)
	}
	if _, _, code := get("nonsense", ""); code != http.StatusBadRequest {
		t.Errorf("a bad ID: %d", code)
	}
}
