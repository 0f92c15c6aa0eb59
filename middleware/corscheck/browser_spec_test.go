package corscheck_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

// browserCase is one edge of the CORS rules, replayed in Chromium: what the
// page's fetch() does, and what the API answers to the preflight and to
// the request. In header values, $ORIGIN stands for the page's origin and
// $UPPER for it in upper case; a name prefixed with "raw:" is stored in the
// header map as it is, without canonicalisation.
type browserCase struct {
	name    string
	method  string
	headers map[string]string
	include bool

	preflightStatus int
	preflight       []string
	status          int
	actual          []string

	opts    []corscheck.Option
	blocked bool // what Chromium does, as a check on the case itself
}

var browserCases = []browserCase{
	{name: "allow-origin with trailing slash", method: "GET", status: 200, actual: kv("Access-Control-Allow-Origin", "$ORIGIN/"), blocked: true},
	{name: "allow-origin without scheme", method: "GET", status: 200, actual: kv("Access-Control-Allow-Origin", "127.0.0.1"), blocked: true},
	{name: "allow-origin null", method: "GET", status: 200, actual: kv("Access-Control-Allow-Origin", "null"), blocked: true},
	{name: "allow-origin empty", method: "GET", status: 200, actual: kv("Access-Control-Allow-Origin", ""), blocked: true},
	{name: "allow-origin upper case", method: "GET", status: 200, actual: kv("Access-Control-Allow-Origin", "$UPPER"), blocked: true},
	{name: "allow-origin wildcard twice", method: "GET", status: 200, actual: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Origin", "*"), blocked: true},
	{name: "allow-credentials True", method: "GET", include: true, status: 200, actual: kv("Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Credentials", "True"), blocked: true},
	{name: "allow-credentials true", method: "GET", include: true, status: 200, actual: kv("Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Credentials", "true")},
	{name: "redirect without CORS headers", method: "GET", status: 302, actual: kv("Location", "/elsewhere"), blocked: true},
	{name: "lower-case names stored in the map", method: "GET", include: true, status: 200, actual: kv("raw:access-control-allow-origin", "$ORIGIN", "raw:access-control-allow-credentials", "true")},
	{name: "404 with CORS headers", method: "GET", status: 404, actual: kv("Access-Control-Allow-Origin", "*")},

	{name: "method compared case-sensitively", method: "PATCH", preflightStatus: 204, preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "patch"), blocked: true},
	{name: "allow-methods unparsable", method: "PUT", preflightStatus: 204, preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET PUT"), blocked: true},
	{name: "allow-headers unparsable", method: "GET", headers: map[string]string{"X-A": "1"}, preflightStatus: 204, preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Headers", "x-a; x-b"), blocked: true},
	{name: "allow-methods with empty elements", method: "PUT", preflightStatus: 204, preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", " ,GET,, PUT ,"),
		status: 200, actual: kv("Access-Control-Allow-Origin", "*")},
	{name: "allow-methods over two lines", method: "DELETE", preflightStatus: 204, preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET", "Access-Control-Allow-Methods", "DELETE"),
		status: 200, actual: kv("Access-Control-Allow-Origin", "*")},
	{name: "allow-methods missing", method: "PUT", preflightStatus: 200, preflight: kv("Access-Control-Allow-Origin", "*"), blocked: true},
	{name: "preflight 302 without Location", method: "PUT", preflightStatus: 302, preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "PUT"), blocked: true},
	{name: "preflight 200 without allow-origin", method: "PUT", preflightStatus: 200, preflight: kv("Access-Control-Allow-Methods", "PUT"), blocked: true},
	{name: "preflight allow-origin twice", method: "PUT", preflightStatus: 204, preflight: kv("Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Methods", "PUT"), blocked: true},
	{name: "methods wildcard with credentials", method: "DELETE", include: true, preflightStatus: 204,
		preflight: kv("Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Methods", "*"), blocked: true},
	{name: "headers wildcard with credentials", method: "GET", headers: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, include: true, preflightStatus: 204,
		preflight: kv("Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Headers", "*"), blocked: true},
	{name: "headers wildcard without credentials", method: "GET", headers: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"},
		preflightStatus: 204, preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Headers", "*"), status: 200, actual: kv("Access-Control-Allow-Origin", "*")},
	{name: "preflight wildcard origin with credentials", method: "PUT", include: true, preflightStatus: 204,
		preflight: kv("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Methods", "PUT"), blocked: true},
	{name: "preflight without allow-credentials, include declared", method: "PUT", include: true, preflightStatus: 204,
		preflight: kv("Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Methods", "PUT"), opts: []corscheck.Option{corscheck.WithCredentials(corscheck.CredentialsInclude)}, blocked: true},
}

func kv(pairs ...string) []string { return pairs }

// outcome is what the page's fetch() gave.
type outcome struct {
	Blocked bool   `json:"blocked"`
	Error   string `json:"error"`
	Status  int    `json:"status"`
}

// replay serves browserCases from an API on one loopback origin and calls
// them with fetch() from a page on another, in headless Chromium.
type replay struct {
	cases               []browserCase
	pageOrigin, apiBase string
	verdicts            *verdictLog
	console             *browsertest.Console
	ctx, bctx           context.Context
}

func newReplay(t *testing.T, cases []browserCase) *replay {
	t.Helper()
	browsertest.Path(t) // skips, or fails under CI, without Chromium
	pageLn, pageOrigin := listen(t)
	apiLn, apiBase := listen(t)
	rp := &replay{cases: cases, pageOrigin: pageOrigin, apiBase: apiBase, verdicts: &verdictLog{byPath: map[string][]seen{}}}

	checkers := make([]*corscheck.Checker, len(cases))
	for i, bc := range cases {
		c, err := corscheck.New(bc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		checkers[i] = c
	}
	subst := strings.NewReplacer("$ORIGIN", pageOrigin, "$UPPER", strings.ToUpper(pageOrigin))
	mux := http.NewServeMux()
	mux.HandleFunc("/c/{i}", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.PathValue("i"))
		if err != nil || i < 0 || i >= len(cases) {
			http.NotFound(w, r)
			return
		}
		bc := cases[i]
		status, pairs := bc.status, bc.actual
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			status, pairs = bc.preflightStatus, bc.preflight
		}
		if status == 0 {
			status = http.StatusTeapot // the case did not expect this request
		}
		for j := 0; j+1 < len(pairs); j += 2 {
			if raw, ok := strings.CutPrefix(pairs[j], "raw:"); ok {
				// Stored as it is, uncanonicalised, as some handlers do.
				w.Header()[raw] = append(w.Header()[raw], subst.Replace(pairs[j+1]))
				continue
			}
			w.Header().Add(pairs[j], subst.Replace(pairs[j+1]))
		}
		w.WriteHeader(status)
		v, ok := checkers[i].Evaluate(r, status, w.Header())
		rp.verdicts.mu.Lock()
		rp.verdicts.byPath[r.URL.Path] = append(rp.verdicts.byPath[r.URL.Path], seen{r.Method, v, ok})
		rp.verdicts.mu.Unlock()
	})
	mux.HandleFunc("/nocors", func(w http.ResponseWriter, r *http.Request) {
		_, ok := corscheck.Evaluate(r, http.StatusOK, w.Header())
		rp.verdicts.mu.Lock()
		rp.verdicts.byPath["api"+r.URL.Path] = append(rp.verdicts.byPath["api"+r.URL.Path], seen{method: r.Method, ok: ok, verdict: corscheck.Verdict{Origin: r.Header.Get("Origin")}})
		rp.verdicts.mu.Unlock()
	})
	api := &httptest.Server{Listener: apiLn, Config: &http.Server{Handler: mux}}
	api.Start()
	t.Cleanup(api.Close)
	page := &httptest.Server{Listener: pageLn, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			// Same-origin requests from the page: never CORS-checked.
			_, ok := corscheck.Evaluate(r, http.StatusOK, w.Header())
			rp.verdicts.mu.Lock()
			rp.verdicts.byPath["page"+r.URL.Path] = append(rp.verdicts.byPath["page"+r.URL.Path], seen{method: r.Method, ok: ok, verdict: corscheck.Verdict{Origin: r.Header.Get("Origin")}})
			rp.verdicts.mu.Unlock()
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>corscheck spec</title><script>document.cookie = "sid=spec; path=/";</script>`)
	})}}
	page.Start()
	t.Cleanup(page.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	rp.ctx = ctx
	rp.bctx, rp.console = browsertest.Start(ctx, t)
	if err := chromedp.Do(rp.bctx, chromedp.Navigate(pageOrigin+"/")); err != nil {
		t.Fatal(err)
	}
	return rp
}

// run makes every case's fetch and waits for the console messages of the
// blocked ones.
func (rp *replay) run(t *testing.T) []outcome {
	t.Helper()
	results := make([]outcome, len(rp.cases))
	blocked := 0
	for i, bc := range rp.cases {
		init := map[string]any{"method": bc.method, "credentials": "same-origin"}
		if bc.headers != nil {
			init["headers"] = bc.headers
		}
		if bc.include {
			init["credentials"] = "include"
		}
		if bc.method == "PUT" || bc.method == "PATCH" {
			init["body"] = "{}"
		}
		url, _ := json.Marshal(fmt.Sprintf("%s/c/%d", rp.apiBase, i))
		initJSON, _ := json.Marshal(init)
		script := fmt.Sprintf(`(async () => { try { const r = await fetch(%s, %s); await r.text(); return {blocked: false, status: r.status}; } catch (e) { return {blocked: true, error: String(e)}; } })()`, url, initJSON)
		res, err := browsertest.Eval[outcome](rp.bctx, script)
		if err != nil {
			t.Fatalf("%s: %v", bc.name, err)
		}
		results[i] = res
		if res.Blocked {
			blocked++
		}
	}
	rp.console.WaitBlocked(rp.ctx, t, blocked)
	return results
}

// chromiumLenient reports whether v is the one verdict where Chromium
// departs from the standard: Authorization covered by
// "Access-Control-Allow-Headers: *" in a request without credentials.
func chromiumLenient(v *corscheck.Verdict) bool {
	return v != nil && v.Preflight && v.Code == corscheck.CodeHeaderNotAllowed &&
		strings.HasPrefix(v.Reason, "Request header field authorization ") && strings.Contains(v.Hint, "Chromium still allows it")
}

// check compares the server's verdicts on case i with what Chromium did.
// It returns whether Chromium's leniency on Authorization explained a
// difference.
func (rp *replay) check(t *testing.T, i int, res outcome) (lenient bool) {
	t.Helper()
	bc := rp.cases[i]
	path := fmt.Sprintf("/c/%d", i)
	if res.Blocked && res.Error != browsertest.FetchFailed {
		t.Fatalf("fetch failed, but not as a network error: %s", res.Error)
	}
	reqs := rp.verdicts.get(path)
	if len(reqs) == 0 {
		t.Fatal("no request reached the API")
	}
	var block *corscheck.Verdict
	for j, q := range reqs {
		if !q.ok {
			t.Fatalf("%s: no verdict", q.method)
		}
		v := q.verdict
		t.Logf("%s preflight=%v: %s %s %q", q.method, v.Preflight, v.Outcome, v.Code, v.Reason)
		if block != nil || !(v.Outcome == corscheck.Blocked || v.Outcome == corscheck.DependsOnCredentials && bc.include) {
			continue
		}
		if chromiumLenient(&reqs[j].verdict) && (j+1 < len(reqs) || !res.Blocked) {
			// Chromium let the preflight pass (it went on to the request,
			// or the fetch succeeded); the standard would have stopped here.
			lenient = true
			continue
		}
		block = &reqs[j].verdict
	}
	if (block != nil) != res.Blocked {
		t.Fatalf("server verdict blocked=%v, Chromium blocked=%v", block != nil, res.Blocked)
	}
	if block != nil {
		msg := rp.console.Blocked(rp.apiBase + path)
		if !strings.Contains(msg, browsertest.CORSPolicy+block.Reason) {
			t.Errorf("console says\n  %s\nserver reason\n  %s", msg, block.Reason)
		}
	}
	return lenient
}

// TestBrowserSpec replays browserCases in headless Chromium and checks that
// corscheck's verdict on each request matches the browser's decision and
// its console message.
func TestBrowserSpec(t *testing.T) {
	rp := newReplay(t, browserCases)
	results := rp.run(t)
	for i, bc := range browserCases {
		res := results[i]
		t.Run(bc.name, func(t *testing.T) {
			if res.Blocked != bc.blocked {
				t.Errorf("Chromium blocked=%v (%s status %d), the case expects %v", res.Blocked, res.Error, res.Status, bc.blocked)
			}
			if rp.check(t, i, res) {
				t.Error("Chromium's Authorization leniency in a case not meant for it")
			}
		})
	}

	// Requests the browser does not CORS-check get no verdict.
	notCORS := fmt.Sprintf(`(async () => {
		await fetch("/same", {method: "POST", body: "x"});
		await fetch(%q, {mode: "no-cors"});
		await fetch(%q, {mode: "no-cors", method: "POST", body: "x"});
		return true;
	})()`, rp.apiBase+"/nocors", rp.apiBase+"/nocors")
	if _, err := browsertest.Eval[bool](rp.bctx, notCORS); err != nil {
		t.Fatal(err)
	}
	t.Run("not CORS", func(t *testing.T) {
		same := rp.verdicts.get("page/same")
		if len(same) != 1 || same[0].verdict.Origin != rp.pageOrigin || same[0].ok {
			t.Errorf("same-origin POST (Chromium sends Origin %q): %+v", rp.pageOrigin, same)
		}
		nocors := rp.verdicts.get("api/nocors")
		if len(nocors) != 2 || nocors[0].ok || nocors[1].ok || nocors[1].method != "POST" || nocors[1].verdict.Origin != rp.pageOrigin {
			t.Errorf("no-cors requests: %+v", nocors)
		}
	})
}
