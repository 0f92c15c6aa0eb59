package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

// The commands in the tutorial's sh blocks, each run by
// TestTutorialCommands. A command added to the tutorial must be added here.
const (
	cmdSidecar   = "go run ./sidecar -local"
	cmdRIE       = "GOBIN=$PWD/.cache/bin go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"
	cmdRIEEnv    = "export SIDELIGHT_LAMBDA_RIE=$PWD/.cache/bin/aws-lambda-rie"
	cmdExample   = "go run ./examples/lambda"
	cmdSmoke     = "go run ./examples/lambda -smoke"
	cmdColdStart = "curl -s 'http://127.0.0.1:2772/api/traces?annotation=cold_start%3Dtrue'"
	cmdTimeout   = "curl -s 'http://127.0.0.1:2772/api/traces?annotation=timeout%3Dtrue'"
	cmdPanic     = "curl -s -i -X POST http://127.0.0.1:3000/panic/broken"
	cmdError     = "curl -s -i http://127.0.0.1:3000/error/broken -H 'Origin: http://127.0.0.1:3001'"
	cmdBlocked   = "curl -s 'http://127.0.0.1:2772/api/traces?annotation=cors_verdict%3Dblocked'"
	cmdMetric    = "curl -s 'http://127.0.0.1:2772/api/metrics?namespace=SidelightExamples&metric=CORSBlocked'"
)

var tutorialCommands = []string{cmdSidecar, cmdRIE, cmdRIEEnv, cmdExample, cmdSmoke, cmdColdStart, cmdTimeout, cmdPanic, cmdError, cmdBlocked, cmdMetric}

// The example's default addresses, which the tutorial uses; the
// sidecar's are tutorialtest's.
const (
	tutorialAPI  = "http://127.0.0.1:3000"
	tutorialPage = "http://127.0.0.1:3001"
)

// repoRoot is the module's root, two levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestTutorialMentionsOnlyTestedCommands: the tutorial's commands are the
// ones TestTutorialCommands runs, and the addresses it uses are the
// defaults.
func TestTutorialMentionsOnlyTestedCommands(t *testing.T) {
	cmds := tutorialtest.Commands(t)
	for _, c := range cmds {
		if !slices.Contains(tutorialCommands, c) {
			t.Errorf("README.md runs %q, which no test runs: add it to tutorialCommands and TestTutorialCommands", c)
		}
	}
	for _, c := range tutorialCommands {
		if !slices.Contains(cmds, c) {
			t.Errorf("%q is tested but no longer in README.md", c)
		}
	}
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if "http://"+c.api != tutorialAPI || "http://"+c.page != tutorialPage || c.view != tutorialtest.SidecarView || c.xray != tutorialtest.SidecarDaemon || c.emf != tutorialtest.SidecarEMF {
		t.Errorf("the defaults are not the tutorial's addresses: %+v", c)
	}
}

