package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/examples/ecs/internal/emfagent"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sampled asks for tracing the way an upstream that decided to trace does.
const sampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"

// TestRun runs the service as main does, against a stand-in X-Ray daemon
// and EMF agent, and checks what the sidecar would receive.
func TestRun(t *testing.T) {
	daemon, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	agent, err := emfagent.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	env := map[string]string{
		"HOST": "127.0.0.1", "PORT": "0", "OTEL_SERVICE_NAME": "orders-test", "AWS_EMF_NAMESPACE": "Test/Orders",
		"AWS_XRAY_DAEMON_ADDRESS": daemon.Addr(), "AWS_EMF_AGENT_ENDPOINT": agent.Endpoint(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), func(a net.Addr) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run: %v", err)
	}

	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/orders/1", "", 200},
		{"GET", "/orders/1?delay=1ms", "", 200},
		{"GET", "/orders/999", "", 404},
		{"GET", "/orders/boom", "", 500},
		{"GET", "/orders/1?delay=1h", "", 400},
		{"POST", "/orders", `{"item":"tea","quantity":3}`, 201},
		{"POST", "/orders", `{"item":"tea","quantity":0}`, 400},
		{"POST", "/orders", `{"item":"tea","quantity":1,"price":2}`, 400},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		req.Header.Set("X-Amzn-Trace-Id", sampled)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, resp.StatusCode, c.status, b)
		}
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}

	cancel() // what SIGTERM does in main
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context ended")
	}

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	segs, err := daemon.WaitFor(wctx, len(cases))
	if err != nil {
		t.Fatalf("segments: %v (got %d)", err, len(segs))
	}
	byStatus := map[int]int{}
	for _, s := range segs {
		if s.Name != "orders-test" {
			t.Errorf("segment name %q", s.Name)
		}
		if strings.Contains(s.HTTP.Request.URL, "/healthz") {
			t.Errorf("health check traced: %s", s.Raw)
		}
		if err := schematest.Segment(s.Raw); err != nil {
			t.Errorf("segment schema: %v\n%s", err, s.Raw)
		}
		byStatus[s.HTTP.Response.Status]++
		if s.HTTP.Response.Status == 500 && (!s.Fault || s.Cause == nil) {
			t.Errorf("the simulated fault is not recorded as one: %s", s.Raw)
		}
	}
	if byStatus[200] != 2 || byStatus[404] != 1 || byStatus[500] != 1 || byStatus[201] != 1 || byStatus[400] != 3 {
		t.Errorf("segments by status %v", byStatus)
	}

	// Shutdown wrote the metrics; the agent reads them from the closed
	// connection.
	docs, err := agent.WaitFor(wctx, func(d [][]byte) bool { return total(t, d, "Requests", nil) >= float64(len(cases)) })
	if err != nil {
		t.Fatalf("metrics: %v (%d documents)", err, len(docs))
	}
	for _, d := range docs {
		if err := schematest.EMF(d); err != nil {
			t.Errorf("EMF schema: %v\n%s", err, d)
		}
		if !bytes.Contains(d, []byte(`"Namespace":"Test/Orders"`)) || !bytes.Contains(d, []byte(`"Service":"orders-test"`)) {
			t.Errorf("namespace or service not taken from the environment: %s", d)
		}
	}
	if got := total(t, docs, "Requests", nil); got != float64(len(cases)) {
		t.Errorf("Requests = %v, want %d (health checks must not count)", got, len(cases))
	}
	if got := total(t, docs, "Faults", map[string]string{"Route": "GET /orders/{id}"}); got != 1 {
		t.Errorf("Faults on GET /orders/{id} = %v, want 1", got)
	}
	if got := total(t, docs, "ClientErrors", nil); got != 4 {
		t.Errorf("ClientErrors = %v, want 4", got)
	}
}

// total sums a metric over the documents whose dimensions include want.
func total(t *testing.T, docs [][]byte, metric string, want map[string]string) float64 {
	t.Helper()
	sum := 0.0
	for _, raw := range docs {
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("EMF document is not JSON: %v: %s", err, raw)
		}
		ok := true
		for k, v := range want {
			ok = ok && d[k] == v
		}
		if f, isNum := d[metric].(float64); ok && isNum {
			sum += f
		}
	}
	return sum
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := config{Addr: ":8080", Service: "orders", Namespace: "Sidelight/Examples", DaemonAddress: "127.0.0.1:2000",
		EMFEndpoint: "tcp://127.0.0.1:25888", Interval: 10 * time.Second}
	if c != want {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
	for _, bad := range []map[string]string{
		{"PORT": "http"}, {"PORT": "70000"}, {"AWS_XRAY_DAEMON_ADDRESS": "nohost"}, {"METRICS_INTERVAL": "-1s"}, {"METRICS_INTERVAL": "soon"},
	} {
		if _, err := loadConfig(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	env := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "AWS_EMF_AGENT_ENDPOINT": "ftp://nowhere"}
	err := run(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "ftp") {
		t.Fatalf("run with a bad EMF endpoint: %v", err)
	}
}
