package ecs

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
)

type statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    any            `json:"Action"`
	Resource  any            `json:"Resource"`
	Condition map[string]any `json:"Condition"`
	Principal map[string]any `json:"Principal"`
}

// roleStatements returns the statements of a role's inline policies, and
// fails when the role has managed policies (which this example avoids so
// the permissions are all visible here).
func roleStatements(t *testing.T, r *cfn.Resolved, role string) []statement {
	t.Helper()
	p := r.Resources[role].Properties
	if _, ok := p["ManagedPolicyArns"]; ok {
		t.Errorf("%s has managed policies; keep the permissions inline and visible", role)
	}
	var out []statement
	policies, _ := p["Policies"].([]any)
	for _, pol := range policies {
		pm, _ := pol.(map[string]any)
		raw, _ := json.Marshal(pm["PolicyDocument"])
		var doc struct {
			Version   string      `json:"Version"`
			Statement []statement `json:"Statement"`
		}
		if err := decodeStrict(raw, &doc); err != nil {
			t.Fatalf("%s: policy document: %v", role, err)
		}
		if doc.Version != "2012-10-17" {
			t.Errorf("%s: policy Version %q", role, doc.Version)
		}
		out = append(out, doc.Statement...)
	}
	return out
}

// TestTaskRoleIsLeastPrivilege checks the shape of the roles: no wildcard
// actions, PutMetricData only in the middleware's namespace, trust only
// for ECS tasks of this account, container logs only to the stack's log
// group, OTLP logs only to the stack's OTLP log group. Which actions the task role holds is derived from the sidecar
// itself in TestTaskRoleGrantsWhatTheSidecarCalls.
func TestTaskRoleIsLeastPrivilege(t *testing.T) {
	r := resolve(t, with(deployValues, "MetricsNamespace", "Shop/Prod"))
	scEnv := containerEnv(t, r, sidecarName)
	if v := scEnv["SIDELIGHT_EMF_TO_LOGS"]; v != "" && v != "false" {
		t.Fatalf("the sidecar forwards EMF to CloudWatch Logs; the task role then needs logs:PutLogEvents and this test an update")
	}
	for _, s := range roleStatements(t, r, "TaskRole") {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: Effect %q", s.Sid, s.Effect)
		}
		for _, a := range cfn.Strings(s.Action) {
			if strings.Contains(a, "*") {
				t.Errorf("wildcard action %q", a)
			}
			// OTLP logs go to the stack's OTLP log group only (the
			// resolver's stand-in for OtlpLogGroup.Arn).
			if res := cfn.Strings(s.Resource); strings.HasPrefix(a, "logs:") && !slices.Equal(res, []string{"arn:aws:logs:us-east-1:123456789012:otlploggroup/otlploggroup"}) {
				t.Errorf("task role: %s on %v; want the OTLP log group's ARN only", a, res)
			}
			if a == "cloudwatch:PutMetricData" {
				cond, _ := s.Condition["StringEquals"].(map[string]any)
				if cond["cloudwatch:namespace"] != "Shop/Prod" {
					t.Errorf("PutMetricData is not limited to the metrics namespace: %v", s.Condition)
				}
			}
		}
	}
	for _, role := range []string{"TaskRole", "ExecutionRole"} {
		var trust struct {
			Statement []statement `json:"Statement"`
		}
		raw, _ := json.Marshal(r.Resources[role].Properties["AssumeRolePolicyDocument"])
		if err := json.Unmarshal(raw, &trust); err != nil || len(trust.Statement) != 1 {
			t.Fatalf("%s trust policy: %v %s", role, err, raw)
		}
		st := trust.Statement[0]
		if st.Principal["Service"] != "ecs-tasks.amazonaws.com" || st.Condition == nil {
			t.Errorf("%s: want only ecs-tasks.amazonaws.com, for this account (aws:SourceAccount): %s", role, raw)
		}
	}
	// The execution role writes container output only to the stack's log
	// group (the resolver's stand-in for LogGroup.Arn).
	for _, s := range roleStatements(t, r, "ExecutionRole") {
		for _, a := range cfn.Strings(s.Action) {
			if res := cfn.Strings(s.Resource); strings.HasPrefix(a, "logs:") && !slices.Equal(res, []string{"arn:aws:logs:us-east-1:123456789012:loggroup/loggroup"}) {
				t.Errorf("%s on %v; want the log group's ARN only", a, res)
			}
		}
	}
}
