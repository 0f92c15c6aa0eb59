package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const sidecarName = "sidelight-sidecar"

func readTaskDef(t *testing.T) *ecs.RegisterTaskDefinitionInput {
	t.Helper()
	raw, err := os.ReadFile("taskdef.json")
	if err != nil {
		t.Fatal(err)
	}
	var in ecs.RegisterTaskDefinitionInput
	if err := decodeExact(raw, &in, apiName); err != nil {
		t.Fatalf("taskdef.json does not decode strictly into RegisterTaskDefinitionInput: %v", err)
	}
	return &in
}

func container(t *testing.T, defs []types.ContainerDefinition, name string) types.ContainerDefinition {
	t.Helper()
	for _, d := range defs {
		if d.Name != nil && *d.Name == name {
			return d
		}
	}
	t.Fatalf("no container %q", name)
	return types.ContainerDefinition{}
}

func TestTaskDefinition(t *testing.T) {
	in := readTaskDef(t)
	if in.Family == nil || *in.Family == "" || in.NetworkMode != types.NetworkModeAwsvpc ||
		!slices.Equal(in.RequiresCompatibilities, []types.Compatibility{types.CompatibilityFargate}) {
		t.Errorf("want a Fargate awsvpc task with a family: %+v", in)
	}
	if len(in.ContainerDefinitions) != 2 {
		t.Fatalf("%d containers, want the app and the sidecar", len(in.ContainerDefinitions))
	}
	sc := container(t, in.ContainerDefinitions, sidecarName)
	app := container(t, in.ContainerDefinitions, "app")

	if sc.HealthCheck == nil || !slices.Equal(sc.HealthCheck.Command, []string{"CMD", "/sidecar", "health"}) {
		t.Errorf("sidecar health check %+v, want the sidecar's health subcommand", sc.HealthCheck)
	}
	if len(app.DependsOn) != 1 || *app.DependsOn[0].ContainerName != sidecarName || app.DependsOn[0].Condition != types.ContainerConditionHealthy {
		t.Errorf("app dependsOn %+v, want the sidecar HEALTHY", app.DependsOn)
	}
	ports := func(d types.ContainerDefinition) []string {
		var out []string
		for _, p := range d.PortMappings {
			out = append(out, strings.ToLower(string(p.Protocol))+"/"+itoa(p.ContainerPort))
		}
		slices.Sort(out)
		return out
	}
	if got, want := ports(sc), []string{"tcp/2000", "tcp/25888", "udp/2000", "udp/25888"}; !slices.Equal(got, want) {
		t.Errorf("sidecar ports %v, want %v", got, want)
	}
	if got := ports(app); !slices.Equal(got, []string{"tcp/8080"}) {
		t.Errorf("app ports %v", got)
	}
	for _, d := range in.ContainerDefinitions {
		lc := d.LogConfiguration
		if lc == nil || lc.LogDriver != types.LogDriverAwslogs || lc.Options["awslogs-group"] == "" ||
			lc.Options["awslogs-region"] == "" || lc.Options["awslogs-stream-prefix"] == "" {
			t.Errorf("%s: want awslogs with group, region and stream prefix: %+v", *d.Name, lc)
		}
		if d.Essential == nil || !*d.Essential {
			t.Errorf("%s is not essential: a task whose sidecar died would keep running without telemetry", *d.Name)
		}
	}
	env := map[string]string{}
	for _, kv := range app.Environment {
		env[*kv.Name] = *kv.Value
	}
	if env["AWS_XRAY_DAEMON_ADDRESS"] != "127.0.0.1:2000" || env["AWS_EMF_AGENT_ENDPOINT"] != "tcp://127.0.0.1:25888" {
		t.Errorf("app does not send to the sidecar on the task's localhost: %v", env)
	}
	// The sidecar must have time to flush after SIGTERM.
	scEnv := map[string]string{}
	for _, kv := range sc.Environment {
		scEnv[*kv.Name] = *kv.Value
	}
	if scEnv["SIDELIGHT_SHUTDOWN_TIMEOUT"] == "" || sc.StopTimeout == nil || durationSeconds(t, scEnv["SIDELIGHT_SHUTDOWN_TIMEOUT"]) >= float64(*sc.StopTimeout) {
		t.Errorf("sidecar shutdown timeout %q must be below its stopTimeout %v", scEnv["SIDELIGHT_SHUTDOWN_TIMEOUT"], sc.StopTimeout)
	}
	for _, e := range enumErrors(in) {
		t.Error(e)
	}
}

