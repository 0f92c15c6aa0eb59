package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEBuildCommands runs every `go build` command of README.md's
// command block as written, from the repository root as a reader types
// it, and checks that it builds a sidecar that runs. (`go build ./sidecar`
// without -o fails there: a directory named sidecar is in the way.)
func TestREADMEBuildCommands(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	inBlock := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		cmd, _, _ := strings.Cut(line, "#")
		if inBlock && strings.Contains(cmd, "go build") {
			cmds = append(cmds, strings.TrimSpace(cmd))
		}
	}
	if len(cmds) == 0 {
		t.Fatal("README.md shows no go build command")
	}
	for _, c := range cmds {
		fields := strings.Fields(c)
		out := ""
		for i, w := range fields {
			if w == "-o" && i+1 < len(fields) {
				out = fields[i+1]
			}
		}
		if out == "" {
			t.Errorf("%q: name the binary with -o (a directory named sidecar is in the way)", c)
			continue
		}
		bin := filepath.Join(root, out)
		if _, err := os.Stat(bin); err == nil {
			t.Fatalf("%s exists; the test will not overwrite it", bin)
		}
		sh := exec.Command("sh", "-c", c)
		sh.Dir = root
		if b, err := sh.CombinedOutput(); err != nil {
			t.Errorf("%q from the repository root: %v\n%s", c, err, b)
			continue
		}
		t.Cleanup(func() { os.Remove(bin) })
		if b, err := exec.Command(bin, "-h").CombinedOutput(); !strings.Contains(string(b), "-local") {
			t.Errorf("%s -h: %v\n%s", out, err, b)
		}
	}
}
