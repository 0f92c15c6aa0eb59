package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// Servers, the browser and the telemetry goroutines must all stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// emfAgent is a stand-in CloudWatch agent: it accepts TCP connections and
// keeps every newline-delimited document.
type emfAgent struct {
	ln      net.Listener
	mu      sync.Mutex
	docs    [][]byte
	changed chan struct{}
	wg      sync.WaitGroup
	conns   map[net.Conn]bool
	done    int // connections read to the end
}

func newEMFAgent(t *testing.T) *emfAgent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &emfAgent{ln: ln, changed: make(chan struct{}), conns: map[net.Conn]bool{}}
	a.wg.Add(1)
	go a.accept()
	t.Cleanup(a.close)
	return a
}

func (a *emfAgent) endpoint() string { return "tcp://" + a.ln.Addr().String() }

func (a *emfAgent) accept() {
	defer a.wg.Done()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.conns[c] = true
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer func() {
				c.Close()
				a.mu.Lock()
				delete(a.conns, c)
				a.done++
				close(a.changed)
				a.changed = make(chan struct{})
				a.mu.Unlock()
			}()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 1<<16), 1<<20)
			for sc.Scan() {
				a.mu.Lock()
				a.docs = append(a.docs, append([]byte(nil), sc.Bytes()...))
				close(a.changed)
				a.changed = make(chan struct{})
				a.mu.Unlock()
			}
		}()
	}
}

func (a *emfAgent) close() {
	a.ln.Close()
	a.mu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// waitIdle waits until the sink has connected, and every connection has
// been closed by the sink and read to the end.
func (a *emfAgent) waitIdle(ctx context.Context, t *testing.T) {
	t.Helper()
	for {
		a.mu.Lock()
		idle := a.done > 0 && len(a.conns) == 0
		changed := a.changed
		a.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal("the EMF sink did not connect and close")
		}
	}
}

func (a *emfAgent) documents() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]byte(nil), a.docs...)
}

// corsBlocked sums the CORSBlocked metric per Route and Reason, checking
// every document against the EMF schema.
func (a *emfAgent) corsBlocked(t *testing.T) map[[2]string]float64 {
	t.Helper()
	out := map[[2]string]float64{}
	for _, raw := range a.documents() {
		if err := schematest.EMF(raw); err != nil {
			t.Errorf("EMF document: %v\n%s", err, raw)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		v, ok := doc["CORSBlocked"].(float64)
		if !ok {
			continue
		}
		route, _ := doc["Route"].(string)
		reason, _ := doc["Reason"].(string)
		out[[2]string{route, reason}] += v
	}
	return out
}

// fixture is the example running with its telemetry going to stand-ins.
type fixture struct {
	daemon *xraytest.Daemon
	agent  *emfAgent
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &fixture{daemon: d, agent: newEMFAgent(t)}
}

// config is the example's configuration on free ports, sending to the
// stand-ins.
func (f *fixture) config(t *testing.T, extra ...string) config {
	t.Helper()
	args := append([]string{"-api-addr", "127.0.0.1:0", "-page-addr", "127.0.0.1:0", "-daemon", f.daemon.Addr(), "-emf", f.agent.endpoint()}, extra...)
	cfg, err := parseFlags(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start runs the example until the test ends (or stop is called).
func (f *fixture) start(t *testing.T) (*app, func()) {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(w.close) // runs after the app's shutdown
	a, err := start(context.Background(), f.config(t), slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// segments waits for every segment the emitter sent, and checks each
// against the X-Ray schema.
func (f *fixture) segments(t *testing.T, a *app) []xraytest.Segment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.emitter.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	st := a.emitter.Stats()
	if st.Dropped() > 0 {
		t.Fatalf("emitter dropped segments: %+v", st)
	}
	docs, err := f.daemon.WaitFor(ctx, int(st.Datagrams))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if err := schematest.Segment(d.Raw); err != nil {
			t.Errorf("segment: %v\n%s", err, d.Raw)
		}
	}
	return docs
}

// byPath groups the API's segments by request path.
func byPath(t *testing.T, docs []xraytest.Segment) map[string][]xraytest.Segment {
	t.Helper()
	out := map[string][]xraytest.Segment{}
	for _, d := range docs {
		if d.Name != apiService {
			continue
		}
		u, err := url.Parse(d.HTTP.Request.URL)
		if err != nil {
			t.Fatalf("segment URL %q: %v", d.HTTP.Request.URL, err)
		}
		out[u.Path] = append(out[u.Path], d)
	}
	return out
}

// annotation returns a string annotation, or "".
func annotation(s xraytest.Segment, key string) string {
	v, _ := s.Annotations[key].(string)
	return v
}

// testWriter sends the example's log to the test log while the test runs.
type testWriter struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
