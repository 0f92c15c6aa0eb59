package cfn

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

var (
	schemasOnce sync.Once
	schemas     *Schemas
	schemasErr  error
)

func loadSchemas(t testing.TB) *Schemas {
	t.Helper()
	schemasOnce.Do(func() {
		schemas, schemasErr = LoadSchemas(schematest.CloudFormationSchemas())
	})
	if schemasErr != nil {
		t.Fatal(schemasErr)
	}
	return schemas
}

func TestExampleTemplate(t *testing.T) {
	raw, err := os.ReadFile("../../examples/ecs/template.json")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"VpcId": "vpc-0abc", "SubnetIds": "subnet-1,subnet-2", "AppImage": "a:1", "SidecarImage": "s:1"}
	if _, err := loadSchemas(t).Check(tmpl, values); err != nil {
		t.Fatal(err)
	}
}

// base is a small valid template the table below breaks one way each.
const base = `{
  "Parameters": {"Name": {"Type": "String", "Default": "orders", "AllowedPattern": "[a-z]+"},
                 "Count": {"Type": "Number", "Default": "2", "MinValue": 1, "MaxValue": 5}},
  "Resources": {
    "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Sub": "/ecs/${Name}"}, "RetentionInDays": 14}},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []},
       "Description": {"Fn::Join": ["-", ["role", {"Ref": "Name"}, {"Fn::GetAtt": ["Logs", "Arn"]}]]}}}
  },
  "Outputs": {"Group": {"Value": {"Ref": "Logs"}}}
}`

