// Package browsertest finds and starts the headless Chromium that
// Sidelight's browser tests drive with chromedp. It is used only by tests.
package browsertest

import (
	"os"
	"os/exec"
	"testing"

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
		chromedp.UserDataDir(t.TempDir()),
	}
	return append(opts, extra...)
}
