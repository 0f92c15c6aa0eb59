package lambdatest_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
)

// functionBinary is the test function, built once for all tests.
var functionBinary string

func TestMain(m *testing.M) {
	os.Exit(lambdatest.Main(m, &functionBinary, func(path string) error {
		build := exec.Command("go", "build", "-o", path, "./testfunction")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		return build.Run()
	}))
}
