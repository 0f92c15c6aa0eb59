package schematest

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// A plain clone has nothing beside it: the reference data must be found
// from any working directory, with no shared folder anywhere above it and
// no environment variable pointing at one.
func TestReferenceNeedsNothingBesideTheCheckout(t *testing.T) {
	t.Setenv("SIDELIGHT_"+"SHARED", "") // the variable the old lookup read
	t.Chdir(t.TempDir())
	for _, name := range []string{
		"samples/xray-example-minimal-segment.json",
		"samples/emf-example-1.json",
		"samples/ecs-v4-task-fargate.json",
		"cloudformation/aws-ecs-taskdefinition.json",
	} {
		if _, err := ReadReference(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	doc, err := ReadReference("samples/xray-example-minimal-segment.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := Segment(doc); err != nil {
		t.Errorf("the segment schema does not load or accept AWS's minimal segment: %v", err)
	}
	if _, err := fs.Glob(CloudFormationSchemas(), "aws-*.json"); err != nil {
		t.Error(err)
	}
}

// Every file kept is named in its folder's SOURCES.md or in README.md, so
// its source and licence can be looked up.
func TestEveryReferenceFileHasItsSource(t *testing.T) {
	ref := Reference()
	readme, err := fs.ReadFile(ref, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = fs.WalkDir(ref, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := path.Base(p)
		if base == "README.md" || base == "SOURCES.md" {
			return nil
		}
		n++
		sources, _ := fs.ReadFile(ref, path.Join(path.Dir(p), "SOURCES.md"))
		if !bytes.Contains(sources, []byte(base)) && !bytes.Contains(readme, []byte(base)) {
			t.Errorf("%s is named neither in README.md nor in its folder's SOURCES.md", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Errorf("only %d reference files embedded", n)
	}
}

// No Go file reads a folder beside the checkout: the words below are
// spelled in two halves so that this file does not find itself.
func TestNoGoFileReadsBesideTheCheckout(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	banned := []string{"../" + "shared", `"shared", ` + `"reference"`, "SIDELIGHT_" + "SHARED"}
	self, _ := filepath.Abs("reference_test.go")
	checked := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != root || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || p == self {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		checked++
		for _, w := range banned {
			if bytes.Contains(b, []byte(w)) {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s mentions %q: tests must read only what the repository holds", rel, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Errorf("only %d Go files checked under %s", checked, root)
	}
}
