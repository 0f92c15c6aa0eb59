package localview

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// TestBrowserTraceLiveUpdates: a trace page open while its request is
// still sending shows the spans and log records that arrive later without
// a reload, keeping the selected span (log text stays text); it asks for
// nothing while the tab is hidden and catches up when it shows again; once
// the trace is complete and unchanged for a minute (by the store's clock)
// it stops asking, says so, and "check again" draws what came since.
func TestBrowserTraceLiveUpdates(t *testing.T) {
	ctx := browser(t)
	clk := &fixedClock{t: time.Now()}
	s := newStore(t, Config{Now: clk.Now})
	var g ids
	sc := newScenario(t, &g, clk.Now().Add(-time.Second))
	orders, cache, frontend := sc.docs[0], sc.docs[1], sc.docs[2]
	mustAdd(t, s, frontend)
	var polls atomic.Int64
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/version") {
			polls.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/trace/"+sc.traceID)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the frontend's waterfall", `document.querySelectorAll('#waterfall .wf-row').length === 3`)
	if eval[bool](t, ctx, `!!document.getElementById('trace-logs')`) {
		t.Fatal("a logs panel before any record")
	}
	// The user selects the DynamoDB call; a reload would forget it and the
	// page's marker.
	click(t, ctx, `#waterfall .wf-row[data-id="`+sc.ddbID+`"]`)
	eval[bool](t, ctx, `window.notReloaded = true`)

	// The orders service's segment and its error record arrive late.
	mustAdd(t, s, orders)
	hostile := `<img src=x onerror="document.body.dataset.pwned=1">order store unavailable`
	rec := logRec(t, sc.traceID, clk.Now(), 17, hostile, sc.ordersID)
	s.AddLogs([]otlplogs.Record{rec})
	poll(t, ctx, "the late span and record", `document.querySelector('#waterfall .wf-row[data-id="`+sc.ordersID+`"] .tag.log-count') !== null &&
		document.querySelectorAll('#trace-logs tr.log-row').length === 1`)
	if !eval[bool](t, ctx, `window.notReloaded === true`) {
		t.Error("the page was reloaded")
	}
	if st := eval[string](t, ctx, `document.getElementById('trace-live').dataset.state`); st != "live" {
		t.Errorf("live state %q", st)
	}
	if sel := eval[string](t, ctx, `document.querySelector('#waterfall .wf-row.selected').dataset.id`); sel != sc.ddbID {
		t.Errorf("selected %s after the update, want the DynamoDB call %s", sel, sc.ddbID)
	}
	if b := eval[string](t, ctx, `document.querySelector('#trace-logs .log-body').textContent`); b != hostile {
		t.Errorf("log body %q", b)
	}
	if eval[bool](t, ctx, `document.body.dataset.pwned === '1' || !!document.querySelector('#trace-logs img')`) {
		t.Error("a log body became markup")
	}

	// Hidden: no requests, and nothing drawn; shown again: at once.
	eval[bool](t, ctx, `(() => {
		Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
		Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
		document.dispatchEvent(new Event('visibilitychange'));
		return true })()`)
	// (A poll under way when the tab hid ends first.)
	poll(t, ctx, "the hidden state", `document.getElementById('trace-live').dataset.state === 'hidden' && !document.body.dataset.tracePolling`)
	before, ticks := polls.Load(), eval[int](t, ctx, `Number(document.body.dataset.liveTicks || 0)`)
	mustAdd(t, s, cache)
	poll(t, ctx, "a live tick while hidden", `Number(document.body.dataset.liveTicks || 0) >= `+fmt.Sprint(ticks+1))
	if n := polls.Load(); n != before {
		t.Errorf("%d version requests while hidden", n-before)
	}
	if eval[bool](t, ctx, `!!document.querySelector('#waterfall .wf-row[data-id="`+sc.cacheID+`"]')`) {
		t.Error("drawn while hidden")
	}
	eval[bool](t, ctx, `(() => {
		delete document.hidden; delete document.visibilityState;
		document.dispatchEvent(new Event('visibilitychange'));
		return true })()`)
	poll(t, ctx, "the span that came while hidden", `!!document.querySelector('#waterfall .wf-row[data-id="`+sc.cacheID+`"]') &&
		document.getElementById('trace-live').dataset.state === 'live'`)

	// Complete, and two minutes without a change: the page stops asking.
	clk.Add(2 * time.Minute)
	poll(t, ctx, "the stopped state", `document.getElementById('trace-live').dataset.state === 'stopped' && !document.body.dataset.tracePolling`)
	before, ticks = polls.Load(), eval[int](t, ctx, `Number(document.body.dataset.liveTicks || 0)`)
	late := logRec(t, sc.traceID, clk.Now(), 9, "very late", "")
	s.AddLogs([]otlplogs.Record{late})
	poll(t, ctx, "a live tick after stopping", `Number(document.body.dataset.liveTicks || 0) >= `+fmt.Sprint(ticks+1))
	if n := polls.Load(); n != before {
		t.Errorf("%d version requests after stopping", n-before)
	}
	click(t, ctx, "#trace-recheck")
	poll(t, ctx, "the record found by checking again", `document.querySelectorAll('#trace-logs tr.log-row').length === 2 &&
		document.getElementById('trace-live').dataset.state === 'live'`)
	if !eval[bool](t, ctx, `window.notReloaded === true`) {
		t.Error("the page was reloaded")
	}
}
