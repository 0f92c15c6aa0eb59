package ecs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTutorialInAShell runs section 1 of the tutorial through bash as one
// script, the way a reader pastes it: the builds, the background jobs,
// the curls, and the stop commands with their job numbers. The test only
// moves the programs to free ports (environment variables the programs
// read, and the same ports in the curl lines) and waits for each program
// to listen before the next line, as a reader does. Afterwards the
// programs must be gone (their ports free: no wrapper left a child
// behind) and the sidecar must have received the service's last metrics,
// which the service writes when it stops, before the sidecar stopped.
func TestTutorialInAShell(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to run the tutorial as a reader does")
	}
	root := repoRoot(t)
	free := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	appPort, statusPort, uiPort, xrayPort, emfPort := free(), free(), free(), free(), free()
	env := map[string]string{
		"SIDELIGHT_XRAY_UDP_ADDR":  fmt.Sprintf("127.0.0.1:%d", xrayPort),
		"SIDELIGHT_XRAY_TCP_ADDR":  fmt.Sprintf("127.0.0.1:%d", xrayPort),
		"SIDELIGHT_EMF_TCP_ADDR":   fmt.Sprintf("127.0.0.1:%d", emfPort),
		"SIDELIGHT_EMF_UDP_ADDR":   fmt.Sprintf("127.0.0.1:%d", emfPort),
		"SIDELIGHT_STATUS_ADDR":    fmt.Sprintf("127.0.0.1:%d", statusPort),
		"SIDELIGHT_UI_ADDR":        fmt.Sprintf("127.0.0.1:%d", uiPort),
		"SIDELIGHT_OTLP_HTTP_ADDR": "off",
		"SIDELIGHT_OTLP_GRPC_ADDR": "off",
		"HOST":                     "127.0.0.1",
		"PORT":                     fmt.Sprint(appPort),
		"AWS_XRAY_DAEMON_ADDRESS":  fmt.Sprintf("127.0.0.1:%d", xrayPort),
		"AWS_EMF_AGENT_ENDPOINT":   fmt.Sprintf("tcp://127.0.0.1:%d", emfPort),
	}
	ports := strings.NewReplacer("localhost:8080", fmt.Sprintf("localhost:%d", appPort), "localhost:2021", fmt.Sprintf("localhost:%d", statusPort))

	var script strings.Builder
	script.WriteString("set -u\n")
	var outputs []string
	for _, c := range readTutorial(t) {
		if !strings.HasPrefix(c.section, "1.") || c.needsAWS || c.text == testCommand {
			continue
		}
		line := ports.Replace(c.text)
		script.WriteString(line + "\n")
		if strings.HasSuffix(line, "&") {
			// A reader waits until the program listens.
			url := fmt.Sprintf("localhost:%d/", appPort)
			if strings.Contains(line, "sidecar") {
				url = fmt.Sprintf("localhost:%d/healthz", statusPort)
			}
			fmt.Fprintf(&script, "for i in $(seq 600); do curl -s -o /dev/null %s && break; sleep 0.1; done\n", url)
		}
		if f := strings.Fields(line); len(f) == 5 && f[0] == "go" && f[1] == "build" && f[2] == "-o" {
			outputs = append(outputs, f[3])
		}
	}
	if len(outputs) == 0 {
		t.Error("section 1 builds no binaries: go run leaves its program running when its wrapper is killed")
	}
	for _, o := range outputs {
		bin := filepath.Join(root, o)
		if _, err := os.Stat(bin); err != nil {
			t.Cleanup(func() { os.Remove(bin) })
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = root
	cmd.Env = envList(env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second // a program left running keeps the output open
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }) // whatever the script left behind
	if err := cmd.Wait(); errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("programs started by the tutorial were still running after its last command")
	} else if err != nil {
		t.Fatalf("the tutorial's commands failed in bash: %v\nscript:\n%s\noutput:\n%s", err, script.String(), out.String())
	}

	// Every program stopped: its ports are free again.
	for _, p := range []int{appPort, statusPort, uiPort, xrayPort, emfPort} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d is still held after the tutorial's stop commands: %v", p, err)
			continue
		}
		ln.Close()
	}
	// The sidecar stopped after taking the service's last metrics.
	var stopped map[string]any
	for _, line := range strings.Split(out.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "sidecar stopped" {
			stopped = m
		}
	}
	if stopped == nil {
		t.Fatalf("the sidecar never logged that it stopped:\n%s", out.String())
	}
	counters, _ := stopped["counters"].(map[string]any)
	if n, _ := counters["emf.accepted"].(float64); n == 0 {
		t.Errorf("the sidecar stopped without the service's metrics (emf.accepted = 0): it stopped first\n%s", out.String())
	}
}
