package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The commands in the tutorial's sh blocks, each run by
// TestTutorialCommands. A command added to the tutorial must be added here.
const (
	cmdSidecar   = "go run ./sidecar -local"
	cmdExample   = "go run ./examples/lambda"
	cmdSmoke     = "go run ./examples/lambda -smoke"
	cmdColdStart = "curl -s 'http://127.0.0.1:2772/api/traces?annotation=ColdStart%3Dtrue'"
	cmdTimeout   = "curl -s 'http://127.0.0.1:2772/api/traces?annotation=Timeout%3Dtrue'"
	cmdPanic     = "curl -s -i -X POST http://127.0.0.1:3000/panic/broken"
	cmdError     = "curl -s -i http://127.0.0.1:3000/error/broken -H 'Origin: http://127.0.0.1:3001'"
	cmdBlocked   = "curl -s 'http://127.0.0.1:2772/api/traces?annotation=cors_verdict%3Dblocked'"
	cmdMetric    = "curl -s 'http://127.0.0.1:2772/api/metrics?namespace=SidelightExamples&metric=CORSBlocked'"
)

var tutorialCommands = []string{cmdSidecar, cmdExample, cmdSmoke, cmdColdStart, cmdTimeout, cmdPanic, cmdError, cmdBlocked, cmdMetric}

// The default addresses the tutorial uses.
const (
	tutorialAPI    = "http://127.0.0.1:3000"
	tutorialPage   = "http://127.0.0.1:3001"
	tutorialView   = "http://127.0.0.1:2772"
	tutorialDaemon = "127.0.0.1:2000"
	tutorialEMF    = "tcp://127.0.0.1:25888"
)

