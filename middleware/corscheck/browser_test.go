package corscheck_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

// seen is one request that reached the API, with the server's verdict.
type seen struct {
	method  string
	verdict corscheck.Verdict
	ok      bool
}

// verdictLog records the server-side verdict of every request, by path.
type verdictLog struct {
	mu     sync.Mutex
	byPath map[string][]seen
}

func (l *verdictLog) get(path string) []seen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]seen(nil), l.byPath[path]...)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// record wraps the API: after each request it asks corscheck what the
// browser will decide.
func (l *verdictLog) record(c *corscheck.Checker, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK // the handler wrote nothing
		}
		v, ok := c.Evaluate(r, sw.status, w.Header())
		l.mu.Lock()
		l.byPath[r.URL.Path] = append(l.byPath[r.URL.Path], seen{r.Method, v, ok})
		l.mu.Unlock()
	})
}

func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// TestBrowserAgrees loads a page from one loopback origin that calls every
// scenario on an API at another, in headless Chromium, and checks that the
// verdict corscheck gave on the server matches what the browser did and
// said in its console.
func TestBrowserAgrees(t *testing.T) {
	browsertest.Path(t) // skips, or fails under CI, without Chromium
	pageLn, pageOrigin := listen(t)
	apiLn, apiBase := listen(t)
	_, otherOrigin := "", "http://127.0.0.1:1" // a second allowed origin, for scenario 7

	checker, err := corscheck.New(corscheck.WithNeededResponseHeaders(corsscenarios.NeededHeader))
	if err != nil {
		t.Fatal(err)
	}
	verdicts := &verdictLog{byPath: map[string][]seen{}}
	api := &httptest.Server{Listener: apiLn, Config: &http.Server{Handler: verdicts.record(checker, corsscenarios.NewServer(pageOrigin, otherOrigin))}}
	api.Start()
	defer api.Close()
	pageSrv := &httptest.Server{Listener: pageLn, Config: &http.Server{Handler: corsscenarios.Page(apiBase)}}
	pageSrv.Start()
	defer pageSrv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := corsscenarios.Prime(ctx, api.Client(), apiBase, otherOrigin); err != nil {
		t.Fatal(err)
	}

	bctx, console := browsertest.Start(ctx, t)
	if err := chromedp.Do(bctx, chromedp.Navigate(pageOrigin+"/")); err != nil {
		t.Fatal(err)
	}
	results, _ := browsertest.RunScenarios(bctx, t, console)

	for i, s := range corsscenarios.All() {
		r := results[i]
		t.Run(s.ID, func(t *testing.T) {
			// The scenario server does what the scenario says.
			browsertest.CheckResult(t, s, r)
			if s.ReadHeader != "" && !r.Blocked && (r.Header == nil) != s.Unreadable {
				t.Errorf("page read %s = %v, scenario expects unreadable=%v", s.ReadHeader, r.Header, s.Unreadable)
			}
			// corscheck agrees with the browser.
			reqs := verdicts.get(s.Path)
			if len(reqs) == 0 {
				t.Fatal("no request reached the API")
			}
			var block *corscheck.Verdict
			for _, q := range reqs {
				if !q.ok {
					t.Fatalf("%s %s: no verdict for a cross-origin request", q.method, s.Path)
				}
				v := q.verdict
				t.Logf("%s preflight=%v: %s %s %q hint=%q warnings=%s", q.method, v.Preflight, v.Outcome, v.Code, v.Reason, v.Hint, v.Warnings)
				if v.Outcome == corscheck.Blocked || v.Outcome == corscheck.DependsOnCredentials && s.Credentials == "include" {
					if block == nil {
						block = &q.verdict
					}
				}
			}
			if s.ChromiumAllows {
				// The verdict follows the standard and says Chromium differs.
				if block == nil || !block.Preflight || block.Code != corscheck.CodeHeaderNotAllowed || !strings.Contains(block.Hint, "Chromium still allows it") {
					t.Fatalf("want a standard verdict that notes Chromium's leniency, got %+v", block)
				}
				if r.Blocked {
					t.Fatalf("Chromium blocked (%s): it now follows the standard; drop ChromiumAllows", r.Error)
				}
				return
			}
			if (block != nil) != r.Blocked {
				t.Fatalf("server verdict blocked=%v, browser blocked=%v (%s)", block != nil, r.Blocked, r.Error)
			}
			if block != nil {
				msg := console.Blocked(apiBase + s.Path)
				if msg == "" {
					t.Fatalf("no console message for %s", apiBase+s.Path)
				}
				if !strings.Contains(msg, browsertest.CORSPolicy+block.Reason) {
					t.Errorf("console says\n  %s\nserver reason\n  %s", msg, block.Reason)
				}
			}
			if s.ReadHeader != "" && !r.Blocked {
				last := reqs[len(reqs)-1].verdict
				if last.Warnings.Has(corscheck.WarnHeaderNotExposed) != (r.Header == nil) {
					t.Errorf("warnings %q, page read %s = %v", last.Warnings, s.ReadHeader, r.Header)
				}
			}
		})
	}
}
