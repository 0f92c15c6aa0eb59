package ecs

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/seed-c77c9410/sidelight/examples/ecs/internal/bluegreen"
	"github.com/seed-c77c9410/sidelight/internal/cfn"
	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// versionDimensionWired says whether the middleware writes the metrics by
// version ([Service, Version], switched on by redmetric.VersionEnv). It
// does: the rollback alarms are checked against the series the middleware
// writes for the version the task definition gives the app, and
// TestVersionDimensionWiring fails if it stops.
const versionDimensionWired = true

// rollbackAlarms returns the logical names of the alarms the service's
// deployment configuration rolls back on, read from the unresolved
// template (Ref to each alarm).
func rollbackAlarms(t *testing.T) []string {
	t.Helper()
	tm, _ := load(t)
	dc, _ := tm.Resources["Service"].Properties["DeploymentConfiguration"].(map[string]any)
	alarms, _ := dc["Alarms"].(map[string]any)
	list, _ := alarms["AlarmNames"].([]any)
	var names []string
	for _, a := range list {
		ref, _ := a.(map[string]any)
		name, ok := ref["Ref"].(string)
		if !ok || tm.Resources[name].Type != "AWS::CloudWatch::Alarm" {
			t.Fatalf("AlarmNames entry %v is not a Ref to an alarm of the template", a)
		}
		names = append(names, name)
	}
	if len(names) < 2 {
		t.Fatalf("the service rolls back on %v; want the fault-rate and p99 alarms", names)
	}
	return names
}

