package tutorialtest

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The sidecar's default addresses, which the tutorials use.
const (
	SidecarDaemon = "127.0.0.1:2000"        // X-Ray segments, UDP
	SidecarEMF    = "tcp://127.0.0.1:25888" // EMF documents
	SidecarView   = "http://127.0.0.1:2772" // the local view
)

// Sidecar is the Sidelight sidecar, running in local mode as the
// tutorials' first command starts it, but on free ports.
type Sidecar struct {
	UI  string // the local view's URL, without a trailing slash
	UDP string // the X-Ray daemon address
	EMF string // the EMF endpoint, tcp://host:port
}

// GoBin returns the go command: the one on the PATH, else the toolchain's
// that runs the test.
func GoBin() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// StartSidecar builds the sidecar from this module, checks that its
// defaults are the addresses the tutorials use, and runs it until the test
// ends; ctx bounds the build and the wait for it to listen. When the test
// fails, the sidecar's log is logged.
func StartSidecar(t *testing.T, ctx context.Context) *Sidecar {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sidecar")
	build := exec.CommandContext(ctx, GoBin(), "build", "-o", bin, "github.com/seed-c77c9410/sidelight/sidecar")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the sidecar: %v\n%s", err, out)
	}
	// The tutorials rely on the sidecar's default addresses.
	help, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput()
	for flag, def := range map[string]string{
		"xray-udp-addr": SidecarDaemon,
		"emf-tcp-addr":  strings.TrimPrefix(SidecarEMF, "tcp://"),
		"ui-addr":       strings.TrimPrefix(SidecarView, "http://"),
	} {
		re := regexp.MustCompile(`-` + flag + ` string\n.*\(default "` + regexp.QuoteMeta(def) + `"\)`)
		if !re.Match(help) {
			t.Errorf("sidecar -h does not give -%s the default %s:\n%s", flag, def, help)
		}
	}
	cmd := exec.Command(bin, "-local", "-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "off",
		"-emf-tcp-addr", "127.0.0.1:0", "-emf-udp-addr", "off", "-status-addr", "127.0.0.1:0", "-ui-addr", "127.0.0.1:0",
		"-otlp-http-addr", "127.0.0.1:0", "-otlp-grpc-addr", "off")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The sidecar logs its addresses once it listens on all of them.
	started := make(chan map[string]any, 1)
	var logMu sync.Mutex
	var log []string
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string         `json:"msg"`
				Info map[string]any `json:"info"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "sidecar started" {
				started <- line.Info
			}
			logMu.Lock()
			log = append(log, sc.Text())
			logMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-drained
		_ = cmd.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("sidecar log:\n%s", strings.Join(log, "\n"))
			logMu.Unlock()
		}
	})
	var info map[string]any
	select {
	case info = <-started:
	case <-drained:
		t.Fatal("the sidecar exited before it started")
	case <-ctx.Done():
		t.Fatal("the sidecar did not start")
	}
	s := &Sidecar{}
	s.UI, _ = info["addr_ui"].(string)
	s.UDP, _ = info["addr_xray_udp"].(string)
	emfAddr, _ := info["addr_emf_tcp"].(string)
	if s.UI == "" || s.UDP == "" || emfAddr == "" {
		t.Fatalf("sidecar addresses: %v", info)
	}
	s.UI = strings.TrimSuffix(s.UI, "/")
	if !strings.HasPrefix(s.UI, "http") {
		s.UI = "http://" + s.UI
	}
	s.EMF = "tcp://" + emfAddr
	return s
}