// enumErrors checks every enum the task definition sets against the SDK's
// list of values (decoding alone accepts any string).
func enumErrors(in *ecs.RegisterTaskDefinitionInput) []string {
	var errs []string
	check := func(what, v string, valid []string) {
		if !slices.Contains(valid, v) {
			errs = append(errs, fmt.Sprintf("%s %q is not one of %v", what, v, valid))
		}
	}
	strs := func(vs any) []string {
		var out []string
		rv := reflect.ValueOf(vs)
		for i := range rv.Len() {
			out = append(out, rv.Index(i).String())
		}
		return out
	}
	check("networkMode", string(in.NetworkMode), strs(types.NetworkMode("").Values()))
	for _, c := range in.RequiresCompatibilities {
		check("requiresCompatibilities", string(c), strs(types.Compatibility("").Values()))
	}
	if p := in.RuntimePlatform; p != nil {
		check("operatingSystemFamily", string(p.OperatingSystemFamily), strs(types.OSFamily("").Values()))
		check("cpuArchitecture", string(p.CpuArchitecture), strs(types.CPUArchitecture("").Values()))
	}
	for _, d := range in.ContainerDefinitions {
		for _, p := range d.PortMappings {
			check("protocol", string(p.Protocol), strs(types.TransportProtocol("").Values()))
			if p.AppProtocol != "" {
				check("appProtocol", string(p.AppProtocol), strs(types.ApplicationProtocol("").Values()))
			}
		}
		for _, dep := range d.DependsOn {
			check("dependsOn condition", string(dep.Condition), strs(types.ContainerCondition("").Values()))
		}
		if d.LogConfiguration != nil {
			check("logDriver", string(d.LogConfiguration.LogDriver), strs(types.LogDriver("").Values()))
		}
	}
	return errs
}

func itoa(p *int32) string {
	if p == nil {
		return "nil"
	}
	return strconv.Itoa(int(*p))
}

func durationSeconds(t *testing.T, s string) float64 {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d.Seconds()
}

func TestTaskDefinitionIsStrict(t *testing.T) {
	raw, err := os.ReadFile("taskdef.json")
	if err != nil {
		t.Fatal(err)
	}
	// A misspelt field must not be silently ignored.
	bad := bytes.Replace(raw, []byte(`"healthCheck"`), []byte(`"healthcheck_"`), 1)
	var in ecs.RegisterTaskDefinitionInput
	if err := decodeExact(bad, &in, apiName); err == nil {
		t.Fatal("a misspelt healthCheck decoded without error")
	}
	// So must a field spelt with the wrong case, which the API refuses.
	bad = bytes.Replace(raw, []byte(`"healthCheck"`), []byte(`"HealthCheck"`), 1)
	if err := decodeExact(bad, &in, apiName); err == nil || !strings.Contains(err.Error(), "case-sensitive") {
		t.Fatalf("HealthCheck decoded: %v", err)
	}
	in2 := readTaskDef(t)
	in2.ContainerDefinitions[0].PortMappings[0].Protocol = "UDP"
	in2.ContainerDefinitions[1].DependsOn[0].Condition = "HEALTH"
	if errs := enumErrors(in2); len(errs) != 2 {
		t.Fatalf("enum check found %q, want the protocol and the condition", errs)
	}
}

// TestTaskDefinitionMatchesTemplate checks that taskdef.json and the
// template's AWS::ECS::TaskDefinition describe the same containers: the
// template's ContainerDefinitions also decode strictly into the SDK's
// types, and only the images and log groups/region (deployment specific)
// may differ.
func TestTaskDefinitionMatchesTemplate(t *testing.T) {
	in := readTaskDef(t)
	r := resolve(t, with(deployValues))
	raw, err := json.Marshal(r.Resources["TaskDefinition"].Properties["ContainerDefinitions"])
	if err != nil {
		t.Fatal(err)
	}
	var fromTemplate []types.ContainerDefinition
	if err := decodeExact(raw, &fromTemplate, cfnName); err != nil {
		t.Fatalf("the template's ContainerDefinitions do not decode into the SDK's types: %v", err)
	}
	norm := func(defs []types.ContainerDefinition) []types.ContainerDefinition {
		out := make([]types.ContainerDefinition, len(defs))
		for i, d := range defs {
			d.Image = nil
			// The OTLP log group is named after the stack, like the
			// containers' log group.
			var env []types.KeyValuePair
			for _, kv := range d.Environment {
				if kv.Name != nil && *kv.Name == "SIDELIGHT_OTLP_LOG_GROUP" {
					kv = types.KeyValuePair{Name: kv.Name}
				}
				env = append(env, kv)
			}
			d.Environment = env
			if d.LogConfiguration != nil {
				lc := *d.LogConfiguration
				lc.Options = map[string]string{"awslogs-stream-prefix": lc.Options["awslogs-stream-prefix"]}
				d.LogConfiguration = &lc
			}
			out[i] = d
		}
		return out
	}
	a, b := norm(in.ContainerDefinitions), norm(fromTemplate)
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", " ")
		jb, _ := json.MarshalIndent(b, "", " ")
		t.Errorf("taskdef.json and template.json differ:\n%s\nvs\n%s", ja, jb)
	}
	props := r.Resources["TaskDefinition"].Properties
	if props["NetworkMode"] != string(in.NetworkMode) || props["Cpu"] != *in.Cpu || props["Memory"] != *in.Memory {
		t.Errorf("task sizes or network mode differ: %v %v %v", props["NetworkMode"], props["Cpu"], props["Memory"])
	}
}
