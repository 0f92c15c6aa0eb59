package eks

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
)

const manifest = "../../examples/eks/orders.yaml"

// objects decodes every document of the manifest strictly (unknown or
// misspelt fields, wrong types and duplicate keys fail) into the
// k8s.io/api type of its kind.
func objects(t *testing.T, raw []byte) (*corev1.ServiceAccount, *appsv1.Deployment, *corev1.Service) {
	t.Helper()
	var sa *corev1.ServiceAccount
	var dep *appsv1.Deployment
	var svc *corev1.Service
	for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "v1 ServiceAccount":
			sa = &corev1.ServiceAccount{}
			obj = sa
		case "apps/v1 Deployment":
			dep = &appsv1.Deployment{}
			obj = dep
		case "v1 Service":
			svc = &corev1.Service{}
			obj = svc
		default:
			t.Fatalf("document %d: unexpected %s %s", i, head.APIVersion, head.Kind)
		}
		if err := decodeStrict(doc, obj); err != nil {
			t.Fatalf("document %d (%s): %v", i, head.Kind, err)
		}
	}
	if sa == nil || dep == nil || svc == nil {
		t.Fatal("want a ServiceAccount, a Deployment and a Service")
	}
	return sa, dep, svc
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// TestManifest checks the pod: the sidecar is a native sidecar (an init
// container with restartPolicy Always) with a startup probe, so the app
// starts after it is ready and it stops after the app; the app sends to
// the ports the sidecar declares on the pod's localhost; the grace period
// covers the sidecar's shutdown timeout; the version the app reports
// (service.version, from the pod's version label) is what deployversion
// reads, and metrics by version are on; the sidecar's settings are those
// of the ECS task definition; the Service selects the pods.
func TestManifest(t *testing.T) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	sa, dep, svc := objects(t, raw)
	pod := dep.Spec.Template
	if len(pod.Spec.InitContainers) != 1 || len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one init container (the sidecar) and one container, got %d and %d", len(pod.Spec.InitContainers), len(pod.Spec.Containers))
	}
	sc, app := pod.Spec.InitContainers[0], pod.Spec.Containers[0]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatalf("the sidecar's restartPolicy is %v; a native sidecar needs Always", sc.RestartPolicy)
	}
	if sc.StartupProbe == nil || sc.StartupProbe.Exec == nil || !slices.Equal(sc.StartupProbe.Exec.Command, []string{"/sidecar", "health"}) {
		t.Errorf("the sidecar's startup probe %+v: want /sidecar health, so the app starts once it is ready", sc.StartupProbe)
	}
	ports := map[string]bool{}
	for _, p := range sc.Ports {
		ports[strings.ToLower(string(p.Protocol))+":"+itoa(p.ContainerPort)] = true
	}
	ae := env(app)
	for name, want := range map[string]string{"AWS_XRAY_DAEMON_ADDRESS": "udp:2000", "AWS_EMF_AGENT_ENDPOINT": "tcp:25888"} {
		v := ae[name].Value
		if !strings.Contains(v, "127.0.0.1:") || !ports[want] {
			t.Errorf("the app sends %s=%q; the sidecar declares %v", name, v, ports)
		}
	}
	se := env(sc)
	shutdown, err := time.ParseDuration(se["SIDELIGHT_SHUTDOWN_TIMEOUT"].Value)
	if err != nil || pod.Spec.TerminationGracePeriodSeconds == nil || time.Duration(*pod.Spec.TerminationGracePeriodSeconds)*time.Second <= shutdown {
		t.Errorf("grace period %v does not cover the sidecar's shutdown timeout %v", pod.Spec.TerminationGracePeriodSeconds, se["SIDELIGHT_SHUTDOWN_TIMEOUT"].Value)
	}
	for _, c := range []corev1.Container{sc, app} {
		s := c.SecurityContext
		if s == nil || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem || s.RunAsUser == nil || *s.RunAsUser == 0 {
			t.Errorf("%s: security context %+v: want a read-only root and a numeric non-root user", c.Name, s)
		}
	}

	// The version: OTEL_RESOURCE_ATTRIBUTES with $(APP_VERSION), which the
	// downward API fills from the pod's label.
	if ae[redmetric.VersionEnv].Value != "true" {
		t.Errorf("the app does not set %s=true", redmetric.VersionEnv)
	}
	ref := ae["APP_VERSION"].ValueFrom
	if ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != "metadata.labels['app.kubernetes.io/version']" {
		t.Fatalf("APP_VERSION does not come from the version label: %+v", ref)
	}
	label := pod.Labels["app.kubernetes.io/version"]
	attrs := strings.ReplaceAll(ae[deployversion.ResourceAttributesEnv].Value, "$(APP_VERSION)", label)
	v, err := deployversion.FromResourceAttributes(attrs)
	if err != nil || v.Value != label || label == "" || v.Source != deployversion.SourceOTel {
		t.Errorf("the app reports version %+v (%v); the pod's label is %q", v, err, label)
	}
	if i, j := slices.Index(names(app.Env), "APP_VERSION"), slices.Index(names(app.Env), deployversion.ResourceAttributesEnv); i < 0 || i > j {
		t.Error("APP_VERSION must come before OTEL_RESOURCE_ATTRIBUTES, or $(APP_VERSION) is not expanded")
	}

	// The sidecar runs with the ECS example's settings.
	td, err := os.ReadFile("../../examples/ecs/taskdef.json")
	if err != nil {
		t.Fatal(err)
	}
	var taskdef struct {
		ContainerDefinitions []struct {
			Name        string
			Environment []struct{ Name, Value string }
		}
	}
	if err := json.Unmarshal(td, &taskdef); err != nil {
		t.Fatal(err)
	}
	for _, c := range taskdef.ContainerDefinitions {
		if c.Name != sc.Name {
			continue
		}
		for _, e := range c.Environment {
			// The region and the OTLP log group's name are the
			// platform's; they must be set, not equal.
			if e.Name == "AWS_REGION" || e.Name == "SIDELIGHT_OTLP_LOG_GROUP" {
				if se[e.Name].Value == "" {
					t.Errorf("sidecar %s is not set; the ECS task definition sets it", e.Name)
				}
				continue
			}
			if se[e.Name].Value != e.Value {
				t.Errorf("sidecar %s=%q; the ECS task definition sets %q", e.Name, se[e.Name].Value, e.Value)
			}
		}
	}

	if pod.Spec.ServiceAccountName != sa.Name || sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("service account %q / %+v: the sidecar needs AWS credentials", pod.Spec.ServiceAccountName, sa.Annotations)
	}
	for k, v := range svc.Spec.Selector {
		if pod.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pods do not carry", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.StrVal != app.Ports[0].Name {
		t.Errorf("the Service targets %+v; the app's port is %q", svc.Spec.Ports, app.Ports[0].Name)
	}
}

