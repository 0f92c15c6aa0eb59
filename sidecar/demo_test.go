package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's first command is `go run ./sidecar -demo`: run the built
// binary the same way (on free ports), and check that the local view shows
// real traces from the demo services within seconds, faults included, a
// failed checkout's page with its error log record (sent by the demo over
// OTLP to the sidecar's own receiver), and that SIGTERM stops it cleanly.
func TestDemoShowsTracesInTheView(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sidecar")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	cmd := exec.Command(bin, "-demo",
		"-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "127.0.0.1:0",
		"-emf-tcp-addr", "127.0.0.1:0", "-emf-udp-addr", "127.0.0.1:0",
		"-status-addr", "127.0.0.1:0", "-ui-addr", "127.0.0.1:0", "-otlp-http-addr", "127.0.0.1:0", "-otlp-grpc-addr", "off")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()} // no AWS settings at all
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`open (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	var ui string
	select {
	case ui = <-urls:
	case err := <-exited:
		t.Fatalf("sidecar exited before serving the view: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no view URL printed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(ui, "/")+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("view API %s: %v", path, err)
		}
		err = json.NewDecoder(resp.Body).Decode(v)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	var list struct {
		Traces []struct {
			ID       string   `json:"id"`
			Services []string `json:"services"`
			Status   string   `json:"status"`
		} `json:"traces"`
	}
	statuses := map[string]bool{}
	services := map[string]bool{}
	errorLogged := ""
	for !(statuses["fault"] && services["inventory"] && errorLogged != "") {
		get("/api/traces", &list)
		for _, tr := range list.Traces {
			statuses[tr.Status] = true
			for _, s := range tr.Services {
				services[s] = true
			}
			if tr.Status != "fault" || errorLogged != "" {
				continue
			}
			var logs struct {
				Records []struct {
					Severity string `json:"severity"`
					Body     string `json:"body"`
				} `json:"records"`
			}
			get("/api/traces/"+tr.ID+"/logs", &logs)
			for _, r := range logs.Records {
				if r.Severity == "error" {
					errorLogged = r.Body
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the view shows statuses %v and services %v, and no fault with an error log record", statuses, services)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !strings.Contains(errorLogged, "failed") {
		t.Errorf("a failed request's error record says %q", errorLogged)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
