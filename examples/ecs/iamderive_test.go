package ecs

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

// TestTaskRoleGrantsWhatTheSidecarCalls derives the task role's actions
// from the sidecar itself, for each traces exporter the template offers:
// the built sidecar runs with the container's environment and command
// from template.json resolved with that TracesExporter, against fakeaws
// (which checks SigV4 and names each call's IAM action), and is fed what
// an app sends it: a segment over UDP, an EMF document over TCP, the two
// calls an X-Ray SDK's sampler makes to the sampling proxy, and a span and
// a log record over OTLP/HTTP. After it drains on SIGTERM, the actions it
// called must be exactly those the role allows: a missing one is refused
// in AWS, an extra one is not needed.
func TestTaskRoleGrantsWhatTheSidecarCalls(t *testing.T) {
	for exporter, want := range map[string]string{"xray": "xray:PutTraceSegments", "xray-otlp": "xray:PutSpans"} {
		t.Run(exporter, func(t *testing.T) {
			r := resolve(t, with(deployValues, "MetricsNamespace", "Shop/Prod", "TracesExporter", exporter))
			if got := containerEnv(t, r, sidecarName)["SIDELIGHT_TRACES_EXPORTER"]; got != exporter {
				t.Fatalf("TracesExporter %s sets SIDELIGHT_TRACES_EXPORTER=%q", exporter, got)
			}
			called := sidecarActions(t, r, nil)
			if !slices.Contains(called, want) {
				t.Errorf("with TracesExporter %s the sidecar called %v, not %s", exporter, called, want)
			}
			allowed := allowedActions(t, r)
			for _, a := range called {
				if !slices.Contains(allowed, a) {
					t.Errorf("the sidecar calls %s, which the task role does not allow: in AWS that call is refused", a)
				}
			}
			for _, a := range allowed {
				if !slices.Contains(called, a) {
					t.Errorf("the task role allows %s, which the sidecar as configured never calls", a)
				}
			}
			if len(called) < 5 {
				t.Errorf("the sidecar called only %v: the test did not drive every receiver", called)
			}
		})
	}
}

// allowedActions lists the actions the task role allows, sorted.
func allowedActions(t *testing.T, r *cfn.Resolved) []string {
	t.Helper()
	var allowed []string
	for _, s := range roleStatements(t, r, "TaskRole") {
		if s.Effect == "Allow" {
			allowed = append(allowed, cfn.Strings(s.Action)...)
		}
	}
	slices.Sort(allowed)
	return slices.Compact(allowed)
}

