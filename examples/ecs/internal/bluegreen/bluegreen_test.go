package bluegreen

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
)

var values = map[string]string{
	"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
	"AppImage": "registry/orders:v1", "SidecarImage": "registry/sidecar:v1",
}

// check parses doc, resolves it with values (no schema check, so that the
// strict decoding is what refuses a misspelt property) and runs Check.
func check(t *testing.T, doc map[string]any) error {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := cfn.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(values)
	if err != nil {
		t.Fatal(err)
	}
	return Check(tm, r)
}

func example(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../template.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// at returns the object at a path of keys and list indexes under the
// document's Resources, failing the test if there is none.
func at(t *testing.T, doc map[string]any, path ...any) map[string]any {
	t.Helper()
	var v any = doc["Resources"]
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				t.Fatalf("no %v in the template", path)
			}
			v = l[k]
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("no object at %v in the template", path)
	}
	return m
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func advanced(t *testing.T, doc map[string]any) map[string]any {
	return at(t, doc, "Service", "Properties", "LoadBalancers", 0, "AdvancedConfiguration")
}

func ruleTargets(t *testing.T, doc map[string]any, rule string) []any {
	tgs, _ := at(t, doc, rule, "Properties", "Actions", 0, "ForwardConfig")["TargetGroups"].([]any)
	if len(tgs) != 2 {
		t.Fatalf("%s forwards to %v", rule, tgs)
	}
	return tgs
}

// addTestListener adds a second listener on the load balancer with a rule
// forwarding to both target groups, and names it the test listener rule.
func addTestListener(t *testing.T, doc map[string]any) {
	res := doc["Resources"].(map[string]any)
	res["TestListener"] = map[string]any{"Type": TypeListener, "Properties": map[string]any{
		"LoadBalancerArn": ref("LoadBalancer"), "Port": 8080, "Protocol": "HTTP",
		"DefaultActions": []any{map[string]any{"Type": "forward", "TargetGroupArn": ref("TargetGroup")}}}}
	var rule map[string]any
	raw, _ := json.Marshal(res["ListenerRule"])
	_ = json.Unmarshal(raw, &rule)
	rule["Properties"].(map[string]any)["ListenerArn"] = ref("TestListener")
	res["TestListenerRule"] = rule
	advanced(t, doc)["TestListenerRule"] = ref("TestListenerRule")
}

