package lambdatest

import (
	"testing"

	"go.uber.org/goleak"
)

// Processes and their readers must all be gone.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