// versionOfTaskDefinition is what deployversion reports for the task
// definition the resolved template names: a task metadata document with
// the family and revision of its ARN (the stand-in the resolver gives
// Ref), parsed as the middleware will parse the real one.
func versionOfTaskDefinition(t *testing.T, arn string) string {
	t.Helper()
	_, famRev, _ := strings.Cut(arn, "task-definition/")
	fam, rev, ok := strings.Cut(famRev, ":")
	if !ok {
		t.Fatalf("task definition ARN %q has no family:revision", arn)
	}
	task, _ := json.Marshal(map[string]string{"Family": fam, "Revision": rev, "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/c/0"})
	e, err := deployversion.ParseECS(task, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := e.Version()
	if v.Source != deployversion.SourceECSTaskDefinition {
		t.Fatalf("version %+v", v)
	}
	return v.Value
}

// TestRollbackAlarmsSelectTheNewVersion checks the canary's rollback
// alarms against what the middleware writes: each reads a metric the
// middleware names (redmetric's names, so a rename fails here), and the
// middleware, run as the task definition runs the app, writes it under
// exactly the dimension set of
// the metrics by version, with the service name the app runs under and
// the version the app will report (the task definition's family:revision
// as deployversion formats it); the app has the metrics by version on;
// and the alarms can fire within the canary's bake time.
func TestRollbackAlarmsSelectTheNewVersion(t *testing.T) {
	for name, values := range map[string]map[string]string{
		"defaults": with(deployValues),
		"checkout": with(deployValues, "ServiceName", "checkout", "MetricsNamespace", "Shop/Prod", "CanaryBakeTimeMinutes", "5"),
	} {
		t.Run(name, func(t *testing.T) {
			r := resolve(t, values)
			env := containerEnv(t, r, "app")
			if env[redmetric.VersionEnv] != "true" {
				t.Errorf("the app container does not set %s=true: no metric carries the version", redmetric.VersionEnv)
			}
			wantVersion := versionOfTaskDefinition(t, r.Resources["Service"].Properties["TaskDefinition"].(string))
			got := runMiddleware(t, r, env, middleware.MetricNames{})
			known := []string{redmetric.MetricFaults, redmetric.MetricRequests, redmetric.MetricLatency}
			bake, _ := strconv.Atoi(fmt.Sprint(r.Parameters["CanaryBakeTimeMinutes"]))
			for _, alarm := range rollbackAlarms(t) {
				p := r.Resources[alarm].Properties
				refs := alarmRefs(t, alarm, p)
				if len(refs) == 0 {
					t.Fatalf("%s reads no metric", alarm)
				}
				for _, ref := range refs {
					if !slices.Contains(known, ref.metric) {
						t.Errorf("%s: metric %q is not one redmetric names (%v)", ref.where, ref.metric, known)
					}
					if names, want := slices.Sorted(maps.Keys(ref.dims)), slices.Sorted(slices.Values(redmetric.VersionSet)); !slices.Equal(names, want) {
						t.Errorf("%s: dimensions %v; the metrics by version have exactly %v", ref.where, names, want)
					}
					if ref.ns != env["AWS_EMF_NAMESPACE"] || ref.dims[redmetric.Service] != env["OTEL_SERVICE_NAME"] {
						t.Errorf("%s: %s %v; the app writes to %s as %s", ref.where, ref.ns, ref.dims, env["AWS_EMF_NAMESPACE"], env["OTEL_SERVICE_NAME"])
					}
					if ref.dims[redmetric.Version] != wantVersion {
						t.Errorf("%s: Version %q; the app reports %q", ref.where, ref.dims[redmetric.Version], wantVersion)
					}
					if err := got.check(ref.ns, ref.metric, ref.dims); err != nil {
						t.Errorf("%s: the middleware does not write this metric: %v", ref.where, err)
					}
				}
				period, _ := strconv.Atoi(fmt.Sprint(first(p, "Period", refs)))
				n, _ := strconv.Atoi(fmt.Sprint(p["DatapointsToAlarm"]))
				if period <= 0 || n <= 0 || n*period > bake*60 {
					t.Errorf("%s needs %d periods of %d s to fire; the canary bakes %d min", alarm, n, period, bake)
				}
			}
		})
	}
}

// first returns the alarm's Period, or its first metric's.
func first(p map[string]any, key string, _ []metricRef) any {
	if v, ok := p[key]; ok {
		return v
	}
	metrics, _ := p["Metrics"].([]any)
	for _, m := range metrics {
		ms, _ := m.(map[string]any)["MetricStat"].(map[string]any)
		if v, ok := ms[key]; ok {
			return v
		}
	}
	return nil
}

// TestVersionDimensionWiring keeps versionDimensionWired honest: the
// middleware, configured as the task definition configures the app,
// writes the version dimension set exactly when the flag says so.
func TestVersionDimensionWiring(t *testing.T) {
	r := resolve(t, with(deployValues))
	got := runMiddleware(t, r, containerEnv(t, r, "app"), middleware.MetricNames{})
	set := strings.Join(slices.Sorted(slices.Values(redmetric.VersionSet)), ",")
	_, emitted := got.sets[key(containerEnv(t, r, "app")["AWS_EMF_NAMESPACE"], redmetric.MetricFaults)][set]
	if emitted != versionDimensionWired {
		t.Fatalf("the middleware writes %s by %s: %v; versionDimensionWired is %v (flip it, and the alarms' full check runs)", redmetric.MetricFaults, set, emitted, versionDimensionWired)
	}
}

// TestCanaryDeployment checks the service's deployment against ECS's
// built-in strategies: the ECS deployment controller, the CANARY
// strategy with its percentage and bake times, rollback on the version
// alarms, the alternate target group and production listener rule ECS
// shifts traffic with, and the role it does so under. The service's
// properties, and those of a BLUE_GREEN variant (Strategy BLUE_GREEN, no
// CanaryConfiguration: what README.md tells readers to change), decode
// strictly into the ECS API's CreateServiceInput, and both pass
// bluegreen.Check: every load balancing resource decodes strictly into
// the Elastic Load Balancing API's inputs, and the alternate target group,
// production listener rule and infrastructure role the service names are
// resources of the template wired as ECS needs them.
func TestCanaryDeployment(t *testing.T) {
	r := resolve(t, with(deployValues, "CanaryPercent", "5", "CanaryBakeTimeMinutes", "15"))
	svc := r.Resources["Service"].Properties
	in := decodeService(t, svc)
	dc := in.DeploymentConfiguration
	if in.DeploymentController == nil || in.DeploymentController.Type != types.DeploymentControllerTypeEcs {
		t.Errorf("deployment controller %+v; ECS's strategies need ECS", in.DeploymentController)
	}
	if dc == nil || dc.Strategy != types.DeploymentStrategyCanary || dc.CanaryConfiguration == nil {
		t.Fatalf("deployment configuration %+v", dc)
	}
	if c := dc.CanaryConfiguration; c.CanaryPercent == nil || *c.CanaryPercent != 5 || c.CanaryBakeTimeInMinutes == nil || *c.CanaryBakeTimeInMinutes != 15 {
		t.Errorf("canary %+v; want the parameters 5%% and 15 min", c)
	}
	if dc.BakeTimeInMinutes == nil || *dc.BakeTimeInMinutes < 1 {
		t.Errorf("bake time %v", dc.BakeTimeInMinutes)
	}
	if a := dc.Alarms; a == nil || !a.Enable || !a.Rollback || len(a.AlarmNames) != len(rollbackAlarms(t)) {
		t.Errorf("alarms %+v: want them enabled, rolling back", a)
	}
	for i, alarm := range rollbackAlarms(t) {
		if name := r.Resources[alarm].Properties["AlarmName"]; dc.Alarms.AlarmNames[i] == "" || name == nil {
			t.Errorf("alarm %s has no name", alarm)
		}
		var put cloudwatch.PutMetricAlarmInput
		if err := cfn.DecodeProperties(r.Resources[alarm].Properties, &put); err != nil {
			t.Errorf("alarm %s does not decode strictly into PutMetricAlarmInput: %v", alarm, err)
		}
	}
	if len(in.LoadBalancers) != 1 || in.LoadBalancers[0].AdvancedConfiguration == nil {
		t.Fatalf("load balancers %+v", in.LoadBalancers)
	}
	lb := in.LoadBalancers[0]
	ac := lb.AdvancedConfiguration
	prod, alt := *lb.TargetGroupArn, *ac.AlternateTargetGroupArn
	if prod == alt || alt != physical(t, "AlternateTargetGroup") {
		t.Errorf("alternate target group %s (production %s)", alt, prod)
	}
	if !reflect.DeepEqual(r.Resources["TargetGroup"].Properties, r.Resources["AlternateTargetGroup"].Properties) {
		t.Error("the two target groups differ; ECS moves the same tasks between them")
	}
	// The listener rule, target groups and role ECS shifts traffic with,
	// every load balancing resource decoded strictly into the Elastic Load
	// Balancing API's inputs.
	tm, _ := load(t)
	if err := bluegreen.Check(tm, r); err != nil {
		t.Errorf("blue/green wiring: %v", err)
	}
	if *ac.ProductionListenerRule != physical(t, "ListenerRule") {
		t.Errorf("production listener rule %s", *ac.ProductionListenerRule)
	}
	role := r.Resources["InfrastructureRole"].Properties
	if *ac.RoleArn != "arn:aws:iam::123456789012:role/sidelight-InfrastructureRole-1A2B3C4D5E6F" {
		t.Errorf("role %s", *ac.RoleArn)
	}
	var trust struct{ Statement []statement }
	raw, _ := json.Marshal(role["AssumeRolePolicyDocument"])
	if err := json.Unmarshal(raw, &trust); err != nil || len(trust.Statement) != 1 || trust.Statement[0].Principal["Service"] != "ecs.amazonaws.com" || trust.Statement[0].Condition == nil {
		t.Errorf("infrastructure role trust %s: want ecs.amazonaws.com of this account only", raw)
	}
	if !reflect.DeepEqual(role["ManagedPolicyArns"], []any{"arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}) || role["Policies"] != nil {
		t.Errorf("infrastructure role policies %v %v; want only the AWS managed policy for load balancers", role["ManagedPolicyArns"], role["Policies"])
	}

	// The blue/green variant.
	bg := deepCopy(t, svc)
	bgdc := bg["DeploymentConfiguration"].(map[string]any)
	bgdc["Strategy"] = "BLUE_GREEN"
	delete(bgdc, "CanaryConfiguration")
	if in := decodeService(t, bg); in.DeploymentConfiguration.Strategy != types.DeploymentStrategyBlueGreen {
		t.Errorf("blue/green variant: %+v", in.DeploymentConfiguration)
	}
	_, s := load(t)
	variant := *tm
	variant.Resources = maps.Clone(tm.Resources)
	res := variant.Resources["Service"]
	props := deepCopy(t, res.Properties)
	pdc := props["DeploymentConfiguration"].(map[string]any)
	pdc["Strategy"] = "BLUE_GREEN"
	delete(pdc, "CanaryConfiguration")
	res.Properties = props
	variant.Resources["Service"] = res
	if rv, err := s.Check(&variant, with(deployValues)); err != nil {
		t.Errorf("blue/green variant against the schemas: %v", err)
	} else if err := bluegreen.Check(&variant, rv); err != nil {
		t.Errorf("blue/green variant's wiring: %v", err)
	}
}

// physical is what Ref to a resource of the template resolves to.
func physical(t *testing.T, name string) string {
	t.Helper()
	tm, _ := load(t)
	id, ok := tm.Ref(name)
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	return id
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeService decodes a resolved AWS::ECS::Service's properties
// strictly into the ECS API's CreateServiceInput, with CloudFormation's
// spelling of the names (numbers given as strings, as parameters yield
// them, become numbers where the API wants one).
func decodeService(t *testing.T, props map[string]any) *ecs.CreateServiceInput {
	t.Helper()
	var in ecs.CreateServiceInput
	if err := cfn.DecodeProperties(props, &in); err != nil {
		t.Fatalf("the service does not decode strictly into CreateServiceInput: %v", err)
	}
	return &in
}
