package localview

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"net/http/httptest"
)

// rawDoc marshals a segment without the schema check: these documents are
// malformed on purpose, in the parts the store keeps as raw JSON.
func rawDoc(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One malformed document does not take the trace page down: the valid
// parts of every document render, and what is not valid is shown as such.
func TestBrowserMalformedDocuments(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	tid, root := g.traceID(now), g.id()
	at := func(ms int) float64 { return ts(now.Add(time.Duration(ms) * time.Millisecond)) }
	sub := func(name string, cause any, extra map[string]any) []byte {
		m := map[string]any{"name": name, "id": g.id(), "trace_id": tid, "parent_id": root, "type": "subsegment",
			"start_time": at(5), "end_time": at(20), "fault": true, "cause": cause}
		for k, v := range extra {
			m[k] = v
		}
		return rawDoc(t, m)
	}
	mustAdd(t, s,
		rawDoc(t, map[string]any{"name": "api", "id": root, "trace_id": tid, "start_time": at(0), "end_time": at(50), "fault": true,
			"cause": map[string]any{"exceptions": []any{map[string]any{"type": "GoodError", "message": "kept intact",
				"stack": []any{map[string]any{"label": "handle", "path": "api/main.go", "line": 12}}}}}}),
		sub("message-object", map[string]any{"exceptions": []any{map[string]any{"type": "E1", "message": map[string]any{"code": 7}}}}, nil),
		sub("stack-string", map[string]any{"exceptions": []any{map[string]any{"type": "E2", "message": "m2", "stack": "main.go:12"}}}, nil),
		sub("exceptions-object", map[string]any{"exceptions": map[string]any{"not": "a list"}, "working_directory": []any{1}}, nil),
		sub("nulls", map[string]any{"exceptions": []any{nil, map[string]any{"type": map[string]any{"x": 1}, "message": "m4",
			"stack": []any{nil, map[string]any{"label": map[string]any{"y": 2}, "line": "x"}}}}},
			map[string]any{"http": "not an object", "annotations": []any{"a", "b"}, "aws": 5}),
	)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the list", `document.querySelectorAll('#trace-list tr.trace-row').length === 1`)
	// Uncaught errors, from here on, fail the test.
	eval[chromedp.Void](t, ctx, `(() => { window.__errors = [];
		window.addEventListener('error', (e) => window.__errors.push(String(e.message)));
		window.addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));
		location.hash = '#/trace/`+tid+`'; })()`)
	poll(t, ctx, "the waterfall", `document.querySelectorAll('#waterfall .wf-row').length === 5`)
	poll(t, ctx, "the exceptions", `document.getElementById('exceptions') !== null`)
	text := eval[string](t, ctx, `document.getElementById('exceptions').innerText`)
	for _, want := range []string{"GoodError", "kept intact", "handle", "api/main.go:12", `{"code":7}`, "E2", "m2", "m4", "a list"} {
		if !strings.Contains(text, want) {
			t.Errorf("exceptions section lacks %q:\n%s", want, text)
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#exceptions .invalid').length`); n < 5 {
		t.Errorf("%d parts marked invalid, want at least 5 (message, stack, exceptions, null exception, null frame):\n%s", n, text)
	}
	screenshot(t, ctx, "localview-malformed.png")
	// Every row's details render too.
	for i := range 5 {
		eval[chromedp.Void](t, ctx, `document.querySelectorAll('#waterfall .wf-row')[`+string(rune('0'+i))+`].click()`)
		if d := eval[string](t, ctx, `document.getElementById('node-detail').innerText`); !strings.Contains(d, "Cause") {
			t.Errorf("row %d details: %q", i, d)
		}
	}
	if errs := eval[[]string](t, ctx, `window.__errors`); len(errs) > 0 {
		t.Errorf("uncaught errors in the page: %q", errs)
	}
}

// Each status badge has its own colour (ok green, error amber, throttle
// purple, fault red), read from the computed style.
func TestBrowserStatusBadgeColours(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	for i, marks := range []map[string]any{{}, {"error": true}, {"error": true, "throttle": true}, {"fault": true}} {
		tid := g.traceID(now)
		m := map[string]any{"name": "svc", "id": g.id(), "trace_id": tid, "start_time": ts(now.Add(time.Duration(i) * time.Millisecond)),
			"end_time": ts(now.Add(time.Second))}
		for k, v := range marks {
			m[k] = v
		}
		mustAdd(t, s, doc(t, m))
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the list", `document.querySelectorAll('#trace-list tr.trace-row').length === 4`)
	got := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('#trace-list tr.trace-row')].map(
		(r) => [r.dataset.status, getComputedStyle(r.querySelector('.badge')).backgroundColor]))`)
	want := map[string]string{"ok": "rgb(46, 157, 91)", "error": "rgb(201, 138, 0)", "throttle": "rgb(138, 92, 194)", "fault": "rgb(200, 55, 45)"}
	for st, c := range want {
		if got[st] != c {
			t.Errorf("%s badge is %q, want %q (all: %v)", st, got[st], c, got)
		}
	}
}
