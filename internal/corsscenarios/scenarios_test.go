package corsscenarios_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	page  = "http://page.test"
	other = "http://other.test"
)

func start(t *testing.T) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(corsscenarios.NewServer(page, other))
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return srv, c
}

func do(t *testing.T, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

// needsPreflight says whether a browser preflights the scenario's fetch.
func needsPreflight(s corsscenarios.Scenario) (bool, string) {
	var names []string
	for k, v := range s.Headers {
		if strings.EqualFold(k, "Content-Type") && (v == "text/plain" || v == "application/x-www-form-urlencoded" || v == "multipart/form-data") {
			continue
		}
		names = append(names, strings.ToLower(k))
	}
	slices.Sort(names)
	return len(names) > 0 || (s.Method != "GET" && s.Method != "HEAD" && s.Method != "POST"), strings.Join(names, ",")
}

// TestServerFollowsScenarios makes each scenario's requests the way a
// browser would (preflight first when needed) and checks that corscheck's
// verdicts come out as the scenario says. The browser test in corscheck
// checks the same against real Chromium.
func TestServerFollowsScenarios(t *testing.T) {
	srv, c := start(t)
	if err := corsscenarios.Prime(context.Background(), c, srv.URL, other); err != nil {
		t.Fatal(err)
	}
	checker, err := corscheck.New(corscheck.WithNeededResponseHeaders(corsscenarios.NeededHeader))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, s := range corsscenarios.All() {
		seen[s.Number] = true
		t.Run(s.ID, func(t *testing.T) {
			if s.Path != "/"+s.ID {
				t.Fatalf("path %q", s.Path)
			}
			blocked := func(v corscheck.Verdict) bool {
				return v.Outcome == corscheck.Blocked || v.Outcome == corscheck.DependsOnCredentials && s.Credentials == "include"
			}
			if pre, names := needsPreflight(s); pre {
				req := httptest.NewRequest(http.MethodOptions, srv.URL+s.Path, nil)
				req.RequestURI = ""
				req.Header.Set("Origin", page)
				req.Header.Set("Access-Control-Request-Method", s.Method)
				if names != "" {
					req.Header.Set("Access-Control-Request-Headers", names)
				}
				resp := do(t, c, req)
				v, ok := checker.Evaluate(req, resp.StatusCode, resp.Header)
				if !ok || !v.Preflight {
					t.Fatalf("preflight not evaluated: %+v", v)
				}
				if blocked(v) {
					if !s.Blocked {
						t.Fatalf("preflight blocked (%s), scenario expects success", v.Reason)
					}
					return
				}
			}
			req := httptest.NewRequest(s.Method, srv.URL+s.Path, strings.NewReader("{}"))
			req.RequestURI = ""
			req.Header.Set("Origin", page)
			for k, v := range s.Headers {
				req.Header.Set(k, v)
			}
			if s.Credentials == "include" {
				req.Header.Set("Cookie", "sid=demo")
			}
			resp := do(t, c, req)
			v, ok := checker.Evaluate(req, resp.StatusCode, resp.Header)
			if !ok {
				t.Fatal("not evaluated")
			}
			if blocked(v) != s.Blocked {
				t.Fatalf("blocked=%v (%s %s), scenario expects %v", blocked(v), v.Code, v.Reason, s.Blocked)
			}
			if s.ReadHeader != "" {
				if resp.Header.Get(s.ReadHeader) == "" {
					t.Fatalf("no %s in the response", s.ReadHeader)
				}
				if v.Warnings.Has(corscheck.WarnHeaderNotExposed) != s.Unreadable {
					t.Fatalf("warnings %q, scenario expects unreadable=%v", v.Warnings, s.Unreadable)
				}
			}
		})
	}
	for n := 1; n <= 9; n++ {
		if !seen[n] {
			t.Errorf("no scenario %d", n)
		}
	}
}

func TestCacheVariesOnOrigin(t *testing.T) {
	srv, c := start(t)
	get := func(path, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Origin", origin)
		return do(t, c, req)
	}
	// Broken: the second origin gets the first one's answer.
	if r := get("/s7/broken", other); r.Header.Get("X-Cache") != "Miss" {
		t.Fatalf("first request: X-Cache %q", r.Header.Get("X-Cache"))
	}
	r := get("/s7/broken", page)
	if r.Header.Get("X-Cache") != "Hit" || r.Header.Get("Access-Control-Allow-Origin") != other {
		t.Fatalf("broken: X-Cache %q, ACAO %q", r.Header.Get("X-Cache"), r.Header.Get("Access-Control-Allow-Origin"))
	}
	// Fixed: each origin has its own entry.
	get("/s7/fixed", other)
	r = get("/s7/fixed", page)
	if r.Header.Get("X-Cache") != "Miss" || r.Header.Get("Access-Control-Allow-Origin") != page {
		t.Fatalf("fixed: X-Cache %q, ACAO %q", r.Header.Get("X-Cache"), r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r = get("/s7/fixed", page); r.Header.Get("X-Cache") != "Hit" || r.Header.Get("Access-Control-Allow-Origin") != page {
		t.Fatalf("fixed, again: X-Cache %q, ACAO %q", r.Header.Get("X-Cache"), r.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestPage(t *testing.T) {
	srv := httptest.NewServer(corsscenarios.Page("http://api.test:8080"))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("content type %q", ct)
	}
	html := string(body)
	if !strings.Contains(html, `"http://api.test:8080"`) || !strings.Contains(html, "async function sidelightRun()") {
		t.Errorf("page lacks the API base or the runner:\n%s", html)
	}
	for _, s := range corsscenarios.All() {
		if !strings.Contains(html, `"id":"`+s.ID+`"`) {
			t.Errorf("page lacks scenario %s", s.ID)
		}
	}
}

func TestPrimeReportsFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	err := corsscenarios.Prime(context.Background(), srv.Client(), srv.URL, other)
	if err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("err = %v", err)
	}
}

// Preflight agrees with the test's own reading of the Fetch standard.
func TestPreflight(t *testing.T) {
	for _, s := range corsscenarios.All() {
		want, names := needsPreflight(s)
		got, gotNames := s.Preflight()
		if got != want || strings.Join(gotNames, ",") != names {
			t.Errorf("%s: Preflight() = %v %q, want %v %q", s.ID, got, gotNames, want, names)
		}
	}
	plain := corsscenarios.Scenario{Method: "POST", Headers: map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Accept": "*/*"}}
	if pre, names := plain.Preflight(); pre || len(names) != 0 {
		t.Errorf("a POST with safelisted headers: Preflight() = %v %q", pre, names)
	}
}

// With an upstream, the gateway routes call it: a failing upstream gives
// the 502 (with or without CORS headers), a healthy one is passed on.
func TestGatewayUpstream(t *testing.T) {
	var calls []string
	var mu sync.Mutex
	healthy := true
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.URL.Path)
		ok := healthy
		mu.Unlock()
		if !ok {
			panic(http.ErrAbortHandler) // the connection drops, no answer
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"orders":[]}`)
	}))
	defer up.Close()
	srv := httptest.NewServer(corsscenarios.New(corsscenarios.Config{AllowedOrigins: []string{page}, Upstream: up.Client(), UpstreamURL: up.URL + "/"}))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Origin", page)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp, string(b)
	}
	for _, c := range []struct {
		healthy bool
		path    string
		status  int
		acao    string
		body    string
	}{
		{true, "/s2/fixed-502", 200, page, `{"orders":[]}`},
		{true, "/s2/broken-502", 200, "", `{"orders":[]}`},
		{false, "/s2/fixed-502", 502, page, "Internal server error"},
		{false, "/s2/broken-502", 502, "", "Internal server error"},
	} {
		mu.Lock()
		healthy = c.healthy
		mu.Unlock()
		resp, body := get(c.path)
		if resp.StatusCode != c.status || resp.Header.Get("Access-Control-Allow-Origin") != c.acao || !strings.Contains(body, c.body) {
			t.Errorf("%s, upstream healthy=%v: status %d, ACAO %q, body %q", c.path, c.healthy, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) < 4 || calls[0] != "/s2/fixed-502" {
		t.Errorf("upstream calls %q", calls)
	}
}

// The cache stores a bounded number of URLs: query strings cannot grow it
// without limit.
func TestCacheBounded(t *testing.T) {
	srv, c := start(t)
	for i := range 100 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/s7/fixed?n="+strconv.Itoa(i), nil)
		req.Header.Set("Origin", page)
		do(t, c, req)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/s7/fixed?n=99", nil)
	req.Header.Set("Origin", page)
	if r := do(t, c, req); r.Header.Get("X-Cache") != "Miss" {
		t.Errorf("the 100th URL was cached (X-Cache %q)", r.Header.Get("X-Cache"))
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/s7/fixed?n=0", nil)
	req.Header.Set("Origin", page)
	if r := do(t, c, req); r.Header.Get("X-Cache") != "Hit" {
		t.Errorf("the first URL was not cached (X-Cache %q)", r.Header.Get("X-Cache"))
	}
}

func TestNewPageLinksTraceView(t *testing.T) {
	srv := httptest.NewServer(corsscenarios.NewPage(corsscenarios.PageConfig{API: "http://api.test:8080", TraceView: "http://127.0.0.1:2772/"}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	html := string(body)
	if !strings.Contains(html, `href="http://127.0.0.1:2772/#/traces?annotation=cors_verdict%3Dblocked"`) {
		t.Errorf("no link to the trace view's blocked requests:\n%s", html)
	}
	for _, s := range corsscenarios.All() {
		if !strings.Contains(html, `"id":"`+s.ID+`"`) {
			t.Errorf("page lacks scenario %s", s.ID)
		}
	}
	if strings.Contains(string(must(t, corsscenarios.Page("http://api.test"))), "trace-view") {
		t.Error("Page without a trace view links to one")
	}
}

func must(t *testing.T, h http.Handler) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return rec.Body.Bytes()
}
