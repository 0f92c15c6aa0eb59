package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
)

// TestEveryHTTPListenerChecksHost: a page whose name was rebound to
// 127.0.0.1 reaches the sidecar's HTTP listeners with its own name as
// Host; the status server, the sampling proxy and the local view all
// refuse it (421), and answer loopback names and the names given with
// -allowed-hosts (a container name, for bridge networking).
func TestEveryHTTPListenerChecksHost(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	c := testConfig()
	c.AllowRemote = true
	c.AllowedHosts = []string{"sidecar"}
	aws := startAWS(t, fake, c, nil)
	defer shutdown(t, aws)
	local, err := app.New(context.Background(), app.Options{Config: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, local)

	type listener struct{ name, method, url string }
	var ls []listener
	for mode, a := range map[string]*app.App{"aws": aws, "local": local} {
		addrs := a.Addrs()
		ls = append(ls,
			listener{mode + " /status", "GET", "http://" + addrs["status"] + "/status"},
			listener{mode + " /healthz", "GET", "http://" + addrs["status"] + "/healthz"},
			listener{mode + " sampling proxy", "POST", "http://" + addrs["xray_tcp"] + "/GetSamplingRules"})
		if ui := addrs["ui"]; ui != "" {
			ls = append(ls, listener{mode + " local view", "GET", strings.TrimSuffix(ui, "/") + "/api/stats"})
		}
	}
	for _, l := range ls {
		for host, want := range map[string]int{"": 200, "localhost": 200, "sidecar": 200, "rebind.attacker.example": http.StatusMisdirectedRequest} {
			req, err := http.NewRequest(l.method, l.url, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if l.method == "POST" {
				req.Header.Set("Content-Type", "application/json")
			}
			if host != "" {
				_, port, _ := strings.Cut(req.URL.Host, ":")
				req.Host = host + ":" + port
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s with Host %q: status %d, want %d", l.name, req.Host, resp.StatusCode, want)
			}
		}
	}
	if len(ls) != 7 {
		t.Errorf("checked %d listeners, want 7 (status, healthz, proxy in both modes; the local view)", len(ls))
	}
}
