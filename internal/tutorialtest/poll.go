package tutorialtest

import (
	"testing"
	"time"
)

// Poll calls done every 100 ms until it reports true, and fails the test
// after timeout; what names what it waits for.
func Poll(t testing.TB, timeout time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
