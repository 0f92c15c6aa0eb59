package main

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRunRejectsBadConfiguration(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-xray-udp-addr", "0.0.0.0:2000"}, env(nil), &stderr); code != 2 {
		t.Fatalf("exit %d for a non-loopback address", code)
	}
	if !strings.Contains(stderr.String(), "loopback") {
		t.Fatalf("message %q", stderr.String())
	}
	if code := run([]string{"-h"}, env(nil), &stderr); code != 0 {
		t.Fatalf("-h exit %d", code)
	}
}

func TestHealthSubcommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	healthy.Store(true)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy.Load() {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	var stderr bytes.Buffer
	if code := run([]string{"health"}, env(map[string]string{"SIDELIGHT_STATUS_ADDR": ln.Addr().String()}), &stderr); code != 0 {
		t.Fatalf("healthy: exit %d %s", code, stderr.String())
	}
	healthy.Store(false)
	if code := run([]string{"health", "-status-addr", ln.Addr().String()}, env(nil), &stderr); code != 1 {
		t.Fatalf("unhealthy: exit %d", code)
	}
	srv.Close()
	if code := run([]string{"health", "-status-addr", ln.Addr().String(), "-timeout", "1s"}, env(nil), &stderr); code != 1 {
		t.Fatalf("nothing listening: exit %d", code)
	}
}
