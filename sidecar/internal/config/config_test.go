package config_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(config.Config) bool
		wantErr string
	}{
		{"defaults", nil, nil, func(c config.Config) bool {
			return c.XRayUDPAddr == "127.0.0.1:2000" && c.EMFTCPAddr == "127.0.0.1:25888" &&
				c.OTLPHTTPAddr == "127.0.0.1:4318" && c.OTLPGRPCAddr == "127.0.0.1:4317" && c.MemoryBudget == 16<<20 && !c.Local
		}, ""},
		{"env", nil, map[string]string{"SIDELIGHT_MEMORY_BUDGET_MIB": "8", "SIDELIGHT_LOCAL": "true", "SIDELIGHT_ECS_DIMENSIONS": "cluster, family"},
			func(c config.Config) bool {
				return c.MemoryBudget == 8<<20 && c.Local && fmt.Sprint(c.ECSDims) == "[cluster family]"
			}, ""},
		{"flag beats env", []string{"-shutdown-timeout", "5s"}, map[string]string{"SIDELIGHT_SHUTDOWN_TIMEOUT": "9s"},
			func(c config.Config) bool { return c.Shutdown == 5*time.Second }, ""},
		{"non-loopback refused", []string{"-xray-udp-addr", "0.0.0.0:2000"}, nil, nil, "not a loopback"},
		{"non-loopback allowed", []string{"-xray-udp-addr", "0.0.0.0:2000", "-allow-remote"}, nil,
			func(c config.Config) bool { return c.XRayUDPAddr == "0.0.0.0:2000" }, ""},
		{"off", []string{"-emf-udp-addr", "off", "-xray-tcp-addr", "off"}, nil, func(c config.Config) bool { return c.EMFUDPAddr == "off" }, ""},
		{"otlp off", []string{"-otlp-http-addr", "off", "-otlp-grpc-addr", "off"}, nil,
			func(c config.Config) bool { return c.OTLPHTTPAddr == "off" && c.OTLPGRPCAddr == "off" }, ""},
		{"otlp from env", nil, map[string]string{"SIDELIGHT_OTLP_HTTP_ADDR": "127.0.0.1:0", "SIDELIGHT_OTLP_GRPC_ADDR": "off"},
			func(c config.Config) bool { return c.OTLPHTTPAddr == "127.0.0.1:0" && c.OTLPGRPCAddr == "off" }, ""},
		{"otlp non-loopback refused", []string{"-otlp-grpc-addr", "0.0.0.0:4317"}, nil, nil, "-otlp-grpc-addr \"0.0.0.0:4317\" is not a loopback"},
		{"otlp http non-loopback refused", nil, map[string]string{"SIDELIGHT_OTLP_HTTP_ADDR": "0.0.0.0:4318"}, nil, "-otlp-http-addr"},
		{"otlp non-loopback allowed", []string{"-otlp-http-addr", "0.0.0.0:4318", "-allow-remote"}, nil,
			func(c config.Config) bool { return c.OTLPHTTPAddr == "0.0.0.0:4318" }, ""},
		{"otlp bad address", []string{"-otlp-http-addr", "4318"}, nil, nil, "-otlp-http-addr \"4318\""},
		{"ui hosts", []string{"-allow-remote", "-ui-addr", "0.0.0.0:2772", "-allowed-hosts", "sidecar, 10.0.1.7,fd00::7"}, nil,
			func(c config.Config) bool { return fmt.Sprint(c.AllowedHosts) == "[sidecar 10.0.1.7 fd00::7]" }, ""},
		{"ui hosts from env", nil, map[string]string{"SIDELIGHT_ALLOW_REMOTE": "true", "SIDELIGHT_ALLOWED_HOSTS": "*"},
			func(c config.Config) bool { return fmt.Sprint(c.AllowedHosts) == "[*]" }, ""},
		{"ui hosts need allow-remote", []string{"-allowed-hosts", "sidecar"}, nil, nil, "needs -allow-remote"},
		{"ui host with port", []string{"-allow-remote", "-allowed-hosts", "sidecar:2772"}, nil, nil, "without ports"},
		{"demo rollout", []string{"-demo-rollout"}, nil, func(c config.Config) bool { return c.DemoRollout && c.Demo && c.Local }, ""},
		{"demo rollout from env", nil, map[string]string{"SIDELIGHT_DEMO_ROLLOUT": "true"}, func(c config.Config) bool { return c.DemoRollout && c.Demo }, ""},
		{"bad env", nil, map[string]string{"SIDELIGHT_UDP_RCVBUF": "lots"}, nil, "SIDELIGHT_UDP_RCVBUF"},
		{"bad level", []string{"-log-level", "loud"}, nil, nil, "log-level"},
		{"stray args", []string{"extra"}, nil, nil, "unexpected"},
		{"exporters default", nil, nil, func(c config.Config) bool {
			return c.TracesExporter == "xray" && c.LogsExporter == "logs" && c.OTLPLogGroup == "/sidelight/otlp"
		}, ""},
		{"traces to X-Ray's OTLP endpoint", nil, map[string]string{"SIDELIGHT_TRACES_EXPORTER": "xray-otlp"},
			func(c config.Config) bool { return c.TracesExporter == "xray-otlp" && c.TracesEndpoint == "" }, ""},
		{"traces to a collector", []string{"-traces-exporter", "otlp", "-traces-endpoint", "http://tempo:4318/v1/traces",
			"-traces-headers", "X-Scope-OrgID=team-a, authorization=Basic%20abc"}, nil,
			func(c config.Config) bool {
				return c.TracesEndpoint == "http://tempo:4318/v1/traces" && c.TracesHeaders["X-Scope-OrgID"] == "team-a" &&
					c.TracesHeaders["authorization"] == "Basic abc"
			}, ""},
		{"otlp exporter needs an endpoint", []string{"-traces-exporter", "otlp"}, nil, nil, "needs -traces-endpoint"},
		{"unknown traces exporter", []string{"-traces-exporter", "jaeger"}, nil, nil, "want xray, xray-otlp or otlp"},
		{"unknown logs exporter", []string{"-logs-exporter", "stdout"}, nil, nil, "want logs, logs-otlp or otlp"},
		{"bad endpoint", []string{"-logs-exporter", "otlp", "-logs-endpoint", "collector:4318"}, nil, nil, "want an http(s) URL"},
		{"bad header", []string{"-logs-headers", "novalue"}, nil, nil, "-logs-headers"},
		{"logs to CloudWatch's OTLP endpoint", []string{"-logs-exporter", "logs-otlp", "-otlp-log-group", "app"}, nil,
			func(c config.Config) bool { return c.LogsExporter == "logs-otlp" && c.OTLPLogGroup == "app" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func ExampleParse() {
	c, err := config.Parse([]string{"-emf-to-logs"}, func(string) string { return "" }, io.Discard)
	fmt.Println(c.EMFToLogs, c.LogGroup, err)
	// Output: true /sidelight/emf <nil>
}

// FuzzHeaders: any -traces-headers value parses or fails with an error;
// what parses has no line break in a name or value.
func FuzzHeaders(f *testing.F) {
	f.Add("X-Scope-OrgID=team-a, authorization=Basic%20abc")
	f.Add("a=%0d%0aInjected: 1")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := config.Parse([]string{"-traces-headers", v}, env(nil), io.Discard)
		if err != nil {
			return
		}
		for k, v := range c.TracesHeaders {
			if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
				t.Fatalf("header %q: %q", k, v)
			}
		}
	})
}
