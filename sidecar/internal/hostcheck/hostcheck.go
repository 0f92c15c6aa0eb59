// Package hostcheck decides which Host headers the sidecar's HTTP
// listeners (the local view, /status and /healthz, the sampling proxy)
// answer to. A page on another site can make a browser resolve its own
// name to 127.0.0.1 (DNS rebinding) and then read what a loopback
// listener serves; the browser still sends that name as Host, so refusing
// names other than the loopback ones defeats it.
package hostcheck

import (
	"net"
	"net/http"
	"strings"
)

// Allowlist is the set of Host names a listener answers to: localhost,
// 127.0.0.1 and ::1 always, plus the names it was built with. The name
// "*" allows every Host: only for a listener deliberately served beyond
// the machine. The zero value allows the loopback names only.
type Allowlist struct {
	any   bool
	names map[string]bool
}

// New returns the allowlist of the loopback names and extra (compared
// without case, port or trailing dot).
func New(extra []string) Allowlist {
	a := Allowlist{names: map[string]bool{}}
	for _, h := range extra {
		if h == "*" {
			a.any = true
			continue
		}
		if n := Name(h); n != "" {
			a.names[n] = true
		}
	}
	return a
}

// Allows reports whether a request with this Host header (host, host:port
// or [v6]:port) may be answered.
func (a Allowlist) Allows(hostport string) bool {
	if a.any {
		return true
	}
	n := Name(hostport)
	switch n {
	case "localhost", "127.0.0.1", "::1":
		return true
	case "":
		return false
	}
	return a.names[n]
}

// Handler serves next only for allowed Host headers and answers the
// others with 421 Misdirected Request.
func (a Allowlist) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Allows(r.Host) {
			http.Error(w, "host not allowed: this listener answers only to localhost and the sidecar's -allowed-hosts", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Name is the lowercased host of a Host header, without port, brackets
// or trailing dot.
func Name(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
