package localview

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// searchFixture is a store with healthy traffic around two failing
// requests: a CORS preflight the API answered 401 (the browser blocked
// the call), and a Lambda invocation that timed out on a cold start.
type searchFixture struct {
	srv                     *httptest.Server
	corsID, lambdaID, oldID string
	total                   int
}

const lambdaTimeout = "Task timed out after 3.00 seconds"

func newSearchFixture(t *testing.T) *searchFixture {
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	f := &searchFixture{}
	add := func(d []byte) { mustAdd(t, s, d); f.total++ }
	for i := range 20 {
		_, d := okTrace(t, &g, now.Add(time.Duration(i-30)*time.Second), []string{"api", "catalog"}[i%2], time.Duration(2+i)*time.Millisecond)
		add(d)
	}
	// A batch job that started 20 minutes ago.
	var d []byte
	f.oldID, d = okTrace(t, &g, now.Add(-20*time.Minute), "batch-job", 40*time.Second)
	add(d)
	// A CORS request that passed, and a preflight that did not.
	at := now.Add(-8 * time.Second)
	allowedID := g.traceID(at)
	add(doc(t, map[string]any{"name": "api", "id": g.id(), "trace_id": allowedID, "start_time": ts(at), "end_time": ts(at.Add(3 * time.Millisecond)),
		"http":        map[string]any{"request": map[string]any{"method": "OPTIONS", "url": "http://api.test/s3/fixed"}, "response": map[string]any{"status": 204}},
		"annotations": map[string]any{"cors_verdict": "allowed", "cors_preflight": true}}))
	at = now.Add(-6 * time.Second)
	f.corsID = g.traceID(at)
	add(doc(t, map[string]any{"name": "api", "id": g.id(), "trace_id": f.corsID, "start_time": ts(at), "end_time": ts(at.Add(4 * time.Millisecond)),
		"error": true,
		"http": map[string]any{"request": map[string]any{"method": "OPTIONS", "url": "http://api.test/s3/broken", "user_agent": "Mozilla/5.0 HeadlessChrome"},
			"response": map[string]any{"status": 401}},
		"annotations": map[string]any{"cors_verdict": "blocked", "cors_code": "preflight-status", "cors_preflight": true,
			"cors_reason": "the preflight was answered 401: authentication ran before CORS"}}))
	// A Lambda invocation that timed out.
	at = now.Add(-4 * time.Second)
	f.lambdaID = g.traceID(at)
	fnID := g.id()
	add(doc(t, map[string]any{"name": "checkout-fn", "id": fnID, "trace_id": f.lambdaID, "start_time": ts(at), "end_time": ts(at.Add(3 * time.Second)),
		"fault": true, "origin": "AWS::Lambda::Function",
		"annotations": map[string]any{"ColdStart": true, "Timeout": true},
		"cause":       map[string]any{"exceptions": []any{map[string]any{"id": g.id(), "type": "Sandbox.Timedout", "message": lambdaTimeout}}},
		"subsegments": []any{map[string]any{"name": "DynamoDB", "id": g.id(), "namespace": "aws", "start_time": ts(at.Add(time.Millisecond)),
			"end_time": ts(at.Add(2990 * time.Millisecond)), "fault": true, "aws": map[string]any{"operation": "Query", "table_name": "orders"}}},
	}))
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// search types text into the search box of a fresh list and presses
// Enter: the two actions a user takes.
func search(t *testing.T, ctx context.Context, base, text string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the list", `document.getElementById('f-q') !== null && document.querySelectorAll('#trace-list tr.trace-row').length > 0`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("f-q"), text+kb.Enter)); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserSearchFindsFailingTraces(t *testing.T) {
	ctx := browser(t)
	f := newSearchFixture(t)
	for _, c := range []struct {
		name, expr, id string
		rootCause      []string // what the trace view must show
	}{
		{"cors", `annotation.cors_code = "preflight-status" AND responsetime > 0`, f.corsID,
			[]string{"preflight-status", "blocked", "401", "OPTIONS", "authentication ran before CORS"}},
		{"lambda", `service("checkout-fn") AND fault AND annotation.ColdStart = true`, f.lambdaID,
			[]string{lambdaTimeout, "Sandbox.Timedout", "DynamoDB"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			search(t, ctx, f.srv.URL, c.expr)
			poll(t, ctx, "the one match", `document.querySelectorAll('#trace-list tr.trace-row').length === 1 && location.hash.includes('q=')`)
			if got := eval[string](t, ctx, `document.querySelector('#trace-list tr.trace-row').dataset.traceId`); got != c.id {
				t.Fatalf("row %s, want %s", got, c.id)
			}
			if got := eval[string](t, ctx, `document.getElementById('list-summary').textContent`); !strings.HasPrefix(got, fmt.Sprintf("1 of %d traces match", f.total)) {
				t.Errorf("summary %q", got)
			}
			if got := eval[string](t, ctx, `document.getElementById('f-q').value`); got != c.expr {
				t.Errorf("search box holds %q after the search", got)
			}
			screenshot(t, ctx, "localview-search-"+c.name+".png")
			click(t, ctx, `#trace-list tr.trace-row a.trace-link`)
			poll(t, ctx, "the trace", `document.getElementById('node-detail') !== null && document.getElementById('node-detail').textContent.length > 0`)
			page := eval[string](t, ctx, `document.querySelector('main').textContent`)
			for _, w := range c.rootCause {
				if !strings.Contains(page, w) {
					t.Errorf("trace view lacks %q", w)
				}
			}
		})
	}
}

func TestBrowserSearchTraceHeader(t *testing.T) {
	ctx := browser(t)
	f := newSearchFixture(t)
	w3c := strings.ReplaceAll(f.lambdaID[2:], "-", "")
	for _, header := range []string{
		"X-Amzn-Trace-Id: Root=" + f.corsID + ";Parent=53995c3f42cd8ad8;Sampled=1",
		"traceparent: 00-" + w3c + "-53995c3f42cd8ad8-01",
	} {
		search(t, ctx, f.srv.URL, header)
		want := f.corsID
		if strings.HasPrefix(header, "traceparent") {
			want = f.lambdaID
		}
		poll(t, ctx, "the trace of "+header, `location.hash === '#/trace/`+want+`' && document.querySelectorAll('#waterfall .wf-row').length > 0`)
		if got := eval[string](t, ctx, `document.querySelector('.trace-head .mono').textContent`); got != want {
			t.Errorf("%s: landed on %q, want %q", header, got, want)
		}
	}
}

func TestBrowserSearchErrors(t *testing.T) {
	ctx := browser(t)
	f := newSearchFixture(t)
	for _, c := range []struct{ expr, msg, caret string }{
		{`annotation.cors_code = "preflight-status" AND responsetime >`, "expected a number after '>', found the end at 60", strings.Repeat(" ", 60) + "^"},
		{`edge("api", "orders")`, `not supported in local mode: edge`, "^"},
	} {
		search(t, ctx, f.srv.URL, c.expr)
		poll(t, ctx, "the error under the box", `document.getElementById('q-error').textContent.length > 0`)
		msg := eval[string](t, ctx, `document.querySelector('#q-error span').textContent`)
		if !strings.Contains(msg, c.msg) {
			t.Errorf("%s: error %q, want %q", c.expr, msg, c.msg)
		}
		caret := eval[string](t, ctx, `document.querySelector('#q-error pre.caret').textContent`)
		if want := c.expr + "\n" + c.caret; caret != want {
			t.Errorf("%s: caret block %q, want %q", c.expr, caret, want)
		}
		// Never an empty result that looks like an answer.
		if n := eval[int](t, ctx, `document.querySelectorAll('#trace-list tr').length`); n != 0 {
			t.Errorf("%s: %d rows shown beside the error", c.expr, n)
		}
	}
	screenshot(t, ctx, "localview-search-error.png")
}

func TestBrowserSearchSortAndRange(t *testing.T) {
	ctx := browser(t)
	f := newSearchFixture(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the list", fmt.Sprintf(`document.querySelectorAll('#trace-list tr.trace-row').length === %d`, f.total))
	// The last 15 minutes, slowest first: the batch job is out, the Lambda timeout leads.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("f-range"), "15m"),
		chromedp.SetValue(chromedp.ID("f-sort"), "duration"),
		chromedp.Click(chromedp.ID("f-apply"))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the last 15 minutes, slowest first", fmt.Sprintf(`location.hash === '#/traces?since=15m&sort=duration' && document.querySelectorAll('#trace-list tr.trace-row').length === %d`, f.total-1))
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll('#trace-list tr.trace-row')].map(r => r.dataset.traceId)`)
	if rows[0] != f.lambdaID || slices.Contains(rows, f.oldID) {
		t.Errorf("rows %v: want %s first and not %s", rows, f.lambdaID, f.oldID)
	}
	// Fastest first, all time: the selectors keep what the address says.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("f-range"), ""),
		chromedp.SetValue(chromedp.ID("f-sort"), "duration:asc"),
		chromedp.Click(chromedp.ID("f-apply"))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "all time, fastest first", fmt.Sprintf(`location.hash === '#/traces?sort=duration&order=asc' && document.getElementById('f-sort').value === 'duration:asc' && document.querySelectorAll('#trace-list tr.trace-row').length === %d`, f.total))
	durs := eval[[]string](t, ctx, `[...document.querySelectorAll('#trace-list tr.trace-row')].map(r => r.dataset.traceId)`)
	if durs[len(durs)-1] != f.oldID {
		t.Errorf("the 40 s batch job is not last when fastest first: %v", durs)
	}
}
