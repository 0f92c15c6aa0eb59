package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/seed-c77c9410/sidelight/examples/ecs/internal/bluegreen"
	"github.com/seed-c77c9410/sidelight/internal/cfn"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// TestSynthesizesTheTemplate synthesizes the stack and checks that it is
// template.json: the same parameters, resources and outputs, property for
// property once both are resolved with the same parameter values (the
// dashboard body compared as JSON), valid against the resource schemas,
// and wired for ECS's blue/green and canary deployments (bluegreen.Check).
func TestSynthesizesTheTemplate(t *testing.T) {
	t.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	NewStack(app, StackName)
	asm := app.Synth(nil)
	synth, err := json.Marshal(asm.GetStackByName(jsii.String(StackName)).Template())
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile("../template.json")
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := cfn.LoadSchemas(schematest.CloudFormationSchemas())
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
		"AppImage": "registry/orders:v1", "SidecarImage": "registry/sidecar:v1", "ServiceName": "checkout", "MetricsNamespace": "Shop/Prod"}
	// With the defaults, and with every condition flipped.
	flipped := map[string]string{"TracesExporter": "xray-otlp", "EnableTransactionSearch": "true", "TransactionSearchIndexingPercentage": "5"}
	for k, v := range base {
		flipped[k] = v
	}
	for _, values := range []map[string]string{base, flipped} {
		compareSynth(t, schemas, values, synth, ours)
	}
}

// compareSynth compares the synthesized template with template.json, both
// resolved with values.
func compareSynth(t *testing.T, schemas *cfn.Schemas, values map[string]string, synth, ours []byte) {
	t.Helper()
	resolve := func(name string, raw []byte) (*cfn.Template, *cfn.Resolved) {
		tm, err := cfn.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, err := schemas.Check(tm, values)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, res := range r.Resources {
			if body, ok := res.Properties["DashboardBody"].(string); ok {
				var v any
				if err := json.Unmarshal([]byte(body), &v); err != nil {
					t.Fatalf("%s: dashboard body: %v", name, err)
				}
				res.Properties["DashboardBody"] = v
			}
		}
		return tm, r
	}
	synthT, synthR := resolve("synthesized", synth)
	oursT, oursR := resolve("template.json", ours)
	// The synthesized load balancing resources decode strictly into the
	// Elastic Load Balancing API's inputs and are wired for ECS's
	// blue/green and canary deployments, checked on their own so that a
	// break shows here even where template.json has the same break.
	if err := bluegreen.Check(synthT, synthR); err != nil {
		t.Errorf("synthesized template: %v", err)
	}
	if synthT.Description != oursT.Description {
		t.Errorf("Description differs:\n%s\n%s", synthT.Description, oursT.Description)
	}
	if !reflect.DeepEqual(norm(t, synthT.Conditions), norm(t, oursT.Conditions)) {
		t.Errorf("conditions differ:\n%s\n%s", js(synthT.Conditions), js(oursT.Conditions))
	}
	if !reflect.DeepEqual(norm(t, synthT.Parameters), norm(t, oursT.Parameters)) {
		t.Errorf("parameters differ:\n%s\n%s", js(synthT.Parameters), js(oursT.Parameters))
	}
	for name, want := range oursR.Resources {
		got, ok := synthR.Resources[name]
		if !ok {
			t.Errorf("the CDK app has no %s", name)
			continue
		}
		if !reflect.DeepEqual(norm(t, got), norm(t, want)) {
			t.Errorf("%s differs:\nCDK:           %s\ntemplate.json: %s", name, js(got), js(want))
		}
		if gt, wt := synthT.Resources[name], oursT.Resources[name]; !reflect.DeepEqual(cfn.Strings(gt.DependsOn), cfn.Strings(wt.DependsOn)) ||
			gt.DeletionPolicy != wt.DeletionPolicy || gt.UpdateReplacePolicy != wt.UpdateReplacePolicy || gt.Condition != wt.Condition {
			t.Errorf("%s: DependsOn or policies differ: %+v vs %+v", name, gt, wt)
		}
	}
	for name := range synthR.Resources {
		if _, ok := oursR.Resources[name]; !ok {
			t.Errorf("the CDK app adds %s", name)
		}
	}
	if !reflect.DeepEqual(norm(t, synthR.Outputs), norm(t, oursR.Outputs)) {
		t.Errorf("outputs differ:\n%s\n%s", js(synthR.Outputs), js(oursR.Outputs))
	}
}

// norm round-trips v through JSON so numbers and lists compare alike.
func norm(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return normNumbers(out)
}

// normNumbers makes numeric strings and numbers equal ("2" and 2), as
// CloudFormation treats them.
func normNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normNumbers(e)
		}
	case float64:
		return json.Number(jsonNumber(x))
	case string:
		return x
	}
	return v
}

func jsonNumber(f float64) string {
	raw, _ := json.Marshal(f)
	return string(raw)
}

func js(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// TestGoRun runs the tutorial's command as a reader does, from the
// repository root with no CDK_OUTDIR (only the CDK CLI sets it), and
// checks that it writes the template where the tutorial says:
// examples/ecs/cdk/cdk.out/sidelight-ecs.template.json.
func TestGoRun(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	written := filepath.Join(root, "examples", "ecs", "cdk", "cdk.out", StackName+".template.json")
	if err := os.Remove(written); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "-C", "examples/ecs/cdk", "run", ".")
	cmd.Dir = root
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CDK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go -C examples/ecs/cdk run .: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(written)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfn.Parse(raw); err != nil {
		t.Fatalf("the written template: %v", err)
	}
	var tmpl, ours struct {
		Resources map[string]any
	}
	ourRaw, err := os.ReadFile("../template.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ourRaw, &ours); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil || len(tmpl.Resources) != len(ours.Resources) {
		t.Fatalf("the written template has %d resources, want template.json's %d (%v)", len(tmpl.Resources), len(ours.Resources), err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close() // stops the Node.js process the CDK runs in
	os.Exit(code)
}