func readTutorial(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// blocks returns the lines of the tutorial's fenced blocks of a language.
func blocks(t *testing.T, lang string) []string {
	t.Helper()
	var out []string
	in := false
	for _, line := range strings.Split(readTutorial(t), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```"+lang:
			in = true
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in && strings.TrimSpace(line) != "":
			out = append(out, strings.TrimSpace(line))
		}
	}
	if in {
		t.Fatal("unterminated block in README.md")
	}
	return out
}

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

func goBin() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// TestTutorialMentionsOnlyTestedCommands: the tutorial's commands are the
// ones TestTutorialCommands runs, and the addresses it uses are the
// defaults.
func TestTutorialMentionsOnlyTestedCommands(t *testing.T) {
	cmds := blocks(t, "sh")
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
	if "http://"+c.api != tutorialAPI || "http://"+c.page != tutorialPage || c.view != tutorialView || c.xray != tutorialDaemon || c.emf != tutorialEMF {
		t.Errorf("the defaults are not the tutorial's addresses: %+v", c)
	}
}

// tutorialSidecar is the sidecar, built from this module and run in local
// mode, on free ports.
type tutorialSidecar struct{ ui, udp, emf string }

func startSidecar(t *testing.T, ctx context.Context) *tutorialSidecar {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sidecar")
	build := exec.CommandContext(ctx, goBin(), "build", "-o", bin, "github.com/seed-c77c9410/sidelight/sidecar")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the sidecar: %v\n%s", err, out)
	}
	// The tutorial relies on the sidecar's default addresses.
	help, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput()
	for flag, def := range map[string]string{
		"xray-udp-addr": tutorialDaemon,
		"emf-tcp-addr":  strings.TrimPrefix(tutorialEMF, "tcp://"),
		"ui-addr":       strings.TrimPrefix(tutorialView, "http://"),
	} {
		re := regexp.MustCompile(`-` + flag + ` string\n.*\(default "` + regexp.QuoteMeta(def) + `"\)`)
		if !re.Match(help) {
			t.Errorf("sidecar -h does not give -%s the default %s:\n%s", flag, def, help)
		}
	}
	cmd := exec.Command(bin, "-local", "-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "off",
		"-emf-tcp-addr", "127.0.0.1:0", "-emf-udp-addr", "off", "-status-addr", "127.0.0.1:0", "-ui-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan map[string]any, 1)
	log := newLines()
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
			_, _ = log.Write(append(sc.Bytes(), '\n'))
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-drained
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sidecar log:\n%s", log)
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
	s := &tutorialSidecar{}
	s.ui, _ = info["addr_ui"].(string)
	s.udp, _ = info["addr_xray_udp"].(string)
	emfAddr, _ := info["addr_emf_tcp"].(string)
	if s.ui == "" || s.udp == "" || emfAddr == "" {
		t.Fatalf("sidecar addresses: %v", info)
	}
	s.ui = strings.TrimSuffix(s.ui, "/")
	if !strings.HasPrefix(s.ui, "http") {
		s.ui = "http://" + s.ui
	}
	s.emf = "tcp://" + emfAddr
	return s
}

// goRun runs one of the tutorial's go run commands from the repository's
// root, with flags that put it on free ports and on the test's sidecar.
func goRun(t *testing.T, command string, extra ...string) (*exec.Cmd, *lines) {
	t.Helper()
	args := append(strings.Fields(command)[1:], extra...)
	cmd := exec.Command(goBin(), args...)
	cmd.Dir = repoRoot(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := newLines()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// curl runs a curl command of the tutorial as an HTTP request, with the
// tutorial's addresses replaced by the test's.
func curl(t *testing.T, command string, replace *strings.Replacer) (int, http.Header, string) {
	t.Helper()
	words := shellSplit(command)
	method, url := http.MethodGet, ""
	hdr := http.Header{}
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "-s", "-i":
		case "-X":
			i++
			method = words[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(words[i], ":")
			hdr.Set(k, replace.Replace(strings.TrimSpace(v)))
		default:
			if strings.HasPrefix(w, "-") || url != "" {
				t.Fatalf("%q: curl option %q is not understood by the test", command, w)
			}
			url = replace.Replace(w)
		}
	}
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// shellSplit splits words as sh does for the tutorial's commands: spaces,
// and single quotes.
func shellSplit(s string) []string {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted = !quoted
			inWord = true
		case r == ' ' && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// poll asks f until it reports true, for at most 30 s.
func poll(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !f() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// TestTutorialCommands runs the tutorial's commands as a new user would,
// in its order, against a real sidecar in local mode.
func TestTutorialCommands(t *testing.T) {
	rie := rieBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sc := startSidecar(t, ctx) // cmdSidecar
	free := func() string {
		a, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	api, page, inv := free(), free(), free()
	flags := func(api, page, inv string) []string {
		return []string{"-addr", api, "-page", page, "-inventory", inv, "-rie", rie, "-xray", sc.udp, "-emf", sc.emf, "-view", sc.ui}
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
	out.waitFor(t, 3*time.Minute, 0, "ready", func(s string) bool { return s == "ready" })
	replace := strings.NewReplacer(tutorialAPI, "http://"+api, tutorialPage, "http://"+page, tutorialView, sc.ui)
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
		status, _, body := curl(t, command, replace)
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
	poll(t, "the cold start in the view", func() bool { return slices.Contains(traces(cmdColdStart), coldTrace) })
	poll(t, "the timeout in the view", func() bool { return slices.Contains(traces(cmdTimeout), timeoutTrace) })

	if status, h, body := curl(t, cmdPanic, replace); status != 502 || !strings.Contains(body, "Internal server error") || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("%s: %d %v %s", cmdPanic, status, h, body)
	}
	status, h, body := curl(t, cmdError, replace)
	if status != 502 || strings.TrimSpace(body) != `{"message":"Internal server error"}` || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("%s: %d %v %s", cmdError, status, h, body)
	}
	errorTrace := strings.TrimPrefix(h.Get("X-Amzn-Trace-Id"), "Root=")
	poll(t, "the blocked request in the view", func() bool { return slices.Contains(traces(cmdBlocked), errorTrace) })
	poll(t, "the CORSBlocked metric of the blocked request", func() bool {
		status, _, body := curl(t, cmdMetric, replace)
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
