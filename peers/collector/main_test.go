package collector

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the collectors the tests start stop every goroutine
// they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
