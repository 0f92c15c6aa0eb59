package corsscenarios

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Server serves every scenario's route. Fixed routes allow the origins it
// was built with (echoing the request's Origin when it is one of them);
// broken routes get CORS wrong as their Scenario says.
type Server struct {
	allowed  []string
	mux      *http.ServeMux
	cache    *cache
	upstream *http.Client
	upURL    string
}

var _ http.Handler = (*Server)(nil)

// Config configures New.
type Config struct {
	// AllowedOrigins are the origins the fixed routes allow (for example the
	// page's origin, and another one for scenario 7).
	AllowedOrigins []string
	// Upstream and UpstreamURL, when both set, make scenario 2's gateway
	// routes forward each request with Upstream to UpstreamURL (plus the
	// request's path) and answer 502 when that call fails or returns a
	// 5xx: an upstream that is down gives the gateway-style 502. Without
	// them the gateway answers 502 at once.
	Upstream    *http.Client
	UpstreamURL string
}

// NewServer returns a Server that allows the given origins (for example the
// page's origin, and another one for scenario 7).
func NewServer(allowedOrigins ...string) *Server {
	return New(Config{AllowedOrigins: allowedOrigins})
}

// New returns a Server configured by c.
func New(c Config) *Server {
	s := &Server{allowed: slices.Clone(c.AllowedOrigins), mux: http.NewServeMux(), cache: &cache{entries: map[string]cached{}}}
	if c.Upstream != nil && c.UpstreamURL != "" {
		s.upstream, s.upURL = c.Upstream, strings.TrimSuffix(c.UpstreamURL, "/")
	}
	m := s.mux

	// 1. Access-Control-Allow-Origin on a successful response.
	m.HandleFunc("GET /s1/broken", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK) })
	m.HandleFunc("GET /s1/fixed", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		writeJSON(w, http.StatusOK)
	})

	// 2. Error responses.
	m.HandleFunc("GET /s2/broken-404", http.NotFound)
	m.HandleFunc("GET /s2/fixed-404", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		http.NotFound(w, r)
	})
	m.HandleFunc("GET /s2/broken-500", func(w http.ResponseWriter, r *http.Request) {
		// CORS headers are added on the success path only.
		http.Error(w, "database unavailable", http.StatusInternalServerError)
	})
	m.Handle("GET /s2/broken-502", gateway(false, s))
	m.HandleFunc("GET /s2/fixed-500", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		http.Error(w, "database unavailable", http.StatusInternalServerError)
	})
	m.Handle("GET /s2/fixed-502", gateway(true, s))

	// 3. Preflight status.
	m.HandleFunc("PUT /s3/broken-405", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		writeJSON(w, http.StatusOK)
	}) // no OPTIONS route: ServeMux answers 405
	m.HandleFunc("/s3/broken-401", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		w.Header().Set("Access-Control-Allow-Methods", "GET")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization")
		if r.Header.Get("Authorization") == "" { // the preflight has none
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		writeJSON(w, http.StatusOK)
	})
	m.HandleFunc("/s3/broken-403", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		s.allowOrigin(w, r)
		w.Header().Set("Access-Control-Allow-Headers", "Authorization")
		writeJSON(w, http.StatusOK)
	})
	m.HandleFunc("/s3/fixed", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		if isPreflight(r) {
			w.Header().Set("Access-Control-Allow-Methods", "GET, PUT")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPut || r.Header.Get("Authorization") == "" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		writeJSON(w, http.StatusOK)
	})

	// 4. Request headers.
	for _, route := range []struct{ path, allow string }{
		{"/s4/broken-traceparent", "Content-Type"},
		{"/s4/broken-amzn", "Content-Type"},
		{"/s4/broken-auth", "*"},
		{"/s4/fixed", "Authorization, Content-Type, Traceparent, Tracestate, X-Amzn-Trace-Id"},
	} {
		m.HandleFunc(route.path, func(w http.ResponseWriter, r *http.Request) {
			s.allowOrigin(w, r)
			if isPreflight(r) {
				w.Header().Set("Access-Control-Allow-Methods", "GET")
				w.Header().Set("Access-Control-Allow-Headers", route.allow)
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeJSON(w, http.StatusOK)
		})
	}

	// 5. Multiple values.
	m.Handle("GET /s5/broken", proxyAddingCORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		writeJSON(w, http.StatusOK)
	})))
	m.HandleFunc("GET /s5/fixed", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		writeJSON(w, http.StatusOK)
	})

	// 6. Credentials.
	m.HandleFunc("GET /s6/broken-wildcard", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		writeJSON(w, http.StatusOK)
	})
	m.HandleFunc("GET /s6/broken-nocreds", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		writeJSON(w, http.StatusOK)
	})
	m.HandleFunc("GET /s6/fixed", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		writeJSON(w, http.StatusOK)
	})

	// 7. A shared cache in front of an origin-echoing backend.
	m.Handle("GET /s7/broken", s.cache.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.allows(r.Header.Get("Origin")) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin")) // no Vary
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		writeJSON(w, http.StatusOK)
	})))
	m.Handle("GET /s7/fixed", s.cache.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		w.Header().Set("Cache-Control", "public, max-age=60")
		writeJSON(w, http.StatusOK)
	})))

	// 8. Redirects.
	m.HandleFunc("/s8/broken", func(w http.ResponseWriter, r *http.Request) {
		// A router that canonicalises paths before CORS runs.
		http.Redirect(w, r, "/s8/broken/", http.StatusPermanentRedirect)
	})
	// Both end at the same correct CORS handler; only the broken route
	// gets there through a redirect, which a preflight may not follow.
	putWithCORS := func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		if isPreflight(r) {
			w.Header().Set("Access-Control-Allow-Methods", "PUT")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK)
	}
	m.HandleFunc("/s8/broken/", putWithCORS)
	m.HandleFunc("/s8/fixed", putWithCORS)

	// 9. Exposed headers.
	m.HandleFunc("GET /s9/broken", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		w.Header().Set(NeededHeader, "req-42")
		writeJSON(w, http.StatusOK)
	})
	m.HandleFunc("GET /s9/fixed", func(w http.ResponseWriter, r *http.Request) {
		s.allowOrigin(w, r)
		w.Header().Set(NeededHeader, "req-42")
		w.Header().Set("Access-Control-Expose-Headers", NeededHeader)
		writeJSON(w, http.StatusOK)
	})
	return s
}

