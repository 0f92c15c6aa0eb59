package main

import (
	"html/template"
	"net/http"
)

// scenarios are the page's buttons, in the tutorial's order.
var scenarios = []struct{ ID, Title, Method string }{
	{"coldstart", "1. Cold start", "GET"},
	{"timeout", "2. Timeout", "GET"},
	{"panic", "3. Panic", "POST"},
	{"error", "4. Returned error (a CORS error in the browser)", "GET"},
	{"propagation", "5. Trace propagation", "GET"},
	{"goroutine", "6. Goroutine outliving the invocation", "GET"},
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sidelight Lambda examples</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:.3em .6em}code{background:#eee}</style></head>
<body>
<h1>Sidelight Lambda examples</h1>
<p>This page is served from <code id="page-origin"></code> and calls the local API Gateway at <code>{{.API}}</code>.
Open the browser console (F12) to see what the browser says; open the <a id="trace-view" href="{{.View}}">trace view</a> to see what happened.</p>
<table>
{{range .Scenarios}}<tr><td>{{.Title}}</td>
<td><button id="run-{{.ID}}-broken" onclick="run('{{.Method}}','/{{.ID}}/broken','{{.ID}}-broken')">broken</button></td>
<td><button id="run-{{.ID}}-fixed" onclick="run('{{.Method}}','/{{.ID}}/fixed','{{.ID}}-fixed')">fixed</button></td>
<td><output id="result-{{.ID}}-broken"></output></td><td><output id="result-{{.ID}}-fixed"></output></td></tr>
{{end}}</table>
<script>
const api = {{.API}};
document.getElementById("page-origin").textContent = location.origin;
async function run(method, path, id) {
  const out = document.getElementById("result-" + id);
  out.textContent = "…";
  try {
    const resp = await fetch(api + path, {method});
    out.textContent = resp.status + ": " + await resp.text();
  } catch (e) {
    out.textContent = "failed: " + e;
  }
  return out.textContent;
}
</script>
</body></html>
`))

// pageHandler serves the page that calls the gateway at api from another
// origin, as a web front end on its own domain would.
func pageHandler(api, view string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTemplate.Execute(w, map[string]any{"API": api, "View": view, "Scenarios": scenarios})
	})
}
