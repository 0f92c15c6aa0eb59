package tutorialtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Blocks keeps a block's lines as they are; Commands trims the sh lines
// and leaves out empty ones.
func TestBlocksAndCommands(t *testing.T) {
	dir := t.TempDir()
	readme := "# T\n\n```sh\n  go run ./x\n\ncurl -s 'http://h'\n```\n\n```go\nfunc f() {\n\treturn\n}\n```\n\n```text\nnot code\n```\n\n```sh\ngo run ./x -smoke\n```\n"
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got := README(t); got != readme {
		t.Errorf("README = %q", got)
	}
	if got := Blocks(t, "go"); len(got) != 1 || got[0] != "func f() {\n\treturn\n}" {
		t.Errorf("go blocks %q", got)
	}
	want := []string{"go run ./x", "curl -s 'http://h'", "go run ./x -smoke"}
	if got := Commands(t); !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	if got := Blocks(t, "text"); strings.Join(got, "|") != "not code" {
		t.Errorf("text blocks %q", got)
	}
}
