// Package browsertest finds and starts the headless Chromium that
// Sidelight's browser tests drive with chromedp, keeps what Chromium says
// in its console (CORS messages and network errors above all), and runs
// the corsscenarios page in it. It is used only by tests.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path returns the browser to drive: $SIDELIGHT_CHROMIUM, else chromium on
// the PATH (Debian's package installs /usr/bin/chromium). Without one the
// test skips, except when CI is set: there it fails, so that a browser test
// never passes by not running.
func Path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SIDELIGHT_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium: set SIDELIGHT_CHROMIUM (CI is set, so browser tests may not skip)")
	}
	t.Skip("no Chromium: set SIDELIGHT_CHROMIUM to run the browser tests")
	return ""
}

// Options returns the allocator options every browser test uses: the
// browser from Path, headless without a sandbox or GPU (tests run as root
// in containers), none of Chromium's background connections (the network
// here reaches nothing but loopback), and a fresh profile; extra options
// follow and may override them.
func Options(t testing.TB, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A headless page counts as hidden to some schedulers; without
		// these, requestAnimationFrame and page timers can be throttled or
		// stopped on a loaded machine and a test waits for nothing.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	return append(opts, extra...)
}

// Poll evaluates expr in the page every 100 ms until it is truthy and
// returns its value, or fails after timeout. It polls on a timer rather
// than chromedp's default requestAnimationFrame, which a throttled
// headless page may never run; it bounds the call with a context too, so a
// stuck page costs timeout and a few seconds, never the whole test's
// budget; and it starts again when the page's JavaScript context was
// replaced under it (a navigation that chromedp had not yet seen finish).
func Poll[T any](ctx context.Context, expr string, timeout time.Duration) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, chromedp.Poll[T](expr,
			chromedp.WithPollingInterval(100*time.Millisecond),
			chromedp.WithPollingTimeout(timeout)))
		if err == nil || !staleContext(err) || ctx.Err() != nil {
			return v, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Eval evaluates expr in the page, awaiting a promise it returns, and
// starts again (for up to 10 s) when the page's JavaScript context was
// replaced under it, as Poll does.
func Eval[T any](ctx context.Context, expr string) (T, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
		if err == nil || !staleContext(err) || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// staleContext reports whether err says the execution context a call
// named was already gone, so the call never ran: the DevTools protocol's
// answer when a document was replaced between chromedp choosing the
// context and the call arriving. Retrying such a call cannot repeat a side
// effect.
func staleContext(err error) bool {
	return strings.Contains(err.Error(), "Cannot find context with specified id")
}
