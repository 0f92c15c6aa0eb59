package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The commands of the tutorial's sh blocks, in order. A command added to
// the tutorial must be added here and run by TestTutorialCommands.
const (
	cmdSidecar = "go run ./sidecar -demo-rollout"
	cmdFailing = `curl -s 'http://127.0.0.1:2772/api/compare?service=shop&baseline=v1&candidate=v2' | grep -o '"route":"[^"]*","verdict":"fail"'`
	cmdGate    = `curl -s 'http://127.0.0.1:2772/api/compare?service=shop&baseline=v1&candidate=v2' | grep -q '"service":"shop","verdict":"pass"'`
)

// The routes on which the demo's v2 is worse than v1.
var badRoutes = []string{"GET /checkout", "GET /products/{id}"}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestTutorialCommands runs the tutorial's commands through bash, as
// written, from the repository root: the sidecar with the demo rollout in
// the background (its listeners moved to free ports by the SIDELIGHT_*
// variables it reads, and the view's port replaced in the other
// commands), then, once the view judges both of v2's bad routes to fail,
// the curl that lists the failing routes (its output must be the one the
// tutorial shows) and the pipeline gate (it must exit 1, and its pattern
// must match the overall verdict when it is fail).
func TestTutorialCommands(t *testing.T) {
	want := []string{cmdSidecar, cmdFailing, cmdGate}
	if got := tutorialtest.Commands(t); !slices.Equal(got, want) {
		t.Fatalf("the tutorial's commands are\n  %s\nthe test runs\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to run the tutorial as a reader does")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	xray, emf, status, ui := freePort(t), freePort(t), freePort(t), freePort(t)
	env := append(os.Environ(),
		fmt.Sprintf("SIDELIGHT_XRAY_UDP_ADDR=127.0.0.1:%d", xray),
		fmt.Sprintf("SIDELIGHT_XRAY_TCP_ADDR=127.0.0.1:%d", xray),
		fmt.Sprintf("SIDELIGHT_EMF_TCP_ADDR=127.0.0.1:%d", emf),
		fmt.Sprintf("SIDELIGHT_EMF_UDP_ADDR=127.0.0.1:%d", emf),
		fmt.Sprintf("SIDELIGHT_STATUS_ADDR=127.0.0.1:%d", status),
		fmt.Sprintf("SIDELIGHT_UI_ADDR=127.0.0.1:%d", ui),
		"SIDELIGHT_OTLP_HTTP_ADDR=off",
		"SIDELIGHT_OTLP_GRPC_ADDR=off",
	)
	view := fmt.Sprintf("http://127.0.0.1:%d", ui)
	ports := strings.NewReplacer(tutorialtest.SidecarView, view)

	// go run ./sidecar -demo-rollout, in its own process group so that
	// the program go run starts stops with it.
	sidecar := exec.Command(bash, "-c", cmdSidecar)
	sidecar.Dir, sidecar.Env = root, env
	sidecar.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var log lockedBuffer
	sidecar.Stdout, sidecar.Stderr = &log, &log
	if err := sidecar.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = sidecar.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-sidecar.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("sidecar output:\n%s", log.String())
		}
	})

	// A reader waits for the verdicts; so does the test, until both bad
	// routes have failed on several answers in a row (a route close to
	// the line can flip while v2's sample is small).
	const inARow = 6
	streak := 0
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	var last map[string]string
	for streak < inARow {
		select {
		case <-exited:
			t.Fatal("the sidecar exited")
		case <-ctx.Done():
			t.Fatalf("the verdicts for v2's bad routes never settled on fail; last: %v", last)
		case <-tick.C:
		}
		last = verdicts(ctx, client, view+"/api/compare?service=shop&baseline=v1&candidate=v2")
		if last["GET /checkout"] == "fail" && last["GET /products/{id}"] == "fail" {
			streak++
		} else {
			streak = 0
		}
	}

	// The tutorial's view address and rollout, as the sidecar logs them.
	for _, line := range []string{"open " + view + "/", "demo rollout: shop v2 now takes half of the requests"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("the sidecar did not log %q", line)
		}
	}
	// The tutorial's minimum of requests per side is the view's.
	if body := get(ctx, client, view+"/api/compare?service=shop&baseline=v1&candidate=v2"); !strings.Contains(body, `"min_requests":30,`) ||
		!strings.Contains(tutorialtest.README(t), "served 30 requests") {
		t.Errorf("the view's minimum of requests per side is not the tutorial's 30: %.300s", body)
	}

	// The routes on which v2 fails, as the tutorial shows them.
	out, err := runBash(ctx, bash, root, ports.Replace(cmdFailing))
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmdFailing, err, out)
	}
	var shown []string
	for _, r := range badRoutes {
		shown = append(shown, `"route":"`+r+`","verdict":"fail"`)
	}
	if got := strings.TrimSuffix(out, "\n"); got != strings.Join(shown, "\n") {
		t.Errorf("%s printed\n%s\nwant\n%s", cmdFailing, got, strings.Join(shown, "\n"))
	}
	if !slices.Contains(tutorialtest.Blocks(t, "text"), strings.Join(shown, "\n")) {
		t.Errorf("the tutorial does not show the output\n%s", strings.Join(shown, "\n"))
	}

	// The pipeline gate fails the step. Its pattern is where the answer
	// has the overall verdict: with fail in place of pass, it matches.
	gate := ports.Replace(cmdGate)
	out, err = runBash(ctx, bash, root, gate)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || out != "" {
		t.Errorf("%s: %v, output %q; want exit status 1 and no output", cmdGate, err, out)
	}
	failing := strings.Replace(gate, `"verdict":"pass"`, `"verdict":"fail"`, 1)
	if out, err := runBash(ctx, bash, root, failing); err != nil {
		t.Errorf("%s: %v %s; the gate's pattern does not find the overall verdict", failing, err, out)
	}
}

// runBash runs one command line with bash in dir.
func runBash(ctx context.Context, bash, dir, line string) (string, error) {
	cmd := exec.CommandContext(ctx, bash, "-c", line)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// verdicts returns each route's verdict in the /api/compare answer at
// url, or nil while the view does not answer.
func verdicts(ctx context.Context, client *http.Client, url string) map[string]string {
	var rep struct {
		Routes []struct {
			Route   string `json:"route"`
			Verdict string `json:"verdict"`
		} `json:"routes"`
	}
	if json.Unmarshal([]byte(get(ctx, client, url)), &rep) != nil {
		return nil
	}
	m := map[string]string{}
	for _, r := range rep.Routes {
		m[r.Route] = r.Verdict
	}
	return m
}

// get returns the body of a 200 answer to a GET of url, or "".
func get(ctx context.Context, client *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ""
	}
	resp, err := client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(body)
}