func TestCheck(t *testing.T) {
	s := loadSchemas(t)
	cases := []struct {
		name, old, new string
		values         map[string]string
		want           string // substring of the error; "" for none
	}{
		{name: "valid"},
		{name: "valid with values", values: map[string]string{"Name": "checkout", "Count": "5"}},
		{name: "unknown property", old: `"RetentionInDays": 14`, new: `"RetentionInDays": 14, "Retention": 3`, want: "Retention"},
		{name: "enum", old: `"RetentionInDays": 14`, new: `"RetentionInDays": 15`, want: "RetentionInDays"},
		{name: "wrong type", old: `"RetentionInDays": 14`, new: `"RetentionInDays": "two weeks"`, want: "RetentionInDays"},
		{name: "pattern", old: `/ecs/${Name}`, new: `/ecs/${Name} space`, want: "LogGroupName"},
		{name: "read-only", old: `"RetentionInDays": 14`, new: `"RetentionInDays": 14, "Arn": "x"`, want: "read-only"},
		{name: "required", old: `"AssumeRolePolicyDocument": {"Statement": []},`, new: ``, want: "AssumeRolePolicyDocument"},
		{name: "unknown type", old: `AWS::Logs::LogGroup`, new: `AWS::Logs::LogGroupp`, want: "no schema"},
		{name: "unknown attribute", old: `["Logs", "Arn"]`, new: `["Logs", "Name"]`, want: "no attribute Name"},
		{name: "dangling Ref", old: `{"Ref": "Name"}`, new: `{"Ref": "Nmae"}`, want: "Nmae"},
		{name: "dangling Sub", old: `/ecs/${Name}`, new: `/ecs/${Nmae}`, want: "Nmae"},
		{name: "dangling GetAtt", old: `["Logs", "Arn"]`, new: `["Log", "Arn"]`, want: "not a resource"},
		{name: "unsupported function", old: `{"Ref": "Name"}`, new: `{"Fn::FindInMap": ["m", "a", "b"]}`, want: "does not support Fn::FindInMap"},
		{name: "Fn::If without the condition", old: `{"Ref": "Name"}`, new: `{"Fn::If": ["c", "a", "b"]}`, want: `condition "c" is not in Conditions`},
		{name: "resource Condition not in Conditions", old: `"Type": "AWS::IAM::Role"`, new: `"Type": "AWS::IAM::Role", "Condition": "x"`, want: `Condition "x" is not in Conditions`},
		{name: "condition cycle", old: `"Resources": {`, new: `"Conditions": {"A": {"Condition": "B"}, "B": {"Fn::Not": [{"Condition": "A"}]}}, "Resources": {`, want: "refers to itself"},
		{name: "condition cycle through Fn::If", old: `"Resources": {`, new: `"Conditions": {"A": {"Fn::Equals": [{"Fn::If": ["A", "x", "y"]}, "x"]}}, "Resources": {`, want: "refers to itself"},
		{name: "condition not a condition function", old: `"Resources": {`, new: `"Conditions": {"A": {"Ref": "Name"}}, "Resources": {`, want: "not a condition function"},
		{name: "Select out of range", old: `{"Ref": "Name"}`, new: `{"Fn::Select": [2, ["a", "b"]]}`, want: "index 2 of a list of 2"},
		{name: "Select negative", old: `{"Ref": "Name"}`, new: `{"Fn::Select": [-1, ["a"]]}`, want: "non-negative"},
		{name: "Select of no list", old: `{"Ref": "Name"}`, new: `{"Fn::Select": [0, "a"]}`, want: "must be a list"},
		{name: "Split with empty delimiter", old: `{"Ref": "Name"}`, new: `{"Fn::Split": ["", "a"]}`, want: "non-empty"},
		{name: "UpdatePolicy on a role", old: `"Type": "AWS::IAM::Role"`, new: `"Type": "AWS::IAM::Role", "UpdatePolicy": {"CodeDeployLambdaAliasUpdate": {"ApplicationName": "a", "DeploymentGroupName": "g"}}`, want: "only CodeDeployLambdaAliasUpdate"},
		{name: "unknown section", old: `"Outputs"`, new: `"Output"`, want: "unknown name"},
		{name: "case of a section", old: `"Resources"`, new: `"resources"`, want: "case-sensitive"},
		{name: "case of an attribute", old: `"Properties": {"LogGroupName"`, new: `"properties": {"LogGroupName"`, want: "case-sensitive"},
		{name: "Properties not an object", old: `"Properties": {"AssumeRolePolicyDocument": {"Statement": []},
       "Description": {"Fn::Join": ["-", ["role", {"Ref": "Name"}, {"Fn::GetAtt": ["Logs", "Arn"]}]]}}`, new: `"Properties": {"Ref": "Name"}`, want: "must be an object"},
		{name: "unknown resource attribute", old: `"Type": "AWS::IAM::Role"`, new: `"Type": "AWS::IAM::Role", "CreationPolicy": {}`, want: "unknown name"},
		{name: "bad parameter value", values: map[string]string{"Name": "Orders"}, want: "does not match"},
		{name: "parameter out of range", values: map[string]string{"Count": "6"}, want: "out of range"},
		{name: "parameter not in template", values: map[string]string{"Nom": "x"}, want: "not in the template"},
		{name: "bad default", old: `"Default": "orders"`, new: `"Default": "Orders"`, want: "Default"},
		{name: "parameter without value", old: `"Default": "orders", `, new: ``, values: map[string]string{}, want: "needs a value"},
		{name: "DependsOn", old: `"Type": "AWS::IAM::Role"`, new: `"Type": "AWS::IAM::Role", "DependsOn": "Log"`, want: "DependsOn"},
		{name: "Ref beside other keys", old: `{"Ref": "Name"}`, new: `{"Ref": "Name", "x": 1}`, want: "only key"},
		{name: "escaped Sub", old: `/ecs/${Name}`, new: `/ecs/${!Name}`, want: "LogGroupName"}, // "${Name}" is not a valid group name
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(base, c.old, c.new, 1)
			if c.old != "" && src == base {
				t.Fatalf("%q not found in the base template", c.old)
			}
			values := c.values
			if values == nil {
				values = map[string]string{}
			}
			tmpl, err := Parse([]byte(src))
			if err == nil {
				_, err = s.Check(tmpl, values)
			}
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

func TestResolve(t *testing.T) {
	tmpl, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Resolve(map[string]string{"Name": "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Resources["Logs"].Properties["LogGroupName"]; got != "/ecs/checkout" {
		t.Errorf("Fn::Sub gave %v", got)
	}
	desc, _ := r.Resources["Role"].Properties["Description"].(string)
	if !strings.HasPrefix(desc, "role-checkout-arn:aws:logs:") {
		t.Errorf("Fn::Join gave %q", desc)
	}
	if r.Parameters["Count"] != 2.0 {
		t.Errorf("Number parameter resolves to %#v", r.Parameters["Count"])
	}
	if len(r.GetAtts) != 1 || r.GetAtts[0] != (GetAtt{Resource: "Logs", Attribute: "Arn", At: "Resources/Role/Properties/Description/Fn::Join/1/2/Fn::GetAtt"}) {
		t.Errorf("GetAtts %+v", r.GetAtts)
	}
	// Fn::Split and Fn::Select: the family:revision of a task definition ARN.
	sel, err := Parse([]byte(`{"Resources": {"TD": {"Type": "AWS::ECS::TaskDefinition", "Properties": {}},
	  "L": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "TD"}]}]}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := sel.Resolve(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Resources["L"].Properties["LogGroupName"]; got != "sidelight-ecs-td:1" {
		t.Errorf("Fn::Select of Fn::Split gave %v", got)
	}
	if r.Outputs["Group"] == "" {
		t.Error("output not resolved")
	}
}

// TestConditions: a resource whose Condition is false is left out, Fn::If
// picks its branch by the condition, and Ref AWS::NoValue removes the
// property or list element holding it.
func TestConditions(t *testing.T) {
	tmpl, err := Parse([]byte(`{
  "Parameters": {"Mode": {"Type": "String", "Default": "a", "AllowedValues": ["a", "b"]}},
  "Conditions": {"IsB": {"Fn::Equals": [{"Ref": "Mode"}, "b"]}, "IsA": {"Fn::Not": [{"Condition": "IsB"}]},
                 "Both": {"Fn::And": [{"Condition": "IsA"}, {"Condition": "IsB"}]}, "Either": {"Fn::Or": [{"Condition": "IsA"}, {"Condition": "IsB"}]}},
  "Resources": {
    "OnlyB": {"Type": "AWS::Logs::LogGroup", "Condition": "IsB", "Properties": {}},
    "L": {"Type": "AWS::Logs::LogGroup", "Properties": {
      "LogGroupName": {"Fn::If": ["IsB", "group-b", "group-a"]},
      "RetentionInDays": {"Fn::If": ["IsB", 14, {"Ref": "AWS::NoValue"}]},
      "Tags": [{"Key": "k", "Value": "v"}, {"Fn::If": ["IsB", {"Key": "b", "Value": "1"}, {"Ref": "AWS::NoValue"}]}]}}
  }
}`))
	if err != nil {
		t.Fatal(err)
	}
	for mode, want := range map[string]struct {
		group      string
		onlyB      bool
		tags       int
		both, eith bool
	}{"a": {"group-a", false, 1, false, true}, "b": {"group-b", true, 2, false, true}} {
		r, err := tmpl.Resolve(map[string]string{"Mode": mode})
		if err != nil {
			t.Fatal(err)
		}
		p := r.Resources["L"].Properties
		if p["LogGroupName"] != want.group {
			t.Errorf("Mode %s: LogGroupName %v, want %s", mode, p["LogGroupName"], want.group)
		}
		if _, set := p["RetentionInDays"]; set != want.onlyB {
			t.Errorf("Mode %s: RetentionInDays set %v, want %v", mode, set, want.onlyB)
		}
		if tags, _ := p["Tags"].([]any); len(tags) != want.tags {
			t.Errorf("Mode %s: Tags %v, want %d", mode, p["Tags"], want.tags)
		}
		if _, ok := r.Resources["OnlyB"]; ok != want.onlyB {
			t.Errorf("Mode %s: resource OnlyB present %v, want %v", mode, ok, want.onlyB)
		}
		if r.Conditions["Both"] != want.both || r.Conditions["Either"] != want.eith {
			t.Errorf("Mode %s: conditions %v", mode, r.Conditions)
		}
	}
}

func TestUncheckedPatterns(t *testing.T) {
	// Only AWS::Lambda::Function's S3Bucket pattern needs look-behind; the
	// ECS example uses no such property. A new one would show here.
	for _, p := range loadSchemas(t).Unchecked() {
		if !strings.Contains(p, "(?<!") {
			t.Errorf("pattern %q is not enforced", p)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	if raw, err := os.ReadFile("../../examples/ecs/template.json"); err == nil {
		f.Add(raw)
	}
	f.Add([]byte(`{"Resources":{"A":{"Type":"A::B::C","Properties":{"X":{"Fn::Sub":"${A.B}${!x}${"}}}}}`))
	f.Add([]byte(`{"Resources":{"A":{"Type":"AWS::Logs::LogGroup","Properties":{"LogGroupName":{"Fn::Select":["1",{"Fn::Split":["/",{"Ref":"A"}]}]}}}}}`))
	f.Add([]byte(`{"Resources":{"A":{"Type":"AWS::Lambda::Alias","UpdatePolicy":{"CodeDeployLambdaAliasUpdate":{"ApplicationName":{"Ref":"A"}}},"Properties":{}}}}`))
	f.Add([]byte(`{"Conditions":{"A":{"Fn::Or":[{"Condition":"B"},{"Fn::Equals":[{"Fn::If":["B","x",{"Ref":"AWS::NoValue"}]},"x"]}]},"B":{"Fn::Not":[{"Fn::Equals":["a","b"]}]}},"Resources":{"R":{"Type":"AWS::Logs::LogGroup","Condition":"A","Properties":{"RetentionInDays":{"Fn::If":["A",14,{"Ref":"AWS::NoValue"}]}}}}}`))
	s := loadSchemas(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl, err := Parse(data)
		if err != nil {
			return
		}
		r, err := s.Check(tmpl, nil)
		if err != nil {
			return
		}
		// What resolved must be plain JSON again.
		if _, err := json.Marshal(r.Resources); err != nil {
			t.Fatalf("resolved template does not encode: %v", err)
		}
	})
}

func TestDecodeProperties(t *testing.T) {
	type inner struct{ Weight *int32 }
	type input struct {
		Name    *string
		Count   int32
		Ratio   *float64
		Items   []inner
		Labels  map[string]string
		Enabled bool
	}
	ok := map[string]any{"Name": "a", "Count": "3", "Ratio": json.Number("0.5"), "Items": []any{map[string]any{"Weight": "100"}},
		"Labels": map[string]any{"any-key": "v"}, "Enabled": true}
	var in input
	if err := DecodeProperties(ok, &in); err != nil {
		t.Fatal(err)
	}
	if *in.Name != "a" || in.Count != 3 || *in.Ratio != 0.5 || *in.Items[0].Weight != 100 || in.Labels["any-key"] != "v" || !in.Enabled {
		t.Fatalf("decoded %+v", in)
	}
	for name, bad := range map[string]map[string]any{
		"case":          {"name": "a"},
		"unknown":       {"Nom": "a"},
		"nested case":   {"Items": []any{map[string]any{"weight": 1}}},
		"wrong type":    {"Enabled": "yes"},
		"not a number":  {"Count": "three"},
		"string for it": {"Name": 7},
	} {
		if err := DecodeProperties(bad, &input{}); err == nil {
			t.Errorf("%s: %v accepted", name, bad)
		}
	}
	if err := DecodeProperties(ok, input{}); err == nil {
		t.Error("a non-pointer accepted")
	}
}
