package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// OpenFromSearch acts as a user of the sidecar's local view at view (its
// URL, without a trailing slash) in the browser of ctx: on the trace list,
// it types query into the search box and presses Enter (one action), then
// clicks the trace of the row whose request is request, a method and a
// path such as "GET /s1/broken" (two). It returns the ID of the trace
// opened and the trace page's text, once the page shows the trace.
func OpenFromSearch(ctx context.Context, t testing.TB, view, query, request string) (id, page string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(view+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	renders, err := Poll[string](ctx, `document.getElementById('f-q') && document.getElementById('trace-list') && document.getElementById('trace-list').dataset.renders !== '0' ? document.getElementById('trace-list').dataset.renders : null`, 20*time.Second)
	if err != nil {
		t.Fatalf("the trace list: %v\n%s", err, ViewText(ctx))
	}
	// Action 1: the filter in the search box, and Enter.
	if err := chromedp.Do(ctx, chromedp.SendKeys("#f-q", query+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	// The list the search rendered, not the one before it.
	searched := `location.hash.includes('q=') && document.getElementById('trace-list') !== null && !['0', ` + strconv.Quote(renders) + `].includes(document.getElementById('trace-list').dataset.renders)`
	link := rowLink(request)
	if _, err := Poll[bool](ctx, searched+` && `+link+` !== null`, 20*time.Second); err != nil {
		t.Fatalf("no row %s after searching %s: %v\n%s", request, query, err, ViewText(ctx))
	}
	// Action 2: a click on the request's trace.
	if _, err := Poll[bool](ctx, `(() => { const a = `+link+`; if (a) a.click(); return a !== null })()`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := Poll[bool](ctx, `location.hash.startsWith('#/trace/') && document.getElementById('node-detail') !== null && document.getElementById('node-detail').textContent.length > 0`, 20*time.Second); err != nil {
		t.Fatalf("the trace of %s did not open: %v\n%s", request, err, ViewText(ctx))
	}
	hash, err := Eval[string](ctx, `decodeURIComponent(location.hash.slice('#/trace/'.length))`)
	if err != nil {
		t.Fatal(err)
	}
	return hash, ViewText(ctx)
}

// rowLink is a JavaScript expression for the trace link of the list row
// whose request is request (method and path), or null.
func rowLink(request string) string {
	b, _ := json.Marshal(request)
	return `(([...document.querySelectorAll('#trace-list tr.trace-row')].find((r) => {
		const [m, u] = r.querySelector('td.url').textContent.split(' ');
		try { return m + ' ' + new URL(u).pathname === ` + string(b) + `; } catch (e) { return false; }
	}) || {querySelector: () => null}).querySelector('a.trace-link'))`
}

// ViewText is the address and the visible text of the view's page.
func ViewText(ctx context.Context) string {
	s, _ := Eval[string](ctx, `location.hash + '\n' + document.querySelector('main').innerText`)
	return s
}

// ViewTraces returns the IDs of the traces the view at view lists for the
// search query whose root request is request ("GET /path"), asking its
// JSON API as the page does. A search the view refuses fails the test.
func ViewTraces(ctx context.Context, t testing.TB, view, query, request string) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, view+"/api/traces?q="+url.QueryEscape(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Traces []struct {
			ID     string `json:"id"`
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"traces"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("search %s: %d %v %s", query, resp.StatusCode, err, list.Error)
	}
	var ids []string
	for _, tr := range list.Traces {
		u, err := url.Parse(tr.URL)
		if err == nil && tr.Method+" "+u.Path == request {
			ids = append(ids, tr.ID)
		}
	}
	return ids
}
