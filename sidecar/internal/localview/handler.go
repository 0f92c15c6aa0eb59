package localview

import (
	"embed"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/hostcheck"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview/xrayfilter"
)

//go:embed web
var webFS embed.FS

// viewScripts are the page's script files, in the order they run: app.js
// first (shared helpers and routing), then one file per page.
var viewScripts = []string{"app.js", "overview.js", "charts.js", "map.js", "compare.js", "logs.js"}

// viewBundle is viewScripts in one response (/static/view.js), so the
// first paint waits for one script request, not four.
var viewBundle = func() []byte {
	var b []byte
	for _, name := range viewScripts {
		f, _ := webFS.ReadFile("web/" + name) // embedded: present (TestStaticFiles)
		b = append(append(b, f...), '\n')
	}
	return b
}()

// contentSecurityPolicy allows the page's own script, style and API and
// nothing else: no inline script or style, no framing, no forms.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the web view and its JSON API. Mount it at the root of a
// listener bound to a loopback address. It answers only GET and HEAD, and
// only for Host headers naming localhost, 127.0.0.1, ::1 or one of
// Config.AllowedHosts.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, webFS, "web/index.html")
	})
	mux.HandleFunc("GET /static/view.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(viewBundle)
	})
	files := http.FileServerFS(webFS)
	mux.HandleFunc("GET /static/{file}", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/web/" + r.PathValue("file")
		r2.URL.RawPath = ""
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r2)
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.Query())
		var se *xrayfilter.SyntaxError
		if errors.As(err, &se) {
			// Where in the search text it went wrong, for the page to point at.
			writeErrorAt(w, "search: "+se.Error(), se.Offset)
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, s.list(q))
	})
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := s.detail(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no such trace")
			return
		}
		writeJSON(w, d)
	})
	mux.HandleFunc("GET /api/traces/{id}/logs", func(w http.ResponseWriter, r *http.Request) {
		id, ok := xrayfilter.TraceID(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusBadRequest, "not a trace ID (X-Ray or W3C form)")
			return
		}
		writeJSON(w, s.traceLogs(id))
	})
	mux.HandleFunc("GET /api/traces/{id}/version", func(w http.ResponseWriter, r *http.Request) {
		id, ok := xrayfilter.TraceID(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusBadRequest, "not a trace ID (X-Ray or W3C form)")
			return
		}
		serveTraceVersion(w, r, s.traceVersion(id))
	})
	mux.HandleFunc("GET /api/logs/unlinked", func(w http.ResponseWriter, r *http.Request) {
		n, err := parseLogLimit(r.URL.Query().Get("limit"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, s.unlinkedLogs(n))
	})
	mux.HandleFunc("GET /api/servicemap", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.serviceMap())
	})
	mux.HandleFunc("GET /api/metrics", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseMetricsQuery(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, s.metrics(q))
	})
	mux.HandleFunc("GET /api/overview", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseOverviewQuery(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, s.overview(q))
	})
	mux.HandleFunc("GET /api/facets", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.facets())
	})
	mux.HandleFunc("GET /api/compare", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseCompareQuery(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, s.compare(q))
	})
	mux.HandleFunc("GET /api/deployments", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.deploymentList(r.URL.Query().Get("service")))
	})
	mux.HandleFunc("GET /api/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Stats())
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API")
	})

	allowed := hostcheck.New(s.cfg.AllowedHosts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !allowed.Allows(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "host not allowed: the local view answers only to localhost")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "read-only: only GET and HEAD")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// writeErrorAt answers 400 with the error and the byte offset in the
// search text that it is about.
func writeErrorAt(w http.ResponseWriter, msg string, offset int) {
	b, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Offset int    `json:"offset"`
	}{msg, offset})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