// TestCheck runs Check on the ECS example's template.json and on variants
// of it, each breaking one reference or property: every break must be
// reported, and the valid variants (blue/green, a test listener) pass.
func TestCheck(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, doc map[string]any)
		want   string // substring of the error; "" for none
	}{
		{name: "template.json", mutate: func(*testing.T, map[string]any) {}},
		{name: "BLUE_GREEN", mutate: func(t *testing.T, doc map[string]any) {
			dc := at(t, doc, "Service", "Properties", "DeploymentConfiguration")
			dc["Strategy"] = "BLUE_GREEN"
			delete(dc, "CanaryConfiguration")
		}},
		{name: "with a test listener rule", mutate: addTestListener},

		// References ECS follows.
		{name: "alternate is the primary", want: "alternate target group is the primary", mutate: func(t *testing.T, doc map[string]any) {
			advanced(t, doc)["AlternateTargetGroupArn"] = ref("TargetGroup")
		}},
		{name: "alternate is not a target group", want: "AlternateTargetGroupArn refers to Listener", mutate: func(t *testing.T, doc map[string]any) {
			advanced(t, doc)["AlternateTargetGroupArn"] = ref("Listener")
		}},
		{name: "alternate missing", want: "AlternateTargetGroupArn is not set", mutate: func(t *testing.T, doc map[string]any) {
			delete(advanced(t, doc), "AlternateTargetGroupArn")
		}},
		{name: "primary is a literal ARN", want: "not a Ref to a resource", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "Service", "Properties", "LoadBalancers", 0)["TargetGroupArn"] = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other/0123"
		}},
		{name: "production rule is the listener", want: "is listener Listener, not a listener rule", mutate: func(t *testing.T, doc map[string]any) {
			advanced(t, doc)["ProductionListenerRule"] = ref("Listener")
		}},
		{name: "production rule is a target group", want: "ProductionListenerRule refers to AlternateTargetGroup", mutate: func(t *testing.T, doc map[string]any) {
			advanced(t, doc)["ProductionListenerRule"] = ref("AlternateTargetGroup")
		}},
		{name: "production rule missing", want: "ProductionListenerRule is not set", mutate: func(t *testing.T, doc map[string]any) {
			delete(advanced(t, doc), "ProductionListenerRule")
		}},
		{name: "no advanced configuration", want: "no AdvancedConfiguration", mutate: func(t *testing.T, doc map[string]any) {
			delete(at(t, doc, "Service", "Properties", "LoadBalancers", 0), "AdvancedConfiguration")
		}},
		{name: "rule on the load balancer", want: "ListenerArn refers to LoadBalancer", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "ListenerRule", "Properties")["ListenerArn"] = ref("LoadBalancer")
		}},
		{name: "listener on a target group", want: "LoadBalancerArn refers to TargetGroup", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "Listener", "Properties")["LoadBalancerArn"] = ref("TargetGroup")
		}},
		{name: "rule forwards to the primary only", want: "does not forward to both", mutate: func(t *testing.T, doc map[string]any) {
			fc := at(t, doc, "ListenerRule", "Properties", "Actions", 0, "ForwardConfig")
			fc["TargetGroups"] = ruleTargets(t, doc, "ListenerRule")[:1]
		}},
		{name: "rule forwards to the primary twice", want: "does not forward to AlternateTargetGroup", mutate: func(t *testing.T, doc map[string]any) {
			ruleTargets(t, doc, "ListenerRule")[1].(map[string]any)["TargetGroupArn"] = ref("TargetGroup")
		}},
		{name: "rule forwards to a listener", want: "TargetGroups[1] refers to Listener", mutate: func(t *testing.T, doc map[string]any) {
			ruleTargets(t, doc, "ListenerRule")[1].(map[string]any)["TargetGroupArn"] = ref("Listener")
		}},
		{name: "weights swapped", want: "TargetGroup has weight 0; want 100", mutate: func(t *testing.T, doc map[string]any) {
			tgs := ruleTargets(t, doc, "ListenerRule")
			tgs[0].(map[string]any)["Weight"], tgs[1].(map[string]any)["Weight"] = 0, 100
		}},
		{name: "rule mixes forward with a fixed response", want: "exactly one forward action", mutate: func(t *testing.T, doc map[string]any) {
			p := at(t, doc, "ListenerRule", "Properties")
			p["Actions"] = append(p["Actions"].([]any), map[string]any{"Type": "fixed-response", "Order": 2,
				"FixedResponseConfig": map[string]any{"StatusCode": "503"}})
		}},
		{name: "role missing", want: "RoleArn is not set", mutate: func(t *testing.T, doc map[string]any) {
			delete(advanced(t, doc), "RoleArn")
		}},
		{name: "role not of the template", want: "not the Arn of a role of the template", mutate: func(t *testing.T, doc map[string]any) {
			advanced(t, doc)["RoleArn"] = "arn:aws:iam::123456789012:role/elsewhere"
		}},
		{name: "role is the task role", want: "does not let ecs.amazonaws.com assume it", mutate: func(t *testing.T, doc map[string]any) {
			advanced(t, doc)["RoleArn"] = map[string]any{"Fn::GetAtt": []any{"TaskRole", "Arn"}}
		}},
		{name: "role without the managed policy", want: "does not hold the managed policy", mutate: func(t *testing.T, doc map[string]any) {
			delete(at(t, doc, "InfrastructureRole", "Properties"), "ManagedPolicyArns")
		}},
		{name: "target groups differ", want: "differ", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "AlternateTargetGroup", "Properties")["Port"] = 8081
		}},
		{name: "target group attributes differ", want: "different attributes", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "AlternateTargetGroup", "Properties", "TargetGroupAttributes", 0)["Value"] = "300"
		}},
		{name: "instance targets with awsvpc", want: "register by IP", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "TargetGroup", "Properties")["TargetType"] = "instance"
			at(t, doc, "AlternateTargetGroup", "Properties")["TargetType"] = "instance"
		}},
		{name: "CodeDeploy controller", want: "deployment controller CODE_DEPLOY", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "Service", "Properties", "DeploymentController")["Type"] = "CODE_DEPLOY"
		}},
		{name: "rolling deployment", want: "no ECS service", mutate: func(t *testing.T, doc map[string]any) {
			dc := at(t, doc, "Service", "Properties", "DeploymentConfiguration")
			dc["Strategy"] = "ROLLING"
			delete(dc, "CanaryConfiguration")
		}},
		{name: "test rule is the production rule", want: "test listener rule is the production one", mutate: func(t *testing.T, doc map[string]any) {
			advanced(t, doc)["TestListenerRule"] = ref("ListenerRule")
		}},
		{name: "test rule on another load balancer", want: "test listener rule is on load balancer OtherLoadBalancer", mutate: func(t *testing.T, doc map[string]any) {
			addTestListener(t, doc)
			res := doc["Resources"].(map[string]any)
			res["OtherLoadBalancer"] = res["LoadBalancer"]
			at(t, doc, "TestListener", "Properties")["LoadBalancerArn"] = ref("OtherLoadBalancer")
		}},
		{name: "test rule forwards to the primary only", want: "TestListenerRule does not forward to both", mutate: func(t *testing.T, doc map[string]any) {
			addTestListener(t, doc)
			fc := at(t, doc, "TestListenerRule", "Properties", "Actions", 0, "ForwardConfig")
			fc["TargetGroups"] = ruleTargets(t, doc, "TestListenerRule")[:1]
		}},

		// Strict decoding into the Elastic Load Balancing API's inputs.
		{name: "rule property in lower case", want: `unknown field "priority"`, mutate: func(t *testing.T, doc map[string]any) {
			p := at(t, doc, "ListenerRule", "Properties")
			p["priority"] = p["Priority"]
			delete(p, "Priority")
		}},
		{name: "condition field misspelt", want: `unknown field "PathPatternConfigs"`, mutate: func(t *testing.T, doc map[string]any) {
			c := at(t, doc, "ListenerRule", "Properties", "Conditions", 0)
			c["PathPatternConfigs"] = c["PathPatternConfig"]
			delete(c, "PathPatternConfig")
		}},
		{name: "listener action field in the wrong case", want: `unknown field "TargetGroupARN"`, mutate: func(t *testing.T, doc map[string]any) {
			a := at(t, doc, "Listener", "Properties", "DefaultActions", 0)
			a["TargetGroupARN"] = a["TargetGroupArn"]
			delete(a, "TargetGroupArn")
		}},
		{name: "target group number as text", want: "CreateTargetGroupInput", mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "TargetGroup", "Properties")["HealthCheckIntervalSeconds"] = "ten"
		}},
		{name: "target group attribute misspelt", want: `TargetGroupAttributes: cfn: $.Attributes[0]: unknown field "Val"`, mutate: func(t *testing.T, doc map[string]any) {
			a := at(t, doc, "TargetGroup", "Properties", "TargetGroupAttributes", 0)
			a["Val"] = a["Value"]
			delete(a, "Value")
		}},
		{name: "load balancer property unknown", want: `unknown field "LoadBalancerAttribute"`, mutate: func(t *testing.T, doc map[string]any) {
			at(t, doc, "LoadBalancer", "Properties")["LoadBalancerAttribute"] = []any{}
		}},
		{name: "load balancing type unknown", want: "not a type this check decodes", mutate: func(t *testing.T, doc map[string]any) {
			doc["Resources"].(map[string]any)["Store"] = map[string]any{"Type": "AWS::ElasticLoadBalancingV2::TrustStore", "Properties": map[string]any{}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := example(t)
			c.mutate(t, doc)
			err := check(t, doc)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted; want an error about %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// TestDecode checks that Decode reads every load balancing resource of
// template.json, attributes included, into the API inputs.
func TestDecode(t *testing.T) {
	raw, err := os.ReadFile("../../template.json")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := cfn.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(values)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.LoadBalancers) != 1 || len(lb.TargetGroups) != 2 || len(lb.Listeners) != 1 || len(lb.Rules) != 1 {
		t.Fatalf("decoded %d load balancers, %d target groups, %d listeners, %d rules; template.json has 1, 2, 1, 1",
			len(lb.LoadBalancers), len(lb.TargetGroups), len(lb.Listeners), len(lb.Rules))
	}
	rule := lb.Rules["ListenerRule"]
	if rule.Priority == nil || *rule.Priority != 1 || len(rule.Conditions) != 1 || *rule.Conditions[0].Field != "path-pattern" ||
		rule.Conditions[0].PathPatternConfig == nil || rule.Conditions[0].PathPatternConfig.Values[0] != "/*" {
		t.Errorf("rule %+v", rule)
	}
	tg := lb.TargetGroups["TargetGroup"]
	if tg.Port == nil || *tg.Port != 8080 || tg.Matcher == nil || *tg.Matcher.HttpCode != "200" || *tg.HealthCheckPath != "/healthz" {
		t.Errorf("target group %+v", tg)
	}
	if a := lb.TargetGroupAttributes["TargetGroup"]; a == nil || len(a.Attributes) != 1 || *a.Attributes[0].Key != "deregistration_delay.timeout_seconds" {
		t.Errorf("target group attributes %+v", a)
	}
	if l := lb.Listeners["Listener"]; l.Port == nil || *l.Port != 80 || l.Protocol != "HTTP" || len(l.DefaultActions) != 1 {
		t.Errorf("listener %+v", l)
	}
}