// sidecarActions runs the sidecar as the template's task definition
// configures it and returns the IAM actions of the AWS calls it made.
func sidecarActions(t *testing.T, r *cfn.Resolved, override map[string]string) []string {
	t.Helper()
	// Log streams must be created before PutLogEvents, as in AWS.
	fake := fakeaws.New(fakeaws.WithLogStreamsRequired())
	t.Cleanup(fake.Close)
	env := containerEnv(t, r, sidecarName)
	appEnv := containerEnv(t, r, "app")
	// Free loopback ports instead of the fixed ones; everything else as in
	// the task definition, plus the fake's endpoints and credentials.
	for _, k := range []string{"XRAY_UDP_ADDR", "XRAY_TCP_ADDR", "EMF_TCP_ADDR", "EMF_UDP_ADDR", "STATUS_ADDR", "UI_ADDR", "OTLP_HTTP_ADDR", "OTLP_GRPC_ADDR"} {
		env["SIDELIGHT_"+k] = "127.0.0.1:0"
	}
	for k, v := range fake.Env() {
		env[k] = v
	}
	env["SIDELIGHT_METRICS_FLUSH"] = "1s" // the same calls, sooner
	for k, v := range override {
		env[k] = v
	}
	sidecar := start(t, goBuild(t, "./sidecar"), envList(env), containerCommand(t, r, sidecarName)...)
	started := sidecar.waitLine(t, "sidecar started")
	info, _ := started["info"].(map[string]any)
	if info["mode"] != "aws" {
		t.Fatalf("the sidecar started in %v mode:\n%s", info["mode"], sidecar.log())
	}
	addr := func(k string) string {
		s, _ := info[k].(string)
		if s == "" {
			t.Fatalf("the sidecar logged no %s (is that receiver off in the task definition?): %v", k, info)
		}
		return s
	}

	// A segment, as the app's middleware sends it.
	now := time.Now()
	seg := fmt.Sprintf(`{"format":"json","version":1}`+"\n"+
		`{"trace_id":"1-%08x-5759e988bd862e3fe1be46a9","id":"70de5b6f19ff9a0a","name":"orders","start_time":%d.1,"end_time":%d.2}`,
		now.Unix(), now.Unix(), now.Unix())
	conn, err := net.Dial("udp", addr("addr_xray_udp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(seg)); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	// An EMF document in the app's namespace, over TCP.
	ns := appEnv["AWS_EMF_NAMESPACE"]
	if ns == "" {
		t.Fatal("the app container sets no AWS_EMF_NAMESPACE")
	}
	emf := fmt.Sprintf(`{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":%q,"Dimensions":[["Service"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Service":"orders","Requests":1}`+"\n",
		now.UnixMilli(), ns)
	tcp, err := net.Dial("tcp", addr("addr_emf_tcp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tcp, emf); err != nil {
		t.Fatal(err)
	}
	tcp.Close()

	// The two calls an X-Ray SDK's centralized sampler makes.
	proxy := "http://" + addr("addr_xray_tcp")
	for path, body := range map[string]string{
		"/GetSamplingRules": `{}`,
		"/SamplingTargets":  fmt.Sprintf(`{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"0123456789abcdef01234567","RequestCount":1,"SampledCount":1,"BorrowCount":0,"Timestamp":%d}]}`, now.Unix()),
	} {
		resp, err := http.Post(proxy+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("sampling proxy %s: status %d", path, resp.StatusCode)
		}
	}

	// A span and a log record over OTLP/HTTP, as an OTel SDK sends them to
	// OTEL_EXPORTER_OTLP_ENDPOINT (the app container's value names the
	// port; the test uses the sidecar's free one).
	endpoint := appEnv["OTEL_EXPORTER_OTLP_ENDPOINT"]
	if endpoint != "http://127.0.0.1:4318" {
		t.Errorf("the app container's OTEL_EXPORTER_OTLP_ENDPOINT is %q; want the sidecar's OTLP/HTTP port on the task's loopback", endpoint)
	}
	otlpBase := "http://" + addr("addr_otlp_http")
	nano := now.UnixNano()
	for path, body := range map[string]string{
		"/v1/traces": fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},"scopeSpans":[{"spans":[{"traceId":"%08x5759e988bd862e3fe1be46a9","spanId":"80de5b6f19ff9a0a","name":"GET /orders","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, now.Unix(), nano, nano+1e6),
		"/v1/logs":   fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","severityText":"INFO","body":{"stringValue":"order placed"}}]}]}]}`, nano),
	} {
		resp, err := http.Post(otlpBase+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("OTLP %s: status %d: %s", path, resp.StatusCode, b)
		}
	}

	// Wait until the telemetry reached the fake, then drain as ECS stops a
	// task, so that whatever is sent at shutdown is counted too.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := fake.WaitFor(ctx, func() bool {
		traces := fake.SegmentCount() >= 2 || fake.SpanCount() >= 2
		var otlpLog bool
		for _, r := range fake.LogRequests() {
			otlpLog = otlpLog || r.LogGroupName == env["SIDELIGHT_OTLP_LOG_GROUP"]
		}
		return traces && otlpLog && len(fake.Metrics())+len(fake.LogRequests()) > 0
	}); err != nil {
		t.Fatalf("the sidecar did not forward the telemetry: %v\n%s", err, sidecar.log())
	}
	if err := sidecar.stop(t); err != nil {
		t.Fatalf("sidecar exit after SIGTERM: %v\n%s", err, sidecar.log())
	}
	if fake.Unsigned() != 0 {
		t.Errorf("%d unsigned requests reached AWS", fake.Unsigned())
	}
	return fake.Actions()
}

// containerCommand returns the Command of a container in the template's
// task definition (the sidecar's flags, if any).
func containerCommand(t *testing.T, r *cfn.Resolved, container string) []string {
	t.Helper()
	defs, _ := r.Resources["TaskDefinition"].Properties["ContainerDefinitions"].([]any)
	for _, d := range defs {
		m, _ := d.(map[string]any)
		if m["Name"] == container {
			return cfn.Strings(m["Command"])
		}
	}
	t.Fatalf("no container %q in the template's task definition", container)
	return nil
}

// TestEMFToLogsActionsAreDocumented: with -emf-to-logs the sidecar calls
// CloudWatch Logs instead of PutMetricData; the README names every action
// it then calls, derived the same way.
func TestEMFToLogsActionsAreDocumented(t *testing.T) {
	r := resolve(t, deployValues)
	called := sidecarActions(t, r, map[string]string{"SIDELIGHT_EMF_TO_LOGS": "true"})
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	logs := 0
	for _, a := range called {
		if strings.HasPrefix(a, "logs:") {
			logs++
		}
		if a == "cloudwatch:PutMetricData" {
			t.Errorf("with -emf-to-logs the sidecar still calls %s", a)
		}
		if !strings.Contains(string(readme), "`"+a+"`") {
			t.Errorf("with -emf-to-logs the sidecar calls %s, which README.md does not name", a)
		}
	}
	if logs == 0 {
		t.Errorf("with -emf-to-logs the sidecar called %v, no CloudWatch Logs action", called)
	}
}
