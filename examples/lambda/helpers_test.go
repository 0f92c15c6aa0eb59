package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
)

// functionBinary is the shop function, built once for every test.
var functionBinary string

func TestMain(m *testing.M) {
	os.Exit(lambdatest.Main(m, &functionBinary, func(path string) error {
		return buildFunction(context.Background(), path)
	}))
}

// emfAgent stands in for the sidecar's EMF endpoint: newline-delimited
// documents over TCP.
type emfAgent struct {
	ln   net.Listener
	docs *lambdatest.Lines
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
	a := &emfAgent{ln: ln, docs: lambdatest.NewLines()}
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

// invocationDoc waits for the per-invocation EMF document of trace; every
// document read is checked against the EMF schema.
func (a *emfAgent) invocationDoc(t *testing.T, trace string) map[string]any {
	t.Helper()
	return a.docs.WaitEMF(t, "the EMF document of "+trace, func(doc map[string]any) bool {
		return doc["xray_trace_id"] == trace
	})
}

// example is the whole example, started once per test that needs it.
type example struct {
	app    *app
	api    string
	page   string
	daemon *xraytest.Daemon
	emf    *emfAgent
	out    *lambdatest.Lines
}

func startExample(t *testing.T) *example {
	t.Helper()
	rie := lambdatest.RIE(t)
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	e := &example{daemon: d, emf: newEMFAgent(t), out: lambdatest.NewLines()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.run(t, ctx, "-rie", rie, "-xray", d.Addr(), "-emf", e.emf.endpoint())
	return e
}

// run starts the example on free loopback ports with the function under
// the emulator and the given flags (the emulator, where segments and EMF
// go), and shuts it down when the test ends, printing its output if the
// test failed.
func (e *example) run(t *testing.T, ctx context.Context, flags ...string) {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-page", "127.0.0.1:0", "-inventory", "127.0.0.1:0",
		"-function", functionBinary}, flags...)
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
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

// functionSubsegment waits for the subsegment middleware.Lambda sent for
// trace, and checks that its parent is the gateway's segment.
func (e *example) functionSubsegment(t *testing.T, trace string) xraytest.Segment {
	t.Helper()
	sub := lambdatest.WaitDocument(t, e.daemon, "function subsegment of "+trace, func(d xraytest.Segment) bool {
		return d.TraceID == trace && d.Type == "subsegment" && strings.HasPrefix(d.Name, "## shop")
	})
	stage := lambdatest.WaitDocument(t, e.daemon, "stage segment of "+trace, func(d xraytest.Segment) bool {
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
	return e.out.Wait(t, "REPORT of "+trace, func(s string) bool {
		return strings.Contains(s, "REPORT RequestId: ") && strings.Contains(s, "XRAY TraceId: "+trace)
	})
}
