package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

func TestFlagsFollowTheEnvironment(t *testing.T) {
	env := map[string]string{"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:3000", "AWS_EMF_AGENT_ENDPOINT": "udp://127.0.0.1:25999"}
	cfg, err := parseFlags(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.daemon != "127.0.0.1:3000" || cfg.emfEndpoint != "udp://127.0.0.1:25999" {
		t.Errorf("daemon %q, emf %q: the environment was not used", cfg.daemon, cfg.emfEndpoint)
	}
	cfg, err = parseFlags([]string{"-daemon", "127.0.0.1:4000", "-view", "http://127.0.0.1:9/"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.daemon != "127.0.0.1:4000" || cfg.view != "http://127.0.0.1:9" {
		t.Errorf("daemon %q, view %q: flags must win over the environment", cfg.daemon, cfg.view)
	}
	cfg, err = parseFlags(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The sidecar's defaults, which the tutorial relies on.
	if cfg.daemon != tutorialtest.SidecarDaemon || cfg.emfEndpoint != tutorialtest.SidecarEMF || cfg.view != tutorialtest.SidecarView ||
		"http://"+cfg.apiAddr != tutorialAPI || "http://"+cfg.pageAddr != tutorialPage {
		t.Errorf("defaults %+v differ from the tutorial's", cfg)
	}
}

func TestBadConfigurationFails(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-view", "127.0.0.1:2772"}, "-view"},
		{[]string{"-metrics-interval", "0s"}, "-metrics-interval"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-api-addr", "127.0.0.1:0", "-page-addr", "127.0.0.1:0", "-emf", "http://x"}, "agent endpoint"},
		{[]string{"-api-addr", "127.0.0.1:0", "-page-addr", "127.0.0.1:0", "-daemon", "nonsense"}, "daemon address"},
	} {
		err := run(context.Background(), c.args, noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}

// An address in use is reported, and nothing is left running.
func TestAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := newFixture(t)
	cfg := f.config(t, "-page-addr", ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = a.Shutdown(ctx)
		t.Fatal("start succeeded on an address in use")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("err = %v", err)
	}
}

// Without a sidecar the example still runs, and says what was lost.
func TestLostTelemetryIsReported(t *testing.T) {
	// Closed ports on loopback: UDP sends and TCP dials are refused.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpAddr := udp.LocalAddr().String()
	udp.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr := tcp.Addr().String()
	tcp.Close()

	var stdout, stderr syncBuffer
	err = run(context.Background(), []string{"-smoke", "-api-addr", "127.0.0.1:0", "-page-addr", "127.0.0.1:0",
		"-daemon", udpAddr, "-emf", "tcp://" + tcpAddr}, noEnv, &stdout, &stderr)
	if err != nil {
		t.Fatalf("-smoke without a sidecar: %v", err)
	}
	if !strings.Contains(stderr.String(), "metric documents could not be sent to tcp://"+tcpAddr+": is the sidecar running?") {
		t.Errorf("lost metrics not reported:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "smoke: a browser would block") {
		t.Errorf("no summary:\n%s", stdout.String())
	}
}
