package lambdatest

import (
	"testing"
	"time"
)

// A process that ends on SIGTERM is stopped without waiting out the grace
// period, and its output is kept.
func TestProcessStop(t *testing.T) {
	p := StartProcess(t, []string{"LAMBDATEST_WORD=ready"}, "sh", "-c", `echo "$LAMBDATEST_WORD"; echo oops >&2; exec sleep 60`)
	p.Stdout.Wait(t, "ready", func(s string) bool { return s == "ready" })
	p.Stderr.Wait(t, "oops", func(s string) bool { return s == "oops" })
	start := time.Now()
	p.Stop(t)
	if d := time.Since(start); d >= 5*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if p.err == nil {
		t.Error("the process ended by a signal reported success")
	}
	p.Stop(t) // again, from the cleanup too: nothing more to do
}
