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
// Host; the status server, the sampling proxy, the OTLP/HTTP receiver
// and the local view all refuse it (421; the OTLP receiver 403), and
// answer loopback names and the names given with -allowed-hosts (a
// container name, for bridge networking).
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

	// refused is the answer to a Host not allowed: 421 from the
	// hostcheck handler, 403 from the OTLP receiver (its own check, fed
	// the same allowlist).
	type listener struct {
		name, method, url string
		refused           int
	}
	var ls []listener
	for mode, a := range map[string]*app.App{"aws": aws, "local": local} {
		addrs := a.Addrs()
		ls = append(ls,
			listener{mode + " /status", "GET", "http://" + addrs["status"] + "/status", http.StatusMisdirectedRequest},
			listener{mode + " /healthz", "GET", "http://" + addrs["status"] + "/healthz", http.StatusMisdirectedRequest},
			listener{mode + " sampling proxy", "POST", "http://" + addrs["xray_tcp"] + "/GetSamplingRules", http.StatusMisdirectedRequest},
			listener{mode + " OTLP/HTTP", "POST", "http://" + addrs["otlp_http"] + "/v1/traces", http.StatusForbidden})
		if ui := addrs["ui"]; ui != "" {
			ls = append(ls, listener{mode + " local view", "GET", strings.TrimSuffix(ui, "/") + "/api/stats", http.StatusMisdirectedRequest})
		}
	}
	for _, l := range ls {
		for host, want := range map[string]int{"": 200, "localhost": 200, "sidecar": 200, "rebind.attacker.example": l.refused} {
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
	if len(ls) != 9 {
		t.Errorf("checked %d listeners, want 9 (status, healthz, proxy, OTLP/HTTP in both modes; the local view)", len(ls))
	}
}
