package lambdatest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// RIE returns the path of the Runtime Interface Emulator, or skips the
// test (fails it under CI) when there is none.
func RIE(t testing.TB) string {
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

// FreeAddr returns a loopback TCP address that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Emulator is a function running under the emulator, with a daemon
// stand-in receiving its segments.
type Emulator struct {
	*Process
	Addr   string // the emulator's invoke API, host:port
	Daemon *xraytest.Daemon
}

// StartEmulator runs the function binary under the emulator from RIE, in
// the test's environment plus AWS_XRAY_DAEMON_ADDRESS (a new
// xraytest.Daemon) and env, and waits until it accepts invocations. Both
// stop when the test ends.
func StartEmulator(t *testing.T, function string, env ...string) *Emulator {
	t.Helper()
	rie := RIE(t)
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	addr := FreeAddr(t)
	env = append([]string{"AWS_XRAY_DAEMON_ADDRESS=" + d.Addr()}, env...)
	// A runtime API port of its own: the default, 9001, would be shared by
	// every emulator on the machine.
	p := StartProcess(t, env, rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", FreeAddr(t), function)
	e := &Emulator{Process: p, Addr: addr, Daemon: d}
	e.waitReady(t)
	return e
}

// waitReady waits until the emulator accepts connections: it prints
// nothing when it is ready, so dial until it answers.
func (e *Emulator) waitReady(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		if c, err := net.Dial("tcp", e.Addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-tick.C:
		case <-e.exited:
			t.Fatalf("emulator exited: %v\n%s", e.err, e.Stderr)
		case <-deadline.C:
			t.Fatal("emulator did not start listening")
		}
	}
}

// Invoke sends one invocation and returns the emulator's answer: its
// status and body.
func (e *Emulator) Invoke(t *testing.T, payload string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.Addr+"/2015-03-31/functions/function/invocations", strings.NewReader(payload))
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