// goRun runs one of the tutorial's go run commands from the repository's
// root, with flags that put it on free ports and on the test's sidecar.
func goRun(t *testing.T, command string, extra ...string) (*exec.Cmd, *lambdatest.Lines) {
	t.Helper()
	args := append(strings.Fields(command)[1:], extra...)
	cmd := exec.Command(tutorialtest.GoBin(), args...)
	cmd.Dir = repoRoot(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := lambdatest.NewLines()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// TestTutorialCommands runs the tutorial's commands as a new user would,
// in its order, against a real sidecar in local mode.
func TestTutorialCommands(t *testing.T) {
	rie := lambdatest.RIE(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sc := tutorialtest.StartSidecar(t, ctx) // cmdSidecar
	free := func() string {
		a, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	api, page, inv := free(), free(), free()
	flags := func(api, page, inv string) []string {
		return []string{"-addr", api, "-page", page, "-inventory", inv, "-rie", rie, "-xray", sc.UDP, "-emf", sc.EMF, "-view", sc.UI}
	}

	cmd, out := goRun(t, cmdExample, flags(api, page, inv)...)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", cmdExample, out)
		}
	})
	// go run compiles the example, which builds the function: slow on a
	// busy machine.
	out.WaitFor(t, 3*time.Minute, 0, "ready", func(s string) bool { return s == "ready" })
	replace := strings.NewReplacer(tutorialAPI, "http://"+api, tutorialPage, "http://"+page, tutorialtest.SidecarView, sc.UI)
	apiURL := "http://" + api

	// What the reader clicks before the commands that look for it.
	get := func(path string) string {
		resp, err := http.Get(apiURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return strings.TrimPrefix(resp.Header.Get("X-Amzn-Trace-Id"), "Root=")
	}
	coldTrace := get("/coldstart/broken")
	timeoutTrace := get("/timeout/broken")

	traces := func(command string) []string {
		status, _, body := tutorialtest.Curl(t, ctx, replace.Replace(command))
		var l struct {
			Traces []struct {
				ID string `json:"id"`
			} `json:"traces"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &l) != nil {
			t.Fatalf("%s: %d %s", command, status, body)
		}
		var ids []string
		for _, tr := range l.Traces {
			ids = append(ids, tr.ID)
		}
		return ids
	}
	tutorialtest.Poll(t, 30*time.Second, "the cold start in the view", func() bool { return slices.Contains(traces(cmdColdStart), coldTrace) })
	tutorialtest.Poll(t, 30*time.Second, "the timeout in the view", func() bool { return slices.Contains(traces(cmdTimeout), timeoutTrace) })

	beforePanic := out.Len()
	if status, h, body := tutorialtest.Curl(t, ctx, replace.Replace(cmdPanic)); status != 502 || !strings.Contains(body, "Internal server error") || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("%s: %d %v %s", cmdPanic, status, h, body)
	}
	// What the tutorial says the log shows for the panic: START, the
	// emulator's Runtime.ExitError, and no END or REPORT.
	panicStart := out.WaitFrom(t, beforePanic, "the panicking invocation's START line", func(l string) bool { return strings.HasPrefix(l, "[shop] START RequestId: ") })
	panicID := strings.Fields(strings.TrimPrefix(panicStart, "[shop] START RequestId: "))[0]
	out.WaitFrom(t, beforePanic, "the emulator's Runtime.ExitError", func(l string) bool { return strings.Contains(l, "Invoke DONE failed: Runtime.ExitError") })
	beforeError := out.Len()
	status, h, body := tutorialtest.Curl(t, ctx, replace.Replace(cmdError))
	if status != 502 || strings.TrimSpace(body) != `{"message":"Internal server error"}` || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("%s: %d %v %s", cmdError, status, h, body)
	}
	errorTrace := strings.TrimPrefix(h.Get("X-Amzn-Trace-Id"), "Root=")
	// A handler that returns an error gets its END and REPORT lines; by
	// the time the next invocation's REPORT is out, the panic's would be.
	out.WaitFrom(t, beforeError, "the failed invocation's END line", func(l string) bool { return strings.HasPrefix(l, "[shop] END RequestId: ") })
	out.WaitFrom(t, beforeError, "the failed invocation's REPORT line", func(l string) bool {
		return strings.HasPrefix(l, "[shop] REPORT RequestId: ") && strings.Contains(l, "XRAY TraceId: "+errorTrace)
	})
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "RequestId: "+panicID) && !strings.Contains(l, "START") {
			t.Errorf("the tutorial says a panicking invocation has no END or REPORT line, but: %s", l)
		}
	}
	tutorialtest.Poll(t, 30*time.Second, "the blocked request in the view", func() bool { return slices.Contains(traces(cmdBlocked), errorTrace) })
	tutorialtest.Poll(t, 30*time.Second, "the CORSBlocked metric of the blocked request", func() bool {
		status, _, body := tutorialtest.Curl(t, ctx, replace.Replace(cmdMetric))
		var m struct {
			Series []struct {
				Name   string `json:"name"`
				Points []struct {
					Sum      float64  `json:"sum"`
					TraceIDs []string `json:"trace_ids"`
				} `json:"points"`
			} `json:"series"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("%s: %d %s", cmdMetric, status, body)
		}
		for _, s := range m.Series {
			for _, p := range s.Points {
				if s.Name == "CORSBlocked" && p.Sum >= 1 && slices.Contains(p.TraceIDs, errorTrace) {
					return true
				}
			}
		}
		return false
	})

	// The smoke run, on addresses of its own.
	smokeCmd, smokeOut := goRun(t, cmdSmoke, flags(free(), free(), free())...)
	smokeDone := make(chan error, 1)
	go func() { smokeDone <- smokeCmd.Wait() }()
	select {
	case err := <-smokeDone:
		if err != nil || !strings.Contains(smokeOut.String(), "smoke: ok") {
			t.Errorf("%s: %v\n%s", cmdSmoke, err, smokeOut)
		}
	case <-ctx.Done():
		_ = syscall.Kill(-smokeCmd.Process.Pid, syscall.SIGKILL)
		<-smokeDone
		t.Fatalf("%s did not finish:\n%s", cmdSmoke, smokeOut)
	}

	// Ctrl-C stops the example and everything it started.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-exited:
		// go run's own exit status after an interrupt says nothing
		// about the program's: look for its last line.
		stopped = true
		if !strings.HasSuffix(strings.TrimSpace(out.String()), "stopped") {
			t.Errorf("%s did not stop cleanly on Ctrl-C", cmdExample)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop on Ctrl-C", cmdExample)
	}
}

// TestTutorialInstallsTheEmulator runs the tutorial's emulator commands as
// a reader at the root of a fresh clone would (here in an empty directory,
// so $PWD/.cache/bin is the test's own): they install the version
// scripts/test.sh pins, and SIDELIGHT_LAMBDA_RIE names the binary. The
// module comes from the local module cache (scripts/test.sh filled it with
// the same go install), so the test needs no network.
func TestTutorialInstallsTheEmulator(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RIE_VERSION=(\S+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/test.sh pins no RIE_VERSION")
	}
	const module = "github.com/aws/aws-lambda-runtime-interface-emulator"
	if !strings.HasSuffix(cmdRIE, " "+module+"/cmd/aws-lambda-rie@"+string(m[1])) {
		t.Fatalf("the tutorial installs %q; scripts/test.sh pins %s", cmdRIE, m[1])
	}
	modCache, err := exec.Command(tutorialtest.GoBin(), "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "-e", "-c", cmdRIE+"\n"+cmdRIEEnv+"\n"+`go version -m "$SIDELIGHT_LAMBDA_RIE"`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PWD="+dir,
		"PATH="+filepath.Dir(tutorialtest.GoBin())+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GOPROXY=file://"+filepath.Join(strings.TrimSpace(string(modCache)), "cache", "download"),
		"GOSUMDB=off", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tutorial's emulator commands failed: %v\n%s\n(the test reads the module from the local module cache, which scripts/test.sh fills with the same go install)", err, out)
	}
	if !strings.Contains(string(out), "mod\t"+module+"\t"+string(m[1])) {
		t.Fatalf("the installed binary is not %s@%s:\n%s", module, m[1], out)
	}
	if fi, err := os.Stat(filepath.Join(dir, ".cache", "bin", "aws-lambda-rie")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("no executable at .cache/bin/aws-lambda-rie: %v", err)
	}
}