// TestStrictDecodingRefusesMistakes shows the decoding above is strict:
// a field spelt in the wrong case (which encoding/json would accept) and
// a value of the wrong type are refused.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ old, new string }{
		{"\n          restartPolicy: Always", "\n          restartpolicy: Always"},
		{"startupProbe:", "startupprobe:"},
		{"terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: \"45s\""},
	} {
		mutated := bytes.Replace(raw, []byte(bad.old), []byte(bad.new), 1)
		if bytes.Equal(mutated, raw) {
			t.Fatalf("%q not in the manifest", bad.old)
		}
		failed := false
		for _, doc := range bytes.Split(mutated, []byte("\n---\n")) {
			if bytes.Contains(doc, []byte("kind: Deployment")) {
				failed = decodeStrict(doc, &appsv1.Deployment{}) != nil
			}
		}
		if !failed {
			t.Errorf("%q accepted", bad.new)
		}
	}
}

// decodeStrict decodes a YAML document as the API server does in strict
// field validation: YAML to JSON (duplicate keys refused), then
// case-sensitive JSON decoding that refuses unknown fields.
func decodeStrict(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(js, obj)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func names(env []corev1.EnvVar) []string {
	var out []string
	for _, e := range env {
		out = append(out, e.Name)
	}
	return out
}

func itoa(n int32) string {
	b, _ := json.Marshal(n)
	return string(b)
}
