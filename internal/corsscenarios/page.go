package corsscenarios

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
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
<html lang="en"><head><meta charset="utf-8"><title>Sidelight CORS scenarios</title></head>
<body>
<h1>CORS scenarios</h1>
<p>This page calls the API at <code>{{.API}}</code> from another origin.</p>
<table><thead><tr><th>scenario</th><th>what</th><th>result</th></tr></thead><tbody id="results"></tbody></table>
<script>
const api = {{.API}};
const scenarios = {{.Scenarios}};
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

function show(s, r) {
  const tr = document.createElement("tr");
  for (const text of [s.id, s.title, r.blocked ? "blocked: " + r.error : "status " + r.status + (s.readHeader ? ", " + s.readHeader + ": " + r.header : "")]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  document.getElementById("results").appendChild(tr);
}

async function sidelightRun() {
  const out = [];
  for (const s of scenarios) {
    const r = await runOne(s);
    show(s, r);
    out.push(r);
  }
  return out;
}
</script>
</body></html>
`))

// Page returns a handler that serves, at every path, the page that runs the
// scenarios against the API at apiBase (scheme, host and port, no slash).
func Page(apiBase string) http.Handler {
	data := struct {
		API       string
		Scenarios []Scenario
	}{apiBase, All()}
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
