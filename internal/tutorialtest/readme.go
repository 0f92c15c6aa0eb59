package tutorialtest

import (
	"os"
	"strings"
	"testing"
)

// README returns the tutorial: README.md in the directory the test runs
// in, its package's.
func README(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Blocks returns the text of each of the tutorial's fenced blocks of a
// language (```go, ```sh, …), its lines as they are.
func Blocks(t testing.TB, lang string) []string {
	t.Helper()
	var blocks, cur []string
	in := false
	for _, line := range strings.Split(README(t), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```"+lang:
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	if in {
		t.Fatalf("unterminated %s block in README.md", lang)
	}
	return blocks
}

// Commands returns the commands of the tutorial's ```sh blocks, one per
// line, in order.
func Commands(t testing.TB) []string {
	t.Helper()
	var cmds []string
	for _, b := range Blocks(t, "sh") {
		for _, line := range strings.Split(b, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}
