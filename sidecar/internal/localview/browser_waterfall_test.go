package localview

import (
	"fmt"
	"github.com/seed-c77c9410/sidelight/middleware"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A Lambda invocation that timed out leaves an orphan (its parent, the
// function segment, never reaches the sidecar): the waterfall marks it,
// explains it, and labels the cold start; a 21 µs trace has an axis in
// microseconds.
func TestBrowserWaterfallOrphanColdStartMicroseconds(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	lambdaID, fnID, b := lambdaTrace(t, &g, now.Add(-time.Second))
	mustAdd(t, s, b)
	tinyID, tiny := okTrace(t, &g, now, "tiny", 21*time.Microsecond)
	mustAdd(t, s, tiny)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// Found from the search box in one action: the faulted Lambda traces.
	search(t, ctx, srv.URL, `fault AND annotation.`+middleware.TimeoutAnnotation+` = true`)
	poll(t, ctx, "the timed-out invocation", `document.querySelectorAll('#trace-list tr.trace-row').length === 1 && document.querySelector('#trace-list tr.trace-row').dataset.traceId === '`+lambdaID+`'`)
	click(t, ctx, `#trace-list a.trace-link`)
	poll(t, ctx, "the waterfall", `document.querySelectorAll('#waterfall .wf-row').length === 2`)
	notice := eval[string](t, ctx, `document.getElementById('orphans').textContent`)
	for _, w := range []string{"1 orphan", "checkout-fn", "never received", "timed out"} {
		if !strings.Contains(notice, w) {
			t.Errorf("orphan notice lacks %q: %q", w, notice)
		}
	}
	tags := eval[[]string](t, ctx, `[...document.querySelectorAll('#waterfall .wf-row[data-id="`+fnID+`"] .tag')].map(e => e.textContent)`)
	if fmt.Sprint(tags) != "[orphan cold start]" {
		t.Errorf("tags on the function row = %v", tags)
	}
	detail := eval[string](t, ctx, `document.getElementById('node-detail').textContent`)
	for _, w := range []string{"not in this trace", "cold start", "about to time out"} {
		if !strings.Contains(detail, w) {
			t.Errorf("details lack %q: %q", w, detail)
		}
	}
	screenshot(t, ctx, "localview-lambda-orphan.png")

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/trace/"+tinyID)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the tiny waterfall", `document.querySelectorAll('#waterfall .wf-row').length === 1`)
	ticks := eval[[]string](t, ctx, `[...document.querySelectorAll('#waterfall .wf-axis .tick')].map(e => e.textContent)`)
	seen := map[string]bool{}
	for _, tk := range ticks {
		if !strings.HasSuffix(tk, " µs") || seen[tk] {
			t.Errorf("ticks of a 21 µs trace = %q: want distinct µs labels", ticks)
			break
		}
		seen[tk] = true
	}
	if len(ticks) < 3 {
		t.Errorf("ticks = %q", ticks)
	}
}

// chainDocs is one trace through gateway → a → b → c, each call a remote
// subsegment answered by the callee's segment.
func chainDocs(t *testing.T, g *ids, at time.Time, names ...string) [][]byte {
	tid := g.traceID(at)
	var docs [][]byte
	parent := ""
	for i, name := range names {
		m := map[string]any{"name": name, "id": g.id(), "trace_id": tid,
			"start_time": ts(at.Add(time.Duration(i) * time.Millisecond)), "end_time": ts(at.Add(time.Duration(20-i) * time.Millisecond))}
		if parent != "" {
			m["parent_id"] = parent
		}
		if i+1 < len(names) {
			parent = g.id()
			m["subsegments"] = []any{map[string]any{"name": names[i+1], "id": parent, "namespace": "remote",
				"start_time": ts(at.Add(time.Duration(i) * time.Millisecond)), "end_time": ts(at.Add(time.Duration(19-i) * time.Millisecond))}}
		}
		docs = append(docs, doc(t, m))
	}
	return docs
}

// With 30 services the map stays readable: no node overlaps another, no
// edge label sits under a node; function, client and AWS nodes appear,
// and a node links to the traces through it.
func TestBrowserServiceMap30Services(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	for k := range 14 {
		mustAdd(t, s, chainDocs(t, &g, now.Add(time.Duration(k)*time.Millisecond), "gateway",
			fmt.Sprintf("edge-%d", k%5), fmt.Sprintf("core-%02d", k%10), fmt.Sprintf("store-%02d", k))...)
	}
	lambdaID, _, b := lambdaTrace(t, &g, now)
	mustAdd(t, s, b)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/map")); err != nil {
		t.Fatal(err)
	}
	// 30 services, the function, DynamoDB and the client.
	poll(t, ctx, "the map", `document.querySelectorAll('#map-svg .node').length === 33`)
	kinds := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('#map-svg .node')].map(n => [n.dataset.name, [...n.classList].find(c => c.startsWith('kind-'))]))`)
	for name, want := range map[string]string{"client": "kind-client", "checkout-fn": "kind-function", "DynamoDB": "kind-aws", "gateway": "kind-service"} {
		if kinds[name] != want {
			t.Errorf("node %s is %q, want %q", name, kinds[name], want)
		}
	}
	problems := eval[[]string](t, ctx, `(() => {
		const boxes = [...document.querySelectorAll('#map-svg .node rect')].map(r => ({name: r.parentNode.dataset.name, b: r.getBoundingClientRect()}));
		const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
		const out = [];
		for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++)
			if (hit(boxes[i].b, boxes[j].b)) out.push('nodes ' + boxes[i].name + ' and ' + boxes[j].name + ' overlap');
		for (const l of document.querySelectorAll('#map-svg .edge-label')) {
			const lb = l.getBoundingClientRect();
			for (const n of boxes) if (hit(lb, n.b)) out.push('label of ' + l.dataset.from + '->' + l.dataset.to + ' under node ' + n.name);
		}
		return out; })()`)
	if len(problems) > 0 {
		t.Errorf("layout problems: %q", problems)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#map-svg .edge-label').length`); n != 5+10+14+3 {
		t.Errorf("%d edge labels", n)
	}
	screenshot(t, ctx, "localview-map-30.png")

	// The DynamoDB node lists the trace that called it.
	click(t, ctx, `#map-svg .node[data-name="DynamoDB"]`)
	poll(t, ctx, "DynamoDB's traces", `location.hash.startsWith('#/traces?call=') && document.querySelectorAll('#trace-list tr.trace-row').length === 1`)
	if got := eval[string](t, ctx, `document.querySelector('#trace-list tr.trace-row').dataset.traceId`); got != lambdaID {
		t.Errorf("DynamoDB node lists %s, want %s", got, lambdaID)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/map")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, `#map-svg .node[data-name="core-03"]`)
	poll(t, ctx, "core-03's traces", `location.hash.includes('core-03') && document.querySelectorAll('#trace-list tr.trace-row').length === 2`)
}
