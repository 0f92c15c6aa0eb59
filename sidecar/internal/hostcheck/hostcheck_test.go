package hostcheck

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAllows(t *testing.T) {
	a := New([]string{"Sidecar", "app.internal."})
	for host, want := range map[string]bool{
		"127.0.0.1:2000":         true,
		"localhost":              true,
		"LOCALHOST:2772":         true,
		"localhost.:2000":        true,
		"[::1]:2000":             true,
		"sidecar:2000":           true,
		"app.internal":           true,
		"":                       false,
		"evil.example:2000":      false,
		"localhost.evil.example": false,
		"127.0.0.1.nip.io:2000":  false,
		"10.0.3.7:2000":          false,
	} {
		if got := a.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	var zero Allowlist
	if !zero.Allows("127.0.0.1:1") || zero.Allows("sidecar:1") {
		t.Error("the zero Allowlist must allow the loopback names only")
	}
	if !New([]string{"*"}).Allows("anything.example:80") {
		t.Error(`"*" must allow every host`)
	}
}

func TestHandlerRefusesWithMisdirected(t *testing.T) {
	served := 0
	h := New(nil).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	for host, want := range map[string]int{"127.0.0.1:2000": 200, "rebind.attacker.example:2000": http.StatusMisdirectedRequest} {
		req := httptest.NewRequest("GET", "/status", nil)
		req.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Host %q: status %d, want %d", host, w.Code, want)
		}
	}
	if served != 1 {
		t.Errorf("next served %d requests, want 1", served)
	}
}

func FuzzName(f *testing.F) {
	for _, s := range []string{"127.0.0.1:2000", "[::1]:80", "LOCALHOST.", "[", "a:b:c", ""} {
		f.Add(s)
	}
	a := New([]string{"sidecar"})
	f.Fuzz(func(t *testing.T, host string) {
		n := Name(host)
		if a.Allows(host) && n != "localhost" && n != "127.0.0.1" && n != "::1" && n != "sidecar" {
			t.Fatalf("Allows(%q) with name %q", host, n)
		}
	})
}
