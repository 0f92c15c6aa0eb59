package lambdatest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// Main runs a package's tests against a function binary, for TestMain:
// it sets *binary to a path in a new temporary directory and has build
// write the function there; only when that succeeds do the tests run, and
// they fail when they leave goroutines behind. It removes the directory and
// returns the exit code for os.Exit.
func Main(m *testing.M, binary *string, build func(path string) error) int {
	dir, err := os.MkdirTemp("", "sidelight-lambdatest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*binary = filepath.Join(dir, "bootstrap")
	if err := build(*binary); err != nil {
		fmt.Fprintln(os.Stderr, "building the function:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}
