package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// functionBinary is the shop function, built once for every test.
var functionBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sidelight-lambda-example-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	functionBinary = filepath.Join(dir, "bootstrap")
	code := 1
	if err := buildFunction(context.Background(), functionBinary); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
		if code == 0 {
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "goleak:", err)
				code = 1
			}
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// rieBinary finds the emulator, or skips the test (fails under CI).
func rieBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SIDELIGHT_LAMBDA_RIE"), "/tmp/rie/aws-lambda-rie"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the Lambda Runtime Interface Emulator is missing: set SIDELIGHT_LAMBDA_RIE (scripts/test.sh builds it)")
	}
	t.Skip("the Lambda Runtime Interface Emulator is missing: set SIDELIGHT_LAMBDA_RIE")
	return ""
}

// lines collects what is written, line by line, and wakes waiters.
type lines struct {
	mu      sync.Mutex
	partial []byte
	all     []string
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// len returns the number of lines so far.
func (l *lines) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// wait returns the first line for which match is true, waiting up to 30 s.
func (l *lines) wait(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	return l.waitFrom(t, 0, what, match)
}

// waitFrom is wait for the lines from index from on.
func (l *lines) waitFrom(t *testing.T, from int, what string, match func(string) bool) string {
	t.Helper()
	return l.waitFor(t, 30*time.Second, from, what, match)
}

// waitFor is waitFrom with a timeout of d.
func (l *lines) waitFor(t *testing.T, d time.Duration, from int, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		changed := l.changed
		all := l.all
		l.mu.Unlock()
		for _, s := range all[min(from, len(all)):] {
			if match(s) {
				return s
			}
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("no line with %s; output:\n%s", what, l.String())
		}
	}
}

// emfAgent stands in for the sidecar's EMF endpoint: newline-delimited
// documents over TCP.
type emfAgent struct {
	ln   net.Listener
	docs *lines
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn []net.Conn
}

func newEMFAgent(t *testing.T) *emfAgent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &emfAgent{ln: ln, docs: newLines()}
	a.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.conn = append(a.conn, c)
			a.mu.Unlock()
			a.wg.Go(func() {
				sc := bufio.NewScanner(c)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					_, _ = a.docs.Write(append(sc.Bytes(), '\n'))
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		a.mu.Lock()
		for _, c := range a.conn {
			c.Close()
		}
		a.mu.Unlock()
		a.wg.Wait()
	})
	return a
}

func (a *emfAgent) endpoint() string { return "tcp://" + a.ln.Addr().String() }

// invocationDoc waits for the per-invocation EMF document of trace,
// checked against the EMF schema.
func (a *emfAgent) invocationDoc(t *testing.T, trace string) map[string]any {
	t.Helper()
	var doc map[string]any
	a.docs.wait(t, "the EMF document of "+trace, func(s string) bool {
		if !strings.Contains(s, `"xray_trace_id":"`+trace+`"`) {
			return false
		}
		if err := schematest.EMF([]byte(s)); err != nil {
			t.Fatalf("EMF schema: %v\n%s", err, s)
		}
		return json.Unmarshal([]byte(s), &doc) == nil
	})
	return doc
}

// example is the whole example, started once per test that needs it.
type example struct {
	app    *app
	api    string
	page   string
	daemon *xraytest.Daemon
	emf    *emfAgent
	out    *lines
}

func startExample(t *testing.T) *example {
	t.Helper()
	rie := rieBinary(t)
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	e := &example{daemon: d, emf: newEMFAgent(t), out: newLines()}
	c, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-page", "127.0.0.1:0", "-inventory", "127.0.0.1:0",
		"-rie", rie, "-function", functionBinary, "-xray", d.Addr(), "-emf", e.emf.endpoint()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := start(ctx, c, e.out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		a.shutdown(ctx)
		if t.Failed() {
			t.Logf("output:\n%s", e.out)
		}
	})
	e.app, e.api, e.page = a, "http://"+a.apiAddr, "http://"+a.pageAddr
	return e
}

type reply struct {
	status int
	header http.Header
	body   string
	trace  string // the trace the gateway started
}

// call sends a request to the gateway, from the page's origin.
func (e *example) call(t *testing.T, method, path string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.api+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", e.page)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(body)}
	r.trace = strings.TrimPrefix(resp.Header.Get("X-Amzn-Trace-Id"), "Root=")
	if r.trace == "" {
		t.Fatalf("%s %s: no trace in the answer", method, path)
	}
	return r
}

// document waits for the document of trace for which match is true,
// checked against the X-Ray schema.
func (e *example) document(t *testing.T, what string, match func(xraytest.Segment) bool) xraytest.Segment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for n := 1; ; {
		docs, err := e.daemon.WaitFor(ctx, n)
		if err != nil {
			all, _ := e.daemon.Documents()
			t.Fatalf("no %s (%v) among %d documents", what, err, len(all))
		}
		for _, d := range docs {
			if match(d) {
				if err := schematest.Segment(d.Raw); err != nil {
					t.Fatalf("schema: %v\n%s", err, d.Raw)
				}
				return d
			}
		}
		n = len(docs) + 1
	}
}

// functionSubsegment waits for the subsegment middleware.Lambda sent for
// trace, and checks that its parent is the gateway's segment.
func (e *example) functionSubsegment(t *testing.T, trace string) xraytest.Segment {
	t.Helper()
	sub := e.document(t, "function subsegment of "+trace, func(d xraytest.Segment) bool {
		return d.TraceID == trace && d.Type == "subsegment" && strings.HasPrefix(d.Name, "## shop")
	})
	stage := e.document(t, "stage segment of "+trace, func(d xraytest.Segment) bool {
		return d.TraceID == trace && d.Name == "shop-api/local"
	})
	if sub.ParentID != stage.ID || stage.Origin != "AWS::ApiGateway::Stage" {
		t.Errorf("function subsegment's parent %s, stage segment %s", sub.ParentID, stage.Raw)
	}
	return sub
}

// report waits for the REPORT line of trace.
func (e *example) report(t *testing.T, trace string) string {
	t.Helper()
	return e.out.wait(t, "REPORT of "+trace, func(s string) bool {
		return strings.Contains(s, "REPORT RequestId: ") && strings.Contains(s, "XRAY TraceId: "+trace)
	})
}
