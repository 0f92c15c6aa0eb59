package corsscenarios

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
)

// Result is what the page saw for one scenario.
type Result struct {
	ID string `json:"id"`
	// Blocked is true when fetch() rejected (the browser withheld the
	// response); Error is the rejection's message.
	Blocked bool   `json:"blocked"`
	Error   string `json:"error,omitempty"`
	// Status is the response's status, when not blocked.
	Status int `json:"status,omitempty"`
	// Header is the value the page read for ReadHeader; nil when the browser
	// did not expose it.
	Header *string `json:"header"`
}

// RunScript is the JavaScript expression that runs every scenario from the
// page, one after another, and resolves to a JSON array of Result.
const RunScript = `sidelightRun()`

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sidelight CORS scenarios</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem; max-width: 72rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
tr.first td { border-top: 2px solid #999; }
th:last-child, td:last-child { width: 30%; }
code { background: #f3f3f3; padding: 0 .2rem; }
.blocked { color: #a40000; font-weight: 600; }
.allowed { color: #1d6b1d; }
.muted { color: #666; }
</style></head>
<body>
<h1>CORS scenarios</h1>
<p>This page (origin <code id="page-origin"></code>) calls the API at <code>{{.API}}</code>, another origin.
Each button makes one <code>fetch()</code>. When the browser blocks the answer, the page only gets
<code>TypeError: Failed to fetch</code>: open the developer tools (F12), tab <b>Console</b>, for the browser's reason.
{{if .TraceView}}What the server recorded about the same request is in the
<a id="trace-view" href="{{.TraceView}}/#/traces?annotation=cors_verdict%3Dblocked" target="_blank" rel="noopener">local trace view (blocked requests)</a>.{{end}}</p>
<p><button id="run-all" type="button">Run all</button> <span id="summary" class="muted"></span></p>
<table><thead><tr><th>#</th><th>variant</th><th>what the API does</th><th></th><th>what the page saw</th></tr></thead><tbody id="results"></tbody></table>
<script>
const api = {{.API}};
const scenarios = {{.Scenarios}};
document.getElementById("page-origin").textContent = location.origin;
// A cookie for the API's host (cookies ignore ports): sent only when a
// request uses credentials: 'include'.
document.cookie = "sid=demo; path=/; SameSite=Lax";

async function runOne(s) {
  const init = {method: s.method, headers: s.headers || {}, credentials: s.credentials};
  if (s.method === "PUT" || s.method === "POST") init.body = "{}";
  try {
    const r = await fetch(api + s.path, init);
    await r.text();
    return {id: s.id, blocked: false, status: r.status, header: s.readHeader ? r.headers.get(s.readHeader) : null};
  } catch (e) {
    return {id: s.id, blocked: true, error: String(e), header: null};
  }
}

const cells = {};
let last = 0;
for (const s of scenarios) {
  const tr = document.createElement("tr");
  if (s.number !== last) tr.className = "first";
  last = s.number;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Run";
  button.id = "run-" + s.id.replace("/", "-");
  button.setAttribute("aria-label", "Run " + s.id);
  button.addEventListener("click", async () => show(s, await runOne(s)));
  const out = document.createElement("td");
  out.id = "result-" + s.id.replace("/", "-");
  for (const cell of [String(s.number), s.id, s.title + (s.credentials === "include" ? " (fetch with credentials: 'include')" : ""), button, out]) {
    if (cell instanceof HTMLElement && cell.tagName === "TD") { tr.appendChild(cell); continue; }
    const td = document.createElement("td");
    if (cell instanceof HTMLElement) td.appendChild(cell); else td.textContent = cell;
    tr.appendChild(td);
  }
  document.getElementById("results").appendChild(tr);
  cells[s.id] = out;
}

function show(s, r) {
  const out = cells[s.id];
  out.textContent = "";
  const b = document.createElement("span");
  if (r.blocked) {
    b.className = "blocked";
    b.textContent = "blocked: " + r.error;
    out.append(b, " (the reason is in the console)");
  } else {
    b.className = "allowed";
    b.textContent = "status " + r.status;
    out.append(b);
    if (s.readHeader) out.append(", " + s.readHeader + ": " + (r.header === null ? "null (not exposed)" : r.header));
  }
}

async function sidelightRun() {
  const out = [];
  for (const s of scenarios) {
    const r = await runOne(s);
    show(s, r);
    out.push(r);
  }
  const n = out.filter((r) => r.blocked).length;
  document.getElementById("summary").textContent = n + " of " + out.length + " blocked";
  return out;
}
document.getElementById("run-all").addEventListener("click", sidelightRun);
</script>
</body></html>
`))

// PageConfig configures NewPage.
type PageConfig struct {
	// API is the API's base URL: scheme, host and port, no slash.
	API string
	// TraceView, when set, is the base URL of the Sidelight sidecar's local
	// trace view (e.g. http://127.0.0.1:2772); the page links to its list
	// of blocked requests.
	TraceView string
}

// Page returns a handler that serves, at every path, the page that runs the
// scenarios against the API at apiBase (scheme, host and port, no slash).
func Page(apiBase string) http.Handler { return NewPage(PageConfig{API: apiBase}) }

// NewPage returns a handler that serves, at every path, the page that runs
// the scenarios: one button per scenario and one that runs them all.
func NewPage(c PageConfig) http.Handler {
	data := struct {
		API       string
		TraceView string
		Scenarios []Scenario
	}{c.API, strings.TrimSuffix(c.TraceView, "/"), All()}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := pageTmpl.Execute(w, data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}

// Prime fills the shared cache of scenario 7's routes with answers made for
// otherOrigin, as a visit from a page on that origin would.
func Prime(ctx context.Context, client *http.Client, apiBase, otherOrigin string) error {
	for _, s := range All() {
		if !s.PrimeFromOtherOrigin {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiBase+s.Path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Origin", otherOrigin)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("scenarios: priming %s: %w", s.ID, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("scenarios: priming %s: status %d", s.ID, resp.StatusCode)
		}
	}
	return nil
}
