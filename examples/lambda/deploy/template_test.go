package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/cfn"
	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// versionDimensionWired says whether the Lambda middleware writes its
// metrics by version ([Service, Version]); see TestVersionDimensionWiring.
const versionDimensionWired = true

var values = map[string]string{"CodeS3Bucket": "my-artifacts", "CodeS3Key": "shop/1f3b5c7.zip"}

func resolve(t *testing.T, vals map[string]string) (*cfn.Template, *cfn.Resolved) {
	t.Helper()
	raw, err := os.ReadFile("template.json")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := cfn.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfn.LoadSchemas(schematest.CloudFormationSchemas())
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Check(tm, vals)
	if err != nil {
		t.Fatal(err)
	}
	return tm, r
}

// TestTemplateDecodesIntoTheAPIs checks the template against the
// resource schemas and decodes each resource strictly into the input of
// the API call CloudFormation makes for it.
func TestTemplateDecodesIntoTheAPIs(t *testing.T) {
	_, r := resolve(t, values)
	inputs := map[string]any{
		"AWS::Lambda::Function":            &lambda.CreateFunctionInput{},
		"AWS::Lambda::Version":             &lambda.PublishVersionInput{},
		"AWS::Lambda::Alias":               &lambda.CreateAliasInput{},
		"AWS::CodeDeploy::Application":     &codedeploy.CreateApplicationInput{},
		"AWS::CodeDeploy::DeploymentGroup": &codedeploy.CreateDeploymentGroupInput{},
		"AWS::CloudWatch::Alarm":           &cloudwatch.PutMetricAlarmInput{},
	}
	for _, name := range slices.Sorted(maps.Keys(r.Resources)) {
		res := r.Resources[name]
		in, ok := inputs[res.Type]
		if !ok {
			continue // IAM roles: checked by the schemas and below
		}
		in = reflect.New(reflect.TypeOf(in).Elem()).Interface()
		if err := cfn.DecodeProperties(res.Properties, in); err != nil {
			t.Errorf("%s (%s): %v", name, res.Type, err)
		}
	}
}

