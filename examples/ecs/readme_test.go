package ecs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/examples/ecs/internal/shellwords"
)

// command is one command line of a ```sh block of the tutorial.
type command struct {
	text     string
	line     int
	section  string
	needsAWS bool     // the paragraph before the block says so
	expect   []string // "# → " lines after it: its expected output
}

const testCommand = "go test ./examples/ecs/..."

// cdkCommands are run by the tests of the examples/ecs/cdk module (its own
// module, so that this one does not need Node.js): TestGoRun runs the app.
var cdkCommands = []string{"go -C examples/ecs/cdk test ./...", "go -C examples/ecs/cdk run ."}

func readTutorial(t *testing.T) []command {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		cmds      []command
		section   string
		inBlock   bool
		inText    bool
		paragraph strings.Builder // text since the last block or heading
		cont      string
		blockAWS  bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !inBlock && strings.HasPrefix(line, "#"):
			section = strings.TrimLeft(line, "# ")
			paragraph.Reset()
		case !inBlock && line == "```sh":
			inBlock = true
			blockAWS = strings.Contains(paragraph.String(), "needs an AWS\naccount") || strings.Contains(strings.ReplaceAll(paragraph.String(), "\n", " "), "needs an AWS account")
		case !inBlock && strings.HasPrefix(line, "```") && line != "```":
			t.Fatalf("README.md:%d: a %s block; write shell commands in ```sh blocks so they are tested", n, line)
		case !inBlock && line == "```":
			inText = !inText // a plain block (the diagram): no commands in it
		case inText:
			if f := strings.Fields(line); len(f) > 0 && slices.Contains([]string{"aws", "go", "curl", "docker", "npx", "sed", "kill", "export"}, f[0]) {
				t.Fatalf("README.md:%d: a command in a plain block; write it in a ```sh block so it is tested", n)
			}
		case !inBlock:
			paragraph.WriteString(line + "\n")
		case line == "```":
			inBlock = false
			paragraph.Reset()
			if cont != "" {
				t.Fatalf("README.md:%d: the block ends inside a continued line", n)
			}
		case strings.HasPrefix(line, "# → "):
			if len(cmds) == 0 {
				t.Fatalf("README.md:%d: expected output before any command", n)
			}
			cmds[len(cmds)-1].expect = append(cmds[len(cmds)-1].expect, strings.TrimPrefix(line, "# → "))
		case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
		case strings.HasSuffix(line, `\`):
			cont += strings.TrimSuffix(line, `\`) + " "
		default:
			cmds = append(cmds, command{text: cont + line, line: n, section: section, needsAWS: blockAWS})
			cont = ""
		}
	}
	if len(cmds) < 20 {
		t.Fatalf("only %d commands found in README.md", len(cmds))
	}
	return cmds
}

// TestTutorial runs or checks every command of README.md, in order.
func TestTutorial(t *testing.T) {
	cmds := readTutorial(t)
	local := &localShell{t: t}
	aws := newAWSChecker(t)
	sawTest := false
	for _, c := range cmds {
		where := fmt.Sprintf("README.md:%d (%s): %s", c.line, c.section, c.text)
		switch {
		case c.text == testCommand:
			sawTest = true // the command running this test
		case slices.Contains(cdkCommands, c.text):
			if _, err := os.Stat(filepath.Join(repoRoot(t), "examples/ecs/cdk/main_test.go")); err != nil {
				t.Errorf("%s\n    is the CDK module's to run, but it has no test: %v", where, err)
			}
		case c.needsAWS:
			if err := aws.check(c); err != nil {
				t.Errorf("%s\n    %v", where, err)
			}
		default:
			if strings.HasPrefix(c.text, "aws ") || strings.HasPrefix(c.text, "docker ") {
				t.Errorf("%s\n    needs an AWS account, but its block is not marked so", where)
				continue
			}
			if err := local.run(c); err != nil {
				t.Fatalf("%s\n    %v", where, err)
			}
		}
	}
	if !sawTest {
		t.Errorf("the tutorial does not show %q", testCommand)
	}
	if n := len(slices.DeleteFunc(local.jobs, func(p *process) bool { return p == nil })); n != 0 {
		t.Errorf("the tutorial leaves %d programs running", n)
	}
	aws.finish()
}

// localShell runs the commands that need no AWS account, as a user's
// shell would, except that the programs listen on free ports: the test
// rewrites localhost:8080 (the app) and localhost:2021 (the sidecar's
// status) in the commands to where they really listen.
type localShell struct {
	t          *testing.T
	jobs       []*process
	sidecarEnv map[string]string
	addrs      map[string]string // "localhost:8080" → real address
	xrayAddr   string
	emfAddr    string
	built      map[string]string // "./orders" → the package go build -o built it from
}

func (s *localShell) run(c command) error {
	t := s.t
	words, err := shellwords.Split(c.text, func(string) (string, bool) { return "", false })
	if err != nil {
		return err
	}
	background := len(words) > 0 && words[len(words)-1] == "&"
	if background {
		words = words[:len(words)-1]
	}
	switch {
	case len(words) == 4 && words[0] == "go" && words[1] == "build" && words[2] == "-o" && !background:
		return fmt.Errorf("go build -o needs a name and a package")
	case len(words) == 5 && words[0] == "go" && words[1] == "build" && words[2] == "-o" && !background:
		if s.built == nil {
			s.built = map[string]string{}
		}
		s.built["./"+words[3]] = words[4]
		return nil
	case len(words) >= 1 && s.built[words[0]] != "" && background:
		return s.goRun(s.built[words[0]], words[1:])
	case words[0] == "curl" && !background:
		for i, w := range words {
			for from, to := range s.addrs {
				words[i] = strings.Replace(w, from, to, 1)
				w = words[i]
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "curl", words[1:]...).Output()
		if err != nil {
			return fmt.Errorf("curl: %v (is curl installed?)", err)
		}
		got := strings.TrimRight(string(out), "\n")
		if c.expect != nil && got != strings.Join(c.expect, "\n") {
			return fmt.Errorf("output %q, the tutorial shows %q", got, strings.Join(c.expect, "\n"))
		}
		if strings.Contains(c.text, "/status") {
			var st struct {
				Counters map[string]float64 `json:"counters"`
			}
			if err := json.Unmarshal(out, &st); err != nil || st.Counters == nil {
				return fmt.Errorf("status is not the sidecar's counters: %v: %s", err, out)
			}
		}
		return nil
	case words[0] == "kill" && !background:
		// kill only signals; the tutorial's wait lines wait (and the
		// real-shell run in TestTutorialInAShell checks the order matters).
		for _, w := range words[1:] {
			var n int
			if _, err := fmt.Sscanf(w, "%%%d", &n); err != nil || n < 1 || n > len(s.jobs) || s.jobs[n-1] == nil {
				return fmt.Errorf("kill %s: no such job", w)
			}
		}
		return nil
	case words[0] == "wait" && !background:
		for _, w := range words[1:] {
			var n int
			if _, err := fmt.Sscanf(w, "%%%d", &n); err != nil || n < 1 || n > len(s.jobs) || s.jobs[n-1] == nil {
				return fmt.Errorf("wait %s: no such job", w)
			}
			if err := s.jobs[n-1].stop(t); err != nil {
				return fmt.Errorf("job %d exited with %v after SIGTERM:\n%s", n, err, s.jobs[n-1].log())
			}
			s.jobs[n-1] = nil
		}
		for len(s.jobs) > 0 && s.jobs[len(s.jobs)-1] == nil {
			s.jobs = s.jobs[:len(s.jobs)-1]
		}
		return nil
	}
	return fmt.Errorf("the test does not know how to run this command")
}

func (s *localShell) goRun(pkg string, args []string) error {
	t := s.t
	bin := goBuild(t, pkg)
	switch pkg {
	case "./sidecar":
		env := map[string]string{}
		for _, k := range []string{"XRAY_UDP_ADDR", "XRAY_TCP_ADDR", "EMF_TCP_ADDR", "EMF_UDP_ADDR", "STATUS_ADDR", "UI_ADDR", "OTLP_HTTP_ADDR", "OTLP_GRPC_ADDR"} {
			env["SIDELIGHT_"+k] = "127.0.0.1:0"
		}
		p := start(t, bin, envList(env), args...)
		info, _ := p.waitLine(t, "sidecar started")["info"].(map[string]any)
		s.xrayAddr, _ = info["addr_xray_udp"].(string)
		s.emfAddr, _ = info["addr_emf_tcp"].(string)
		status, _ := info["addr_status"].(string)
		if info["mode"] != "local" || s.xrayAddr == "" || s.emfAddr == "" || status == "" {
			return fmt.Errorf("sidecar did not start in local mode: %v", info)
		}
		s.addrs = map[string]string{"localhost:2021": status}
		s.jobs = append(s.jobs, p)
	case "./examples/ecs/app":
		if s.xrayAddr == "" {
			return fmt.Errorf("the app is started before the sidecar")
		}
		env := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "AWS_XRAY_DAEMON_ADDRESS": s.xrayAddr, "AWS_EMF_AGENT_ENDPOINT": "tcp://" + s.emfAddr}
		p := start(t, bin, envList(env), args...)
		addr, _ := p.waitLine(t, "orders listening")["addr"].(string)
		s.addrs["localhost:8080"] = addr
		s.jobs = append(s.jobs, p)
	default:
		return fmt.Errorf("go run %s: the test knows only ./sidecar and ./examples/ecs/app", pkg)
	}
	return nil
}
