package corsscenarios_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
)

// FuzzServer sends arbitrary requests to the scenario routes: the server
// must always answer with a valid status, never panic, and on a fixed
// route allow exactly the allowed origins.
func FuzzServer(f *testing.F) {
	for _, s := range corsscenarios.All() {
		f.Add(s.Method, s.Path, page, "", "")
		f.Add("OPTIONS", s.Path, page, s.Method, "authorization,traceparent")
	}
	f.Add("GET", "/s7/broken?x=1", "null", "", "")
	f.Add("DELETE", "/../s1/fixed", "http://evil.test", "PUT", "x-amzn-trace-id")
	srv := corsscenarios.New(corsscenarios.Config{AllowedOrigins: []string{page, other}})
	f.Fuzz(func(t *testing.T, method, target, origin, acrm, acrh string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, Host: "api.test", RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		r.Header.Set("Origin", origin)
		if acrm != "" {
			r.Header.Set("Access-Control-Request-Method", acrm)
		}
		if acrh != "" {
			r.Header.Set("Access-Control-Request-Headers", acrh)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%s %s: status %d", method, target, rec.Code)
		}
		if strings.Contains(u.Path, "/fixed") && rec.Code < 300 {
			acao := rec.Header().Values("Access-Control-Allow-Origin")
			allowed := origin == page || origin == other
			if allowed != (len(acao) == 1 && acao[0] == origin) || len(acao) > 1 {
				t.Fatalf("%s %s from %q: ACAO %q", method, target, origin, acao)
			}
		}
	})
}