// TestCanaryDeploymentRollsBackOnVersionAlarms checks the rollout: the
// alias is updated through CodeDeploy (UpdatePolicy) with the canary
// configuration, rolling back on a failure and when an alarm fires; those
// alarms are exactly the two version alarms, and each reads a metric the
// Lambda middleware writes (its exported names, under the service name
// and namespace the function's environment sets) with exactly the
// dimensions of the metrics by version, selecting the version the
// template publishes, as deployversion reports it in Lambda.
func TestCanaryDeploymentRollsBackOnVersionAlarms(t *testing.T) {
	for name, vals := range map[string]map[string]string{
		"defaults": values,
		"renamed":  {"CodeS3Bucket": "b-1", "CodeS3Key": "k", "ServiceName": "checkout", "MetricsNamespace": "Shop/Prod"},
	} {
		t.Run(name, func(t *testing.T) {
			tm, r := resolve(t, vals)
			alias := r.Resources["LiveAlias"]
			policy, _ := alias.UpdatePolicy["CodeDeployLambdaAliasUpdate"].(map[string]any)
			app, _ := tm.Ref("CodeDeployApplication")
			group, _ := tm.Ref("DeploymentGroup")
			if policy["ApplicationName"] != app || policy["DeploymentGroupName"] != group {
				t.Fatalf("the alias's UpdatePolicy %v does not name the CodeDeploy application and group", alias.UpdatePolicy)
			}
			var in codedeploy.CreateDeploymentGroupInput
			if err := cfn.DecodeProperties(r.Resources["DeploymentGroup"].Properties, &in); err != nil {
				t.Fatal(err)
			}
			if *in.DeploymentConfigName != "CodeDeployDefault.LambdaCanary10Percent5Minutes" {
				t.Errorf("deployment config %s", *in.DeploymentConfigName)
			}
			if s := in.DeploymentStyle; s == nil || s.DeploymentType != cdtypes.DeploymentTypeBlueGreen || s.DeploymentOption != cdtypes.DeploymentOptionWithTrafficControl {
				t.Errorf("deployment style %+v", s)
			}
			if rb := in.AutoRollbackConfiguration; rb == nil || !rb.Enabled || !slices.Contains(rb.Events, cdtypes.AutoRollbackEventDeploymentStopOnAlarm) {
				t.Errorf("auto rollback %+v: want it on, for alarms too", rb)
			}
			ac := in.AlarmConfiguration
			if ac == nil || !ac.Enabled || len(ac.Alarms) != 2 {
				t.Fatalf("alarm configuration %+v", ac)
			}
			var got []string
			for _, a := range ac.Alarms {
				got = append(got, *a.Name)
			}
			var want []string
			for _, n := range []string{"VersionErrorRateAlarm", "VersionDurationP99Alarm"} {
				id, _ := tm.Ref(n)
				want = append(want, id)
			}
			if !slices.Equal(got, want) {
				t.Errorf("the group watches %v, want the version alarms %v", got, want)
			}

			fn := r.Resources["Function"].Properties
			vars := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
			if vars[redmetric.VersionEnv] != "true" {
				t.Errorf("the function does not set %s=true", redmetric.VersionEnv)
			}
			// The version the alias points at is the one the alarms select,
			// and the one deployversion reports inside Lambda.
			published := alias.Properties["FunctionVersion"].(string)
			lv := deployversion.FromLambda(context.Background(), func(k string) string {
				if k == deployversion.LambdaVersionEnv {
					return published
				}
				return ""
			}).Version()

			// The function runs as the template configures it, as the
			// version the alias points at.
			t.Setenv(redmetric.VersionEnv, vars[redmetric.VersionEnv].(string))
			t.Setenv(deployversion.LambdaVersionEnv, published)
			emitted := runLambda(t, vars["POWERTOOLS_SERVICE_NAME"].(string), vars["AWS_EMF_NAMESPACE"].(string))
			for _, alarm := range []string{"VersionErrorRateAlarm", "VersionDurationP99Alarm"} {
				for _, ref := range metricsOf(t, alarm, r.Resources[alarm].Properties) {
					if ref.metric != middleware.MetricErrors && ref.metric != middleware.MetricDuration {
						t.Errorf("%s: metric %q is not the Lambda middleware's Errors or Duration", alarm, ref.metric)
					}
					if names := slices.Sorted(maps.Keys(ref.dims)); !slices.Equal(names, slices.Sorted(slices.Values(redmetric.LambdaVersionSet))) {
						t.Errorf("%s: dimensions %v, want exactly %v", alarm, names, redmetric.LambdaVersionSet)
					}
					if ref.ns != vars["AWS_EMF_NAMESPACE"] || ref.dims[redmetric.LambdaService] != vars["POWERTOOLS_SERVICE_NAME"] {
						t.Errorf("%s: %s %v; the function writes to %v as %v", alarm, ref.ns, ref.dims, vars["AWS_EMF_NAMESPACE"], vars["POWERTOOLS_SERVICE_NAME"])
					}
					if ref.dims[redmetric.Version] != lv.Value || lv.Source != deployversion.SourceLambdaVersion {
						t.Errorf("%s: Version %q; the function reports %+v", alarm, ref.dims[redmetric.Version], lv)
					}
					dims := map[string]string{redmetric.LambdaService: ref.dims[redmetric.LambdaService]}
					if versionDimensionWired {
						dims = ref.dims
					}
					if err := emitted.check(ref.ns, ref.metric, dims); err != nil {
						t.Errorf("%s: %v", alarm, err)
					}
					if ref.unit != "" && emitted.units[ref.metric] != ref.unit {
						t.Errorf("%s: unit %s, the middleware writes %s", alarm, ref.unit, emitted.units[ref.metric])
					}
				}
			}
		})
	}
}

// TestVersionDimensionWiring fails once the Lambda middleware writes
// [Service, Version] while versionDimensionWired is false, or the
// reverse.
func TestVersionDimensionWiring(t *testing.T) {
	t.Setenv(redmetric.VersionEnv, "true")
	t.Setenv(deployversion.LambdaVersionEnv, "7")
	e := runLambda(t, "shop", "Shop")
	err := e.check("Shop", middleware.MetricErrors, map[string]string{redmetric.LambdaService: "shop", redmetric.Version: "7"})
	if (err == nil) != versionDimensionWired {
		t.Fatalf("the middleware writes Errors by version: %v; versionDimensionWired is %v", err == nil, versionDimensionWired)
	}
}

type metricRef struct {
	ns, metric, unit string
	dims             map[string]string
}