// ServeHTTP serves the scenario routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) allows(origin string) bool {
	return origin != "" && slices.Contains(s.allowed, origin)
}

// allowOrigin is the correct way: echo an allowed origin, and always say
// that the answer depends on Origin.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	if o := r.Header.Get("Origin"); s.allows(o) {
		w.Header().Set("Access-Control-Allow-Origin", o)
	}
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

func writeJSON(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
}

// gateway stands for a load balancer or API gateway whose upstream is down:
// it answers 502 itself, adding CORS headers only when withCORS is set (as
// API Gateway does once its gateway responses are configured). With an
// upstream configured it calls it first, and passes a healthy answer on.
func gateway(withCORS bool, s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.upstream != nil && s.callUpstream(w, r, withCORS) {
			return
		}
		if withCORS {
			s.allowOrigin(w, r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`{"message":"Internal server error"}` + "\n"))
	})
}

// callUpstream forwards r to the upstream and, when it answers below 500,
// copies its answer and returns true.
func (s *Server) callUpstream(w http.ResponseWriter, r *http.Request, withCORS bool) bool {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.upURL+r.URL.Path, nil)
	if err != nil {
		return false
	}
	resp, err := s.upstream.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode >= 500 {
		return false
	}
	if withCORS {
		s.allowOrigin(w, r)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return true
}

// proxyAddingCORS stands for a reverse proxy configured to add
// Access-Control-Allow-Origin on the way out, in front of an app that
// already sets it: the browser gets two lines.
func proxyAddingCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&addingWriter{ResponseWriter: w, origin: r.Header.Get("Origin")}, r)
	})
}

type addingWriter struct {
	http.ResponseWriter
	origin string
	wrote  bool
}

func (a *addingWriter) WriteHeader(code int) {
	if !a.wrote && a.origin != "" {
		a.Header().Add("Access-Control-Allow-Origin", a.origin)
	}
	a.wrote = true
	a.ResponseWriter.WriteHeader(code)
}

func (a *addingWriter) Write(b []byte) (int, error) {
	if !a.wrote {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(b)
}

// cache is a shared HTTP cache, like a CDN: it stores GET responses that
// say Cache-Control: public, keyed on the URL and on the request headers
// the response's Vary names. It holds at most maxCacheEntries URLs (query
// strings make new ones) and passes the rest through uncached.
const maxCacheEntries = 64

type cache struct {
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	vary   []string // request header names the response varies on
	key    string   // their values in the request that filled the entry
	status int
	header http.Header
	body   []byte
}

func varyKey(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(r.Header.Get(n))
		b.WriteByte(0)
	}
	return b.String()
}

func (c *cache) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		url := r.URL.String()
		c.mu.Lock()
		e, ok := c.entries[url]
		c.mu.Unlock()
		if ok && varyKey(r, e.vary) == e.key {
			for k, vs := range e.header {
				w.Header()[k] = slices.Clone(vs)
			}
			w.Header().Set("X-Cache", "Hit")
			w.WriteHeader(e.status)
			_, _ = w.Write(e.body)
			return
		}
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if strings.Contains(rec.header.Get("Cache-Control"), "public") {
			var vary []string
			for _, v := range rec.header.Values("Vary") {
				for _, n := range strings.Split(v, ",") {
					if n = strings.TrimSpace(n); n != "" {
						vary = append(vary, n)
					}
				}
			}
			c.mu.Lock()
			if _, ok := c.entries[url]; ok || len(c.entries) < maxCacheEntries {
				c.entries[url] = cached{vary: vary, key: varyKey(r, vary), status: rec.status, header: rec.header.Clone(), body: rec.body.Bytes()}
			}
			c.mu.Unlock()
		}
		for k, vs := range rec.header {
			w.Header()[k] = vs
		}
		w.Header().Set("X-Cache", "Miss")
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	})
}

// recorder buffers a response for the cache.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
