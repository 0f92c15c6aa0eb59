package otlp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
)

// rawRecorder is a SpanConsumer that keeps copies of the span names and
// where each request's bytes were (b.Raw's first byte), and checks,
// during the call, that every span of a request has the same name (the
// concurrent test sends one name a request).
type rawRecorder struct {
	mu    sync.Mutex
	names []string
	raws  []uintptr
	mixed int // requests whose spans had different names
	recorder
}

func (c *rawRecorder) ConsumeSpans(_ context.Context, b *otlpspans.Batch) (int64, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sp := range b.Spans {
		c.names = append(c.names, strings.Clone(sp.Name))
		if sp.Name != b.Spans[0].Name {
			c.mixed++
		}
	}
	c.raws = append(c.raws, uintptr(unsafe.Pointer(unsafe.SliceData(b.Raw))))
	return 0, "", nil
}

// namedRequest is a request of n spans called name, with 5 attributes.
func namedRequest(t testing.TB, name string, n int) []byte {
	req := traceRequest(n, 5)
	for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		sp.Name = name
	}
	return mustProto(t, req)
}

func serveOnce(t testing.TB, h http.Handler, body []byte, gz bool) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://127.0.0.1"+PathTraces, bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaProto)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code != 200 {
		t.Fatalf("answered %d", w.code)
	}
}

// TestReusedBodyLeavesKeptDataAlone: with ReuseTraceBodies the second
// request is read into the first one's buffer (b.Raw starts at the same
// byte), and what the Consumer kept of the first (copies) is unchanged
// by it; without, each request gets a buffer of its own.
func TestReusedBodyLeavesKeptDataAlone(t *testing.T) {
	for _, reuse := range []bool{true, false} {
		t.Run(fmt.Sprint("reuse=", reuse), func(t *testing.T) {
			rec := &rawRecorder{}
			r, _ := start(t, Config{HTTPAddr: "off", GRPCAddr: "off", Consumer: rec, ReuseTraceBodies: reuse})
			a, b := namedRequest(t, "alpha", 200), namedRequest(t, "bravo", 200)
			if len(a) != len(b) {
				t.Fatalf("requests of %d and %d bytes", len(a), len(b))
			}
			serveOnce(t, r.Handler(), a, false)
			serveOnce(t, r.Handler(), b, false)
			want := slices.Concat(slices.Repeat([]string{"alpha"}, 200), slices.Repeat([]string{"bravo"}, 200))
			if !slices.Equal(rec.names, want) {
				t.Fatalf("kept names changed: %v", rec.names)
			}
			if same := rec.raws[0] == rec.raws[1]; same != reuse {
				t.Errorf("second request read into the first's buffer: %v, want %v", same, reuse)
			}
		})
	}
}

// TestReusedBodiesAllocateLess: a warm receiver with ReuseTraceBodies
// allocates at least a body less per request (none is made anew);
// without, at least the body.
func TestReusedBodiesAllocateLess(t *testing.T) {
	body := namedRequest(t, "op", 1000)
	perRequest := func(reuse bool) uint64 {
		rec := &rawRecorder{}
		r, _ := start(t, Config{HTTPAddr: "off", GRPCAddr: "off", Consumer: rec, ReuseTraceBodies: reuse})
		h := r.Handler()
		serveOnce(t, h, body, false)
		const runs = 10
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			serveOnce(t, h, body, false)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / runs
	}
	reused, fresh := perRequest(true), perRequest(false)
	// The recorder's names are the test's: 1000 small strings.
	t.Logf("body %d bytes; allocated %d bytes a request reused, %d fresh", len(body), reused, fresh)
	if fresh < uint64(len(body)) {
		t.Errorf("fresh bodies: %d bytes a request, want at least the body's %d", fresh, len(body))
	}
	if fresh-reused < uint64(len(body)) {
		t.Errorf("reused bodies save %d bytes a request, want at least the body's %d", fresh-reused, len(body))
	}
}

// TestReusedBodiesConcurrent: requests served at once over HTTP, plain
// and gzipped, each read into a reused buffer, never share one: every
// request's spans arrive with its own name, and every name sent is kept
// exactly once per span. Run with -race.
func TestReusedBodiesConcurrent(t *testing.T) {
	rec := &rawRecorder{}
	r, _ := start(t, Config{GRPCAddr: "off", Consumer: rec, ReuseTraceBodies: true})
	const workers, each, spans = 6, 15, 50
	var wg sync.WaitGroup
	var want []string
	errs := make(chan error, workers*each)
	for w := range workers {
		for i := range each {
			want = append(want, slices.Repeat([]string{fmt.Sprintf("w%d-r%d", w, i)}, spans)...)
		}
		wg.Go(func() {
			c := httpClient(t)
			for i := range each {
				body := namedRequest(t, fmt.Sprintf("w%d-r%d", w, i), spans)
				req, _ := http.NewRequest("POST", "http://"+r.HTTPAddr().String()+PathTraces, nil)
				if i%2 == 1 {
					body = gzipped(body)
					req.Header.Set("Content-Encoding", "gzip")
				}
				req.Body = io.NopCloser(bytes.NewReader(body))
				req.ContentLength = int64(len(body))
				req.Header.Set("Content-Type", mediaProto)
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("answered %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if rec.mixed != 0 {
		t.Errorf("%d spans arrived in a request of another name", rec.mixed)
	}
	got := slices.Sorted(slices.Values(rec.names))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("kept %d names, want %d (the names sent)", len(got), len(want))
	}
}
