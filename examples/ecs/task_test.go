package ecs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// sidecarFlags runs `sidecar -h` with env and returns the flag names it
// lists. The sidecar applies SIDELIGHT_* variables before it reads the
// command line, so a bad value makes it fail here too.
func sidecarFlags(t *testing.T, bin string, env map[string]string) map[string]bool {
	t.Helper()
	cmd := exec.Command(bin, "-h")
	cmd.Env = envList(env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sidecar -h with the task definition's environment: %v\n%s", err, out)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if len(flags) < 10 {
		t.Fatalf("could not read the flags from:\n%s", out)
	}
	return flags
}

// TestSidecarEnvironmentIsRead checks every variable the task definitions
// set for the sidecar: AWS_REGION (read by the AWS SDK) or SIDELIGHT_<FLAG>
// for one of the sidecar's flags, with a value the flag accepts.
func TestSidecarEnvironmentIsRead(t *testing.T) {
	bin := goBuild(t, "./sidecar")
	envs := map[string]map[string]string{"template.json": containerEnv(t, resolve(t, with(deployValues)), sidecarName)}
	td := readTaskDef(t)
	sc := container(t, td.ContainerDefinitions, sidecarName)
	envs["taskdef.json"] = map[string]string{}
	for _, kv := range sc.Environment {
		envs["taskdef.json"][*kv.Name] = *kv.Value
	}
	for file, env := range envs {
		flags := sidecarFlags(t, bin, env)
		for name := range env {
			if name == "AWS_REGION" {
				continue
			}
			flag, ok := strings.CutPrefix(name, "SIDELIGHT_")
			flag = strings.ReplaceAll(strings.ToLower(flag), "_", "-")
			if !ok || !flags[flag] {
				t.Errorf("%s: the sidecar reads no %s", file, name)
			}
		}
		if _, ok := env["SIDELIGHT_ECS_DIMENSIONS"]; ok {
			t.Errorf("%s: ECS metric dimensions would change the dimension sets the alarms read", file)
		}
	}
	// The check itself: a misspelt variable is caught, a bad value fails.
	if flags := sidecarFlags(t, bin, nil); flags["memory-budget"] {
		t.Error("flag list parsing is off")
	}
	cmd := exec.Command(bin, "-h")
	cmd.Env = envList(map[string]string{"SIDELIGHT_SHUTDOWN_TIMEOUT": "soon"})
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("a bad SIDELIGHT_SHUTDOWN_TIMEOUT went unnoticed:\n%s", out)
	}
}

// TestTaskRunsLocally runs the task as ECS would, on this machine: the
// sidecar with its container environment (plus local mode, since there is
// no AWS here, and free ports), its health check command until healthy
// (the app's dependsOn condition), then the app with its container
// environment pointed at the sidecar, requests, SIGTERM to the app and
// the sidecar, and the sidecar's counters.
func TestTaskRunsLocally(t *testing.T) {
	td := readTaskDef(t)
	scDef := container(t, td.ContainerDefinitions, sidecarName)
	appDef := container(t, td.ContainerDefinitions, "app")
	scBin, appBin := goBuild(t, "./sidecar"), goBuild(t, "./examples/ecs/app")

	scEnv := map[string]string{}
	for _, kv := range scDef.Environment {
		scEnv[*kv.Name] = *kv.Value
	}
	// Free ports instead of 2000/25888/2021, which other tests or a real
	// daemon on this machine may hold; local mode instead of AWS.
	for _, k := range []string{"XRAY_UDP_ADDR", "XRAY_TCP_ADDR", "EMF_TCP_ADDR", "EMF_UDP_ADDR", "STATUS_ADDR", "UI_ADDR", "OTLP_HTTP_ADDR", "OTLP_GRPC_ADDR"} {
		scEnv["SIDELIGHT_"+k] = "127.0.0.1:0"
	}
	scEnv["SIDELIGHT_LOCAL"] = "true"
	// ECS gives every container the task metadata endpoint.
	metadata := ecsMetadataServer(t)
	scEnv["ECS_CONTAINER_METADATA_URI_V4"] = metadata
	sidecar := start(t, scBin, envList(scEnv))
	started := sidecar.waitLine(t, "sidecar started")
	info, _ := started["info"].(map[string]any)
	addr := func(k string) string {
		s, _ := info[k].(string)
		if s == "" {
			t.Fatalf("sidecar start line has no %s: %v", k, started)
		}
		return s
	}
	statusAddr, xrayAddr, emfAddr := addr("addr_status"), addr("addr_xray_udp"), addr("addr_emf_tcp")
	if !strings.Contains(sidecar.log(), `"msg":"running on ECS"`) {
		t.Errorf("the sidecar did not read the task metadata:\n%s", sidecar.log())
	}

	// The container health check, with the container's environment.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin, args := healthCommand(t, scDef.HealthCheck.Command, scBin)
	health := func() error {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = envList(scEnv, "SIDELIGHT_STATUS_ADDR="+statusAddr)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return &exitError{err, string(out)}
		}
		return nil
	}
	if err := health(); err != nil {
		t.Fatalf("the sidecar is not HEALTHY after it logged its start: %v", err)
	}
	if appDef.DependsOn[0].Condition != types.ContainerConditionHealthy {
		t.Fatal("the app does not wait for the health check")
	}

	appEnv := map[string]string{}
	for _, kv := range appDef.Environment {
		appEnv[*kv.Name] = *kv.Value
	}
	if appEnv["AWS_XRAY_DAEMON_ADDRESS"] != "127.0.0.1:2000" || appEnv["AWS_EMF_AGENT_ENDPOINT"] != "tcp://127.0.0.1:25888" {
		t.Fatalf("app environment does not point at the sidecar's default ports: %v", appEnv)
	}
	appEnv["AWS_XRAY_DAEMON_ADDRESS"] = xrayAddr
	appEnv["AWS_EMF_AGENT_ENDPOINT"] = "tcp://" + emfAddr
	appEnv["HOST"], appEnv["PORT"] = "127.0.0.1", "0"
	appEnv["ECS_CONTAINER_METADATA_URI_V4"] = metadata
	app := start(t, appBin, envList(appEnv))
	listening := app.waitLine(t, "orders listening")
	base := "http://" + listening["addr"].(string)
	paths := []string{"/orders/1", "/orders/1", "/orders/2", "/orders/boom", "/orders/1?delay=20ms"}
	for _, p := range paths {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+p, nil)
		req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := app.stop(t); err != nil {
		t.Fatalf("app exit after SIGTERM: %v\n%s", err, app.log())
	}

	// The sidecar receives asynchronously (UDP, TCP); ask its counters
	// until they show everything or the deadline passes.
	var status struct {
		Counters map[string]float64 `json:"counters"`
		Info     map[string]any     `json:"info"`
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := getJSON(ctx, "http://"+statusAddr+"/status", &status); err != nil {
			t.Fatal(err)
		}
		if status.Counters["segments.accepted"] >= float64(len(paths)) && status.Counters["emf.accepted"] >= 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the sidecar did not receive the app's telemetry: %v\nsidecar:\n%s\napp:\n%s", status.Counters, sidecar.log(), app.log())
		case <-tick.C:
		}
	}
	for k, v := range status.Counters {
		if strings.Contains(k, "rejected") && v != 0 {
			t.Errorf("sidecar rejected telemetry from the app: %s = %v", k, v)
		}
	}
	if status.Info["mode"] != "local" {
		t.Errorf("sidecar mode %v", status.Info["mode"])
	}
	checkLocalView(ctx, t, addr("addr_ui"), len(paths))
	if err := sidecar.stop(t); err != nil {
		t.Fatalf("sidecar exit after SIGTERM: %v\n%s", err, sidecar.log())
	}
	if err := health(); err == nil {
		t.Error("the health check passes with the sidecar stopped")
	}
}

