package rollout

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

// template is the part of a CloudFormation template the tutorial quotes.
type template struct {
	Parameters map[string]struct {
		Default string `json:"Default"`
	} `json:"Parameters"`
	Resources map[string]struct {
		Type       string         `json:"Type"`
		Properties map[string]any `json:"Properties"`
	} `json:"Resources"`
}

func loadTemplate(t *testing.T, path string) *template {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tm template
	if err := json.Unmarshal(b, &tm); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &tm
}

// value resolves a literal or a Ref to a parameter (its default).
func (tm *template) value(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case bool:
		return fmt.Sprint(v)
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			if p, ok := tm.Parameters[ref]; ok {
				return p.Default
			}
		}
	}
	t.Fatalf("cannot resolve %v", v)
	return ""
}

// ref builds {"Ref": name} as the template writes it.
func ref(name string) map[string]any { return map[string]any{"Ref": name} }

// alarmLine describes an alarm as the tutorial quotes it, and checks that
// every metric it reads has the dimensions Service (the ServiceName
// parameter) and Version (version, as the template writes it).
func (tm *template) alarmLine(t *testing.T, name string, version any) string {
	t.Helper()
	r, ok := tm.Resources[name]
	if !ok || r.Type != "AWS::CloudWatch::Alarm" {
		t.Fatalf("%s is not an alarm of the template", name)
	}
	p := r.Properties
	op := map[string]string{"GreaterThanThreshold": ">"}[fmt.Sprint(p["ComparisonOperator"])]
	if op == "" {
		t.Fatalf("%s: comparison %v", name, p["ComparisonOperator"])
	}
	wantDims := []any{
		map[string]any{"Name": "Service", "Value": ref("ServiceName")},
		map[string]any{"Name": "Version", "Value": version},
	}
	checkDims := func(m map[string]any) {
		if !reflect.DeepEqual(m["Dimensions"], wantDims) {
			t.Errorf("%s: dimensions %v, want Service and the version being deployed", name, m["Dimensions"])
		}
	}
	periods := fmt.Sprintf("%v of %v periods", p["DatapointsToAlarm"], p["EvaluationPeriods"])
	threshold := tm.value(t, p["Threshold"])
	if metrics, ok := p["Metrics"].([]any); ok {
		var expr, period string
		var inputs []string
		for _, m := range metrics {
			m := m.(map[string]any)
			if e, ok := m["Expression"].(string); ok && m["ReturnData"] == true {
				expr = e
				continue
			}
			ms := m["MetricStat"].(map[string]any)
			metric := ms["Metric"].(map[string]any)
			checkDims(metric)
			inputs = append(inputs, fmt.Sprintf("%v = %v %v", m["Id"], metric["MetricName"], ms["Stat"]))
			if pp := fmt.Sprint(ms["Period"]); period == "" || period == pp {
				period = pp
			} else {
				t.Errorf("%s: metrics with different periods", name)
			}
		}
		return fmt.Sprintf("%s: %s %s %s (%s); period %s s, %s", name, expr, op, threshold, strings.Join(inputs, ", "), period, periods)
	}
	checkDims(p)
	stat := p["ExtendedStatistic"]
	if stat == nil {
		stat = p["Statistic"]
	}
	return fmt.Sprintf("%s: %v %v %s %s %v; period %v s, %s", name, p["MetricName"], stat, op, threshold, p["Unit"], p["Period"], periods)
}

// quoted fails the test unless the tutorial has a text block exactly
// like want.
func quoted(t *testing.T, want string) {
	t.Helper()
	if !slices.Contains(tutorialtest.Blocks(t, "text"), want) {
		t.Errorf("README.md does not quote, as a ```text block:\n%s", want)
	}
}

// TestECSAlarmsAsQuoted checks the tutorial's quote of the ECS service's
// canary deployment and rollback alarms against examples/ecs/template.json.
func TestECSAlarmsAsQuoted(t *testing.T) {
	tm := loadTemplate(t, "../ecs/template.json")
	svc := tm.Resources["Service"].Properties
	dc, _ := svc["DeploymentConfiguration"].(map[string]any)
	canary, _ := dc["CanaryConfiguration"].(map[string]any)
	alarms, _ := dc["Alarms"].(map[string]any)
	if dc == nil || canary == nil || alarms == nil {
		t.Fatalf("the ECS service has no canary deployment with alarms: %v", dc)
	}
	lines := []string{fmt.Sprintf("ECS service: %v deployment, %s%% of the traffic for %s min (CanaryBakeTimeInMinutes), then all, then %s min (BakeTimeInMinutes) before the old revision goes; rollback on alarm: %v",
		dc["Strategy"], tm.value(t, canary["CanaryPercent"]), tm.value(t, canary["CanaryBakeTimeInMinutes"]), tm.value(t, dc["BakeTimeInMinutes"]), alarms["Rollback"])}
	// The version: family:revision, the last part of the task definition's ARN.
	version := map[string]any{"Fn::Select": []any{1.0, map[string]any{"Fn::Split": []any{"/", ref("TaskDefinition")}}}}
	names, _ := alarms["AlarmNames"].([]any)
	var got []string
	for _, n := range names {
		r, _ := n.(map[string]any)["Ref"].(string)
		got = append(got, r)
	}
	if want := []string{"VersionFaultRateAlarm", "VersionLatencyP99Alarm"}; !slices.Equal(got, want) {
		t.Fatalf("the service rolls back on %v; the tutorial explains %v", got, want)
	}
	for _, n := range got {
		lines = append(lines, tm.alarmLine(t, n, version))
	}
	lines = append(lines, "dimensions of every metric: Service = the ServiceName parameter (default "+tm.Parameters["ServiceName"].Default+"), Version = family:revision of the task definition being deployed")
	quoted(t, strings.Join(lines, "\n"))
}

// TestLambdaAlarmsAsQuoted checks the tutorial's quote of the Lambda
// CodeDeploy canary and its alarms against
// examples/lambda/deploy/template.json.
func TestLambdaAlarmsAsQuoted(t *testing.T) {
	tm := loadTemplate(t, "../lambda/deploy/template.json")
	dg := tm.Resources["DeploymentGroup"].Properties
	ac, _ := dg["AlarmConfiguration"].(map[string]any)
	rb, _ := dg["AutoRollbackConfiguration"].(map[string]any)
	if ac == nil || rb == nil || ac["Enabled"] != true || rb["Enabled"] != true {
		t.Fatalf("the deployment group has no alarms or no automatic rollback: %v", dg)
	}
	var events, names []string
	for _, e := range rb["Events"].([]any) {
		events = append(events, e.(string))
	}
	for _, a := range ac["Alarms"].([]any) {
		names = append(names, a.(map[string]any)["Name"].(map[string]any)["Ref"].(string))
	}
	lines := []string{fmt.Sprintf("Lambda: CodeDeploy %v; rollback on %s; alarms %s", dg["DeploymentConfigName"], strings.Join(events, ", "), strings.Join(names, ", "))}
	version := map[string]any{"Fn::GetAtt": []any{"FunctionVersion", "Version"}}
	for _, n := range names {
		lines = append(lines, tm.alarmLine(t, n, version))
	}
	lines = append(lines, "dimensions of every metric: Service = the ServiceName parameter (default "+tm.Parameters["ServiceName"].Default+"), Version = the function version being deployed")
	quoted(t, strings.Join(lines, "\n"))
}