// metricsOf lists the metrics an alarm reads (a single metric or metric
// math over MetricStats).
func metricsOf(t *testing.T, name string, p map[string]any) []metricRef {
	t.Helper()
	var in cloudwatch.PutMetricAlarmInput
	if err := cfn.DecodeProperties(p, &in); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	dims := func(ds []cwtypes.Dimension) map[string]string {
		out := map[string]string{}
		for _, d := range ds {
			out[*d.Name] = *d.Value
		}
		return out
	}
	if in.MetricName != nil {
		return []metricRef{{ns: *in.Namespace, metric: *in.MetricName, unit: string(in.Unit), dims: dims(in.Dimensions)}}
	}
	var refs []metricRef
	for _, q := range in.Metrics {
		if q.MetricStat != nil {
			m := q.MetricStat.Metric
			refs = append(refs, metricRef{ns: *m.Namespace, metric: *m.MetricName, unit: string(q.MetricStat.Unit), dims: dims(m.Dimensions)})
		}
	}
	if len(refs) == 0 {
		t.Fatalf("%s reads no metric", name)
	}
	return refs
}

// emitted is what the Lambda middleware wrote: for each metric, the
// dimension sets and their values, and its unit.
type emitted struct {
	docs  []map[string]any
	units map[string]string
}

func (e *emitted) check(ns, metric string, dims map[string]string) error {
	want := slices.Sorted(maps.Keys(dims))
	var seen []string
	for _, d := range e.docs {
		aws, _ := d["_aws"].(map[string]any)
		dirs, _ := aws["CloudWatchMetrics"].([]any)
		for _, dir := range dirs {
			dm, _ := dir.(map[string]any)
			if dm["Namespace"] != ns || !hasMetric(dm, metric) {
				continue
			}
			sets, _ := dm["Dimensions"].([]any)
			for _, set := range sets {
				var names []string
				for _, n := range set.([]any) {
					names = append(names, n.(string))
				}
				slices.Sort(names)
				seen = append(seen, fmt.Sprint(names))
				if !slices.Equal(names, want) {
					continue
				}
				match := true
				for k, v := range dims {
					match = match && d[k] == v
				}
				if match {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%s/%s is not written with the dimensions %v (written with %v)", ns, metric, dims, seen)
}

func hasMetric(dir map[string]any, name string) bool {
	ms, _ := dir["Metrics"].([]any)
	for _, m := range ms {
		if mm, _ := m.(map[string]any); mm["Name"] == name {
			return true
		}
	}
	return false
}

// runLambda invokes a handler wrapped by middleware.Lambda, configured
// as the template configures the function, once succeeding and once
// failing, and returns the EMF it wrote.
func runLambda(t *testing.T, service, namespace string) *emitted {
	t.Helper()
	t.Setenv("POWERTOOLS_SERVICE_NAME", service)
	t.Setenv("AWS_EMF_NAMESPACE", namespace)
	daemon, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer emitter.Shutdown(context.Background())
	sink := emftest.NewSink()
	h := middleware.Lambda(func(_ context.Context, fail bool) (string, error) {
		if fail {
			return "", errors.New("boom")
		}
		return "ok", nil
	}, middleware.WithSegmentExporter(emitter), middleware.WithMetricsSink(sink))
	for _, fail := range []bool{false, true} {
		h(context.Background(), fail)
	}
	docs, err := sink.Decoded()
	if err != nil || len(docs) == 0 {
		t.Fatalf("the middleware wrote no EMF: %v", err)
	}
	e := &emitted{docs: docs, units: map[string]string{}}
	for _, d := range docs {
		aws, _ := d["_aws"].(map[string]any)
		dirs, _ := aws["CloudWatchMetrics"].([]any)
		for _, dir := range dirs {
			ms, _ := dir.(map[string]any)["Metrics"].([]any)
			for _, m := range ms {
				mm, _ := m.(map[string]any)
				name, _ := mm["Name"].(string)
				unit, _ := mm["Unit"].(string)
				e.units[name] = unit
			}
		}
	}
	return e
}

// TestReadmeDeployCommand checks the README's deploy command against the
// template: the file it names, and parameters that exist, covering every
// one without a default.
func TestReadmeDeployCommand(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := resolve(t, values)
	found := false
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "aws cloudformation deploy ") {
			continue
		}
		found = true
		fields := strings.Fields(line)
		i := slices.Index(fields, "--template-file")
		if i < 0 || fields[i+1] != "examples/lambda/deploy/template.json" {
			t.Errorf("the command deploys %v", fields)
		}
		given := map[string]bool{}
		j := slices.Index(fields, "--parameter-overrides")
		for _, kv := range fields[j+1:] {
			k, _, _ := strings.Cut(kv, "=")
			if _, ok := tm.Parameters[k]; !ok {
				t.Errorf("README passes %s, which the template does not have", k)
			}
			given[k] = true
		}
		for name, p := range tm.Parameters {
			if p.Default == nil && !given[name] {
				t.Errorf("README does not pass %s, which has no default", name)
			}
		}
	}
	if !found {
		t.Fatal("no aws cloudformation deploy command in README.md")
	}
}
