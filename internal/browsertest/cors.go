package browsertest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
)

// CORSPolicy is what Chromium's console message for a fetch blocked by
// CORS says between the request's URL and origin and the reason:
// "Access to fetch at 'URL' from origin 'O' has been blocked by CORS
// policy: REASON".
const CORSPolicy = "has been blocked by CORS policy: "

// FailedToLoad is the network error Chromium logs for a response it
// blocked.
const FailedToLoad = "Failed to load resource: net::ERR_FAILED"

// FetchFailed is the error fetch() rejects with when the browser blocks
// the response.
const FetchFailed = "TypeError: Failed to fetch"

// blockedFetch returns the URL of the fetch a CORS message is about.
func blockedFetch(text string) (string, bool) {
	const prefix = "Access to fetch at '"
	i := strings.Index(text, prefix)
	if i < 0 || !strings.Contains(text, CORSPolicy) {
		return "", false
	}
	u, _, _ := strings.Cut(text[i+len(prefix):], "'")
	return u, true
}

// blocked returns the last CORS message for each URL.
func (c *Console) blocked() map[string]string {
	out := map[string]string{}
	for _, e := range c.Entries() {
		if u, ok := blockedFetch(e.Text); ok {
			out[u] = e.Text
		}
	}
	return out
}

// loadFailed returns the URLs with a FailedToLoad network error.
func (c *Console) loadFailed() map[string]bool {
	out := map[string]bool{}
	for _, e := range c.Entries() {
		if e.Source == "network" && e.Text == FailedToLoad {
			out[e.URL] = true
		}
	}
	return out
}

// Blocked returns Chromium's CORS message for the fetch of url (the last
// one, if there are several), or "".
func (c *Console) Blocked(url string) string { return c.blocked()[url] }

// LoadFailed reports whether Chromium logged FailedToLoad for url.
func (c *Console) LoadFailed(url string) bool { return c.loadFailed()[url] }

// WaitBlocked waits until the console has CORS messages for n URLs: they
// may arrive after fetch() has rejected. When ctx ends first, it fails the
// test.
func (c *Console) WaitBlocked(ctx context.Context, t testing.TB, n int) {
	t.Helper()
	c.wait(ctx, t, func() bool { return len(c.blocked()) >= n }, func() string {
		return fmt.Sprintf("%d CORS console messages, want %d", len(c.blocked()), n)
	})
}

// WaitLoadFailed waits until the console has FailedToLoad for n URLs. When
// ctx ends first, it fails the test.
func (c *Console) WaitLoadFailed(ctx context.Context, t testing.TB, n int) {
	t.Helper()
	c.wait(ctx, t, func() bool { return len(c.loadFailed()) >= n }, func() string {
		return fmt.Sprintf("%d network errors %q, want %d", len(c.loadFailed()), FailedToLoad, n)
	})
}

// RunScenarios runs every corsscenarios scenario from the scenario page
// open in bctx, as its "Run all" button does, and waits until the console
// has Chromium's CORS message for each fetch it blocked. It returns the
// results in the order of corsscenarios.All, and how many were blocked.
func RunScenarios(bctx context.Context, t testing.TB, c *Console) (results []corsscenarios.Result, blocked int) {
	t.Helper()
	results, err := Eval[[]corsscenarios.Result](bctx, corsscenarios.RunScript)
	if err != nil {
		t.Fatal(err)
	}
	if all := corsscenarios.All(); len(results) != len(all) {
		t.Fatalf("%d results for %d scenarios", len(results), len(all))
	}
	for _, r := range results {
		if r.Blocked {
			blocked++
		}
	}
	c.WaitBlocked(bctx, t, blocked)
	return results, blocked
}

// CheckResult checks the browser's result r for scenario s: that it is
// s's, that Chromium blocked it exactly when s says it does, and that a
// blocked fetch failed as fetch() does for a CORS error. A result that is
// not s's, or a fetch that failed otherwise, ends the test.
func CheckResult(t testing.TB, s corsscenarios.Scenario, r corsscenarios.Result) {
	t.Helper()
	if r.ID != s.ID {
		t.Fatalf("result %q for scenario %q", r.ID, s.ID)
	}
	if chromiumBlocks := s.Blocked && !s.ChromiumAllows; r.Blocked != chromiumBlocks {
		t.Errorf("browser blocked=%v (%s), scenario expects %v", r.Blocked, r.Error, chromiumBlocks)
	}
	if r.Blocked && r.Error != FetchFailed {
		t.Fatalf("fetch failed, but not as a CORS error: %s", r.Error)
	}
}
