package ecs

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// fargateMemory lists the task memory sizes (MiB) Fargate accepts for each
// task CPU size (Linux), from the ECS developer guide's task size table.
var fargateMemory = map[string]func(mem int) bool{
	"256":  func(m int) bool { return m == 512 || m == 1024 || m == 2048 },
	"512":  func(m int) bool { return m >= 1024 && m <= 4096 && m%1024 == 0 },
	"1024": func(m int) bool { return m >= 2048 && m <= 8192 && m%1024 == 0 },
	"2048": func(m int) bool { return m >= 4096 && m <= 16384 && m%1024 == 0 },
	"4096": func(m int) bool { return m >= 8192 && m <= 30720 && m%1024 == 0 },
}

// TestTemplateWiring checks what the schemas cannot: that the resources
// agree with each other and with the app. The load balancer forwards to
// the container and port the app listens on, the security groups open
// exactly that path, the target group's health check is the app's
// untraced /healthz, and the task size is one Fargate runs.
func TestTemplateWiring(t *testing.T) {
	r := resolve(t, with(deployValues))
	props := func(name string) map[string]any { return r.Resources[name].Properties }
	get := func(m map[string]any, keys ...string) any {
		var v any = m
		for _, k := range keys {
			mm, _ := v.(map[string]any)
			v = mm[k]
		}
		return v
	}
	num := func(v any) int {
		switch x := v.(type) {
		case json.Number:
			n, _ := strconv.Atoi(x.String())
			return n
		case float64:
			return int(x)
		case string:
			n, _ := strconv.Atoi(x)
			return n
		}
		return -1
	}

	raw, _ := json.Marshal(props("TaskDefinition")["ContainerDefinitions"])
	var defs []types.ContainerDefinition
	if err := decodeExact(raw, &defs, cfnName); err != nil {
		t.Fatal(err)
	}
	appDef := container(t, defs, "app")
	appEnv := containerEnv(t, r, "app")

	lbs, _ := props("Service")["LoadBalancers"].([]any)
	if len(lbs) != 1 {
		t.Fatalf("service load balancers: %v", lbs)
	}
	lb := lbs[0].(map[string]any)
	port := num(lb["ContainerPort"])
	if lb["ContainerName"] != "app" || len(appDef.PortMappings) != 1 || int(*appDef.PortMappings[0].ContainerPort) != port {
		t.Errorf("the service forwards to %v:%v; the app container maps %+v", lb["ContainerName"], lb["ContainerPort"], appDef.PortMappings)
	}
	if appEnv["PORT"] != strconv.Itoa(port) {
		t.Errorf("the app listens on PORT=%s, the load balancer sends to %d", appEnv["PORT"], port)
	}
	tg := props("TargetGroup")
	if num(tg["Port"]) != port || tg["TargetType"] != "ip" || tg["Protocol"] != "HTTP" {
		t.Errorf("target group %v: want HTTP to ip targets on %d (awsvpc)", tg, port)
	}
	if tg["HealthCheckPath"] != "/healthz" || get(tg, "Matcher", "HttpCode") != "200" {
		t.Errorf("target group health check %v %v; the app answers 200 on /healthz, outside the middleware", tg["HealthCheckPath"], tg["Matcher"])
	}
	listener := props("Listener")
	actions, _ := listener["DefaultActions"].([]any)
	if len(actions) != 1 || get(actions[0].(map[string]any), "Type") != "forward" {
		t.Fatalf("listener actions %v", actions)
	}
	if tgArn, _ := lb["TargetGroupArn"].(string); tgArn == "" || get(actions[0].(map[string]any), "TargetGroupArn") != tgArn {
		t.Errorf("the listener forwards to %v, the service registers in %v", get(actions[0].(map[string]any), "TargetGroupArn"), lb["TargetGroupArn"])
	}

	ingress := func(sg string) map[string]any {
		rules, _ := props(sg)["SecurityGroupIngress"].([]any)
		if len(rules) != 1 {
			t.Fatalf("%s: want exactly one ingress rule, got %v", sg, rules)
		}
		return rules[0].(map[string]any)
	}
	svcIn, lbIn := ingress("ServiceSecurityGroup"), ingress("LoadBalancerSecurityGroup")
	if num(svcIn["FromPort"]) != port || num(svcIn["ToPort"]) != port || svcIn["SourceSecurityGroupId"] == nil || svcIn["CidrIp"] != nil {
		t.Errorf("the tasks must accept %d from the load balancer's group only: %v", port, svcIn)
	}
	if num(lbIn["FromPort"]) != num(listener["Port"]) || num(lbIn["ToPort"]) != num(listener["Port"]) {
		t.Errorf("the load balancer's group opens %v-%v, the listener is on %v", lbIn["FromPort"], lbIn["ToPort"], listener["Port"])
	}
	nc := get(props("Service"), "NetworkConfiguration", "AwsvpcConfiguration").(map[string]any)
	if sgs, _ := nc["SecurityGroups"].([]any); len(sgs) != 1 {
		t.Errorf("service security groups %v", nc["SecurityGroups"])
	}

	td := props("TaskDefinition")
	cpu, _ := td["Cpu"].(string)
	mem := num(td["Memory"])
	if ok := fargateMemory[cpu]; ok == nil || !ok(mem) {
		t.Errorf("Fargate does not run a task of %s CPU units and %d MiB", cpu, mem)
	}
	sumCPU, sumMem := 0, 0
	for _, d := range defs {
		if d.Cpu != 0 {
			sumCPU += int(d.Cpu)
		}
		if d.MemoryReservation != nil {
			sumMem += int(*d.MemoryReservation)
		}
		if d.StopTimeout != nil && *d.StopTimeout > 120 {
			t.Errorf("%s: stopTimeout %d is above Fargate's 120 s", *d.Name, *d.StopTimeout)
		}
	}
	if c, _ := strconv.Atoi(cpu); sumCPU > c || sumMem > mem {
		t.Errorf("containers reserve %d CPU units and %d MiB of a %s/%d task", sumCPU, sumMem, cpu, mem)
	}
}
