package corscheck_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The browser test starts servers and a browser; none may outlive it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
