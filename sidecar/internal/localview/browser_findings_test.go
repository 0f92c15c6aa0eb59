package localview

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserTraceFindings: the trace page says at the top what the
// middleware's annotations on any of its nodes tell about the cause,
// without a click, even when the node selected first (the first with an
// exception) is another one: a CORS verdict on a gateway's 502 whose
// backend call failed, a Lambda cold start with the time the
// initialisation took, a timeout, and a call that outlived its
// invocation. A trace whose verdict is allowed has no findings.
func TestBrowserTraceFindings(t *testing.T) {
	ctx := browser(t)
	s := newStore(t, Config{})
	var g ids
	now := time.Now()

	// A gateway answered 502 without CORS headers: the verdict is on the
	// root, the exception on the failed call under it.
	at := now.Add(-10 * time.Second)
	corsID := g.traceID(at)
	const hint = `The 502 error response has no CORS headers <img src=x onerror="document.title='owned'">`
	mustAdd(t, s, doc(t, map[string]any{"name": "cors-api", "id": g.id(), "trace_id": corsID, "start_time": ts(at), "end_time": ts(at.Add(5 * time.Millisecond)),
		"fault": true,
		"http":  map[string]any{"request": map[string]any{"method": "GET", "url": "http://api.test/s2/broken-502"}, "response": map[string]any{"status": 502}},
		"annotations": map[string]any{"cors_verdict": "blocked", "cors_code": "missing-allow-origin",
			"cors_reason": "No 'Access-Control-Allow-Origin' header is present on the requested resource.", "cors_hint": hint},
		"subsegments": []any{map[string]any{"name": "orders", "id": g.id(), "namespace": "remote", "start_time": ts(at.Add(time.Millisecond)),
			"end_time": ts(at.Add(4 * time.Millisecond)), "fault": true,
			"cause": map[string]any{"exceptions": []any{map[string]any{"id": g.id(), "type": "*errors.errorString", "message": "EOF"}}}}},
	}))

	// A cold start 1.2 s into the stage's segment, whose audit call ended
	// 150 ms after the invocation had.
	at = now.Add(-8 * time.Second)
	lambdaID := g.traceID(at)
	mustAdd(t, s, doc(t, map[string]any{"name": "shop-api/local", "id": g.id(), "trace_id": lambdaID, "start_time": ts(at), "end_time": ts(at.Add(1500 * time.Millisecond)),
		"origin": "AWS::ApiGateway::Stage",
		"subsegments": []any{map[string]any{"name": "## shop", "id": g.id(), "start_time": ts(at.Add(1200 * time.Millisecond)), "end_time": ts(at.Add(1250 * time.Millisecond)),
			"annotations": map[string]any{"cold_start": true},
			"subsegments": []any{map[string]any{"name": "inventory", "id": g.id(), "namespace": "remote", "start_time": ts(at.Add(1240 * time.Millisecond)),
				"end_time": ts(at.Add(1400 * time.Millisecond)), "error": true}}}},
	}))

	// A timeout report.
	at = now.Add(-6 * time.Second)
	timeoutID := g.traceID(at)
	mustAdd(t, s, doc(t, map[string]any{"name": "## shop", "id": g.id(), "trace_id": timeoutID, "start_time": ts(at), "end_time": ts(at.Add(2500 * time.Millisecond)),
		"fault": true, "annotations": map[string]any{"timeout": true, "cold_start": false},
		"cause": map[string]any{"exceptions": []any{map[string]any{"id": g.id(), "type": "sidelight.Timeout", "message": "2.5 s into a 3 s timeout"}}},
	}))

	// An allowed cross-origin request.
	at = now.Add(-4 * time.Second)
	allowedID := g.traceID(at)
	mustAdd(t, s, doc(t, map[string]any{"name": "cors-api", "id": g.id(), "trace_id": allowedID, "start_time": ts(at), "end_time": ts(at.Add(2 * time.Millisecond)),
		"annotations": map[string]any{"cors_verdict": "allowed", "cors_origin": "http://page.test"}}))

	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	for _, c := range []struct {
		name, id string
		want     []string // in the findings, in order
	}{
		{"cors", corsID, []string{"CORS blocked (missing-allow-origin) on cors-api. No 'Access-Control-Allow-Origin' header is present on the requested resource." + hint}},
		{"lambda", lambdaID, []string{
			"Cold start on ## shop: it started 1.20 s after shop-api/local did, the time Lambda took to initialize a new execution environment.",
			"Outlived its parent: inventory ended 150 ms after ## shop had: work left running after the request or invocation returned (a goroutine not waited for).",
		}},
		{"timeout", timeoutID, []string{"Timeout on ## shop: it was about to time out when it was sent, after 2.50 s. Work still running then is not in it."}},
		{"allowed", allowedID, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/trace/"+c.id)); err != nil {
				t.Fatal(err)
			}
			poll(t, ctx, "the trace", `document.querySelector('.trace-head .mono') !== null && document.querySelector('.trace-head .mono').textContent === '`+c.id+`' && document.getElementById('node-detail').textContent.length > 0`)
			got := eval[[]string](t, ctx, `[...document.querySelectorAll('#findings li')].map((li) => li.textContent)`)
			if len(got) != len(c.want) {
				t.Fatalf("findings %q, want %q", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("finding %d:\n got %q\nwant %q", i, got[i], c.want[i])
				}
			}
			if c.name == "cors" {
				// Shown without a click: the exception's node is the one selected.
				if d := eval[string](t, ctx, `document.querySelector('#node-detail h3').textContent`); !strings.HasPrefix(d, "orders") {
					t.Errorf("selected node %q, want the failed call", d)
				}
				if n := eval[int](t, ctx, `document.querySelectorAll('#findings img').length`); n != 0 || eval[string](t, ctx, `document.title`) == "owned" {
					t.Errorf("a hint became markup")
				}
				screenshot(t, ctx, "localview-findings-cors.png")
			}
		})
	}
}
