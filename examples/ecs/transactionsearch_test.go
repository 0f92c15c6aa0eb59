package ecs

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
)

// TestTransactionSearchIsOptional: EnableTransactionSearch=true creates
// what AWS's "Using Transaction Search with AWS CloudFormation" page lists:
// a CloudWatch Logs resource policy that lets X-Ray (for this account
// only) write spans to aws/spans and /aws/application-signals/data, and
// the TransactionSearchConfig, created after it; the default creates
// neither, since the configuration is one per account and region.
func TestTransactionSearchIsOptional(t *testing.T) {
	off := resolve(t, deployValues)
	for _, name := range []string{"TransactionSearchLogsPolicy", "TransactionSearchConfig"} {
		if _, ok := off.Resources[name]; ok {
			t.Errorf("%s is created by default", name)
		}
	}
	on := resolve(t, with(deployValues, "EnableTransactionSearch", "true", "TransactionSearchIndexingPercentage", "5"))
	cfg, ok := on.Resources["TransactionSearchConfig"]
	if !ok || cfg.Type != "AWS::XRay::TransactionSearchConfig" {
		t.Fatalf("EnableTransactionSearch=true: no AWS::XRay::TransactionSearchConfig: %+v", cfg)
	}
	if cfg.Properties["IndexingPercentage"] != 5.0 {
		t.Errorf("IndexingPercentage %v, want the parameter's 5", cfg.Properties["IndexingPercentage"])
	}
	tm, _ := load(t)
	if deps := tm.Resources["TransactionSearchConfig"].DependsOn; deps != "TransactionSearchLogsPolicy" {
		t.Errorf("TransactionSearchConfig DependsOn %v; X-Ray needs the resource policy first", deps)
	}
	pol, ok := on.Resources["TransactionSearchLogsPolicy"]
	if !ok || pol.Type != "AWS::Logs::ResourcePolicy" {
		t.Fatalf("EnableTransactionSearch=true: no AWS::Logs::ResourcePolicy: %+v", pol)
	}
	raw, _ := pol.Properties["PolicyDocument"].(string)
	var doc struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}
	if err := decodeStrict([]byte(raw), &doc); err != nil || len(doc.Statement) != 1 {
		t.Fatalf("policy document: %v: %s", err, raw)
	}
	st := doc.Statement[0]
	want := []string{
		"arn:aws:logs:us-east-1:123456789012:log-group:aws/spans:*",
		"arn:aws:logs:us-east-1:123456789012:log-group:/aws/application-signals/data:*",
	}
	if st.Effect != "Allow" || st.Principal["Service"] != "xray.amazonaws.com" ||
		!slices.Equal(cfn.Strings(st.Action), []string{"logs:PutLogEvents"}) || !slices.Equal(cfn.Strings(st.Resource), want) {
		t.Errorf("the resource policy does not let X-Ray write spans to aws/spans only: %s", raw)
	}
	cond, _ := json.Marshal(st.Condition)
	if string(cond) != `{"ArnLike":{"aws:SourceArn":"arn:aws:xray:us-east-1:123456789012:*"},"StringEquals":{"aws:SourceAccount":"123456789012"}}` {
		t.Errorf("the resource policy is not limited to this account's X-Ray: %s", cond)
	}
}
