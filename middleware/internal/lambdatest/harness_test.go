package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// lines collects what a process writes, line by line, and wakes waiters
// on every new line.
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

// emf returns the EMF documents among the lines from index from on, each
// checked against the EMF schema.
func (l *lines) emf(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	all := append([]string(nil), l.all...)
	l.mu.Unlock()
	var out []map[string]any
	for _, line := range all {
		if !strings.HasPrefix(line, `{"_aws"`) {
			continue
		}
		if err := schematest.EMF([]byte(line)); err != nil {
			t.Fatalf("EMF schema: %v\n%s", err, line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// waitEMF waits for an EMF document for which match is true.
func (l *lines) waitEMF(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		for _, d := range l.emf(t) {
			if match(d) {
				return d
			}
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("no EMF document with %s; output:\n%s", what, l.String())
		}
	}
}

// process is a child process in its own process group, so that it and
// everything it started can be stopped together.
type process struct {
	cmd    *exec.Cmd
	stdout *lines
	stderr *lines
	exited chan struct{}
	err    error
}

func startProcess(t testing.TB, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, stdout: newLines(), stderr: newLines(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop asks the process to end, then kills its group if it has not.
func (p *process) stop(t testing.TB) {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		grace := time.NewTimer(5 * time.Second)
		defer grace.Stop()
		select {
		case <-p.exited:
		case <-grace.C:
			t.Log("process did not stop on SIGTERM; killing it")
		}
	}
	// The emulator's runtime child may outlive it: end the whole group.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
}

// rieBinary finds the Runtime Interface Emulator, or skips the test (fails
// under CI).
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

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// emulator is the test function running under the emulator, with a daemon
// stand-in receiving its segments.
type emulator struct {
	*process
	addr   string
	daemon *xraytest.Daemon
}

func startEmulator(t *testing.T, env ...string) *emulator {
	t.Helper()
	rie := rieBinary(t)
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	addr := freeAddr(t)
	env = append([]string{
		"AWS_XRAY_DAEMON_ADDRESS=" + d.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=orders-fn",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=2",
		"POWERTOOLS_SERVICE_NAME=orders",
		"AWS_EMF_NAMESPACE=SidelightTest",
		"LOG_LEVEL=error",
	}, env...)
	// A runtime API port of its own: the default, 9001, would be shared by
	// every emulator on the machine.
	p := startProcess(t, env, rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", freeAddr(t), functionBinary)
	e := &emulator{process: p, addr: addr, daemon: d}
	e.waitReady(t)
	return e
}

// waitReady waits until the emulator accepts connections: it prints
// nothing when it is ready, so dial until it answers.
func (e *emulator) waitReady(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		if c, err := net.Dial("tcp", e.addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-tick.C:
		case <-e.exited:
			t.Fatalf("emulator exited: %v\n%s", e.err, e.stderr)
		case <-deadline.C:
			t.Fatal("emulator did not start listening")
		}
	}
}

// invoke sends one invocation and returns the emulator's answer.
func (e *emulator) invoke(t *testing.T, payload string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+"/2015-03-31/functions/function/invocations", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// subsegment waits for the document whose parent is parent, checked
// against the X-Ray schema.
func waitSubsegment(t *testing.T, d *xraytest.Daemon, parent string) xraytest.Segment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 1; ; {
		docs, err := d.WaitFor(ctx, n)
		if err != nil {
			all, _ := d.Documents()
			t.Fatalf("no subsegment with parent %s (%v); got %d documents", parent, err, len(all))
		}
		for _, doc := range docs {
			if doc.ParentID == parent && doc.Type == "subsegment" {
				if err := schematest.Segment(doc.Raw); err != nil {
					t.Fatalf("schema: %v\n%s", err, doc.Raw)
				}
				return doc
			}
		}
		n = len(docs) + 1
	}
}