type exitError struct {
	err    error
	output string
}

func (e *exitError) Error() string { return e.err.Error() + ": " + e.output }

// ecsMetadataServer serves the task metadata endpoint v4 from the Fargate
// public samples schematest keeps, and returns its URL.
func ecsMetadataServer(t *testing.T) string {
	t.Helper()
	container, err := schematest.ReadReference("samples/ecs-v4-container-fargate.json")
	if err != nil {
		t.Fatal(err)
	}
	task, err := schematest.ReadReference("samples/ecs-v4-task-fargate.json")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v4/abc/{$}", func(w http.ResponseWriter, _ *http.Request) { w.Write(container) })
	mux.HandleFunc("GET /v4/abc", func(w http.ResponseWriter, _ *http.Request) { w.Write(container) })
	mux.HandleFunc("GET /v4/abc/task", func(w http.ResponseWriter, _ *http.Request) { w.Write(task) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v4/abc"
}

// checkLocalView asks the sidecar's local view for what a user would look
// at: the trace with its fault, and the service's request count under the
// dimension set the alarms read (the app ran with the ECS metadata
// endpoint set, as on ECS, which changes how the EMF library configures
// itself but must not change the dimensions).
func checkLocalView(ctx context.Context, t *testing.T, ui string, requests int) {
	t.Helper()
	ui = strings.TrimSuffix(ui, "/")
	var trace map[string]any
	if err := getJSON(ctx, ui+"/api/traces/1-5759e988-bd862e3fe1be46a994272793", &trace); err != nil {
		t.Fatalf("the trace is not in the local view: %v", err)
	}
	raw, _ := json.Marshal(trace)
	// (The view does not show the segments' origin and aws blocks.)
	for _, want := range []string{`"order_id":"boom"`, `"fault":true`, `"status":"fault"`, `simulated fault: the order database is unreachable`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the trace lacks %s: %s", want, raw)
		}
	}
	var m struct {
		Series []struct {
			Namespace  string `json:"namespace"`
			Name       string `json:"name"`
			Dimensions []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"dimensions"`
			Points []struct {
				Sum float64 `json:"sum"`
			} `json:"points"`
		} `json:"series"`
	}
	if err := getJSON(ctx, ui+"/api/metrics?namespace=Sidelight%2FExamples&metric=Requests", &m); err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, s := range m.Series {
		if s.Namespace != "Sidelight/Examples" || s.Name != "Requests" || len(s.Dimensions) != 1 ||
			s.Dimensions[0].Key != "Service" || s.Dimensions[0].Value != "orders" {
			continue
		}
		for _, p := range s.Points {
			total += p.Sum
		}
	}
	if total != float64(requests) {
		t.Errorf("Requests for Service=orders in the local view: %v, want %s (series %+v)", total, strconv.Itoa(requests), m.Series)
	}
}
