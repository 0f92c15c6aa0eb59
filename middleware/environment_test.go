package middleware

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestECSOrigin(t *testing.T) {
	sample, err := schematest.ReadReference("samples/ecs-v4-container-fargate.json")
	if err != nil {
		t.Fatal(err)
	}
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/abc" {
			http.NotFound(w, r)
			return
		}
		w.Write(sample)
	}))
	defer meta.Close()
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", meta.URL+"/v4/abc")
	f := newFixture(t)
	cfg := f.kit.config(f.opts(t))
	env := newEnvironment(cfg)
	env.start()
	env.wait()
	h := &handler{cfg: cfg, env: env, next: http.NotFoundHandler()}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	seg := f.wait(t, 1)[0]
	ecs, _ := seg.AWS["ecs"].(map[string]any)
	if seg.Origin != "AWS::ECS::Container" || ecs == nil || ecs["container"] == "" {
		t.Fatalf("origin %q aws %v", seg.Origin, seg.AWS)
	}
	if arn, _ := ecs["container_arn"].(string); !strings.HasPrefix(arn, "arn:aws:ecs:") {
		t.Errorf("container_arn %q", arn)
	}
	if id, _ := ecs["container_id"].(string); id == "" {
		t.Errorf("container_id missing: %v", ecs)
	}
}

func TestECSMetadataUnavailable(t *testing.T) {
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", "http://127.0.0.1:1/v4/none")
	f := newFixture(t)
	cfg := f.kit.config(f.opts(t))
	env := newEnvironment(cfg)
	env.start()
	env.wait()
	h := &handler{cfg: cfg, env: env, next: http.NotFoundHandler()}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	seg := f.wait(t, 1)[0]
	if seg.Origin != "AWS::ECS::Container" || seg.AWS["ecs"] == nil {
		t.Fatalf("without metadata the segment should still name its origin and host: %q %v", seg.Origin, seg.AWS)
	}
}

func TestEC2Origin(t *testing.T) {
	var sawToken bool
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "PUT" && r.URL.Path == "/latest/api/token" && r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") != "":
			w.Write([]byte("tok"))
		case r.Method == "GET" && r.URL.Path == "/latest/dynamic/instance-identity/document":
			if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "tok" {
				w.WriteHeader(401)
				return
			}
			sawToken = true
			w.Write([]byte(`{"instanceId":"i-0123456789abcdef0","availabilityZone":"eu-west-1a","instanceType":"m7g.large","imageId":"ami-123","region":"eu-west-1"}`))
		default:
			w.WriteHeader(404)
		}
	}))
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", "")
	f := newFixture(t)
	cfg := f.kit.config(f.opts(t, WithEC2Metadata(true)))
	env := newEnvironment(cfg)
	env.start()
	env.wait()
	h := &handler{cfg: cfg, env: env, next: http.NotFoundHandler()}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	seg := f.wait(t, 1)[0]
	ec2, _ := seg.AWS["ec2"].(map[string]any)
	if !sawToken || seg.Origin != "AWS::EC2::Instance" || ec2["instance_id"] != "i-0123456789abcdef0" || ec2["availability_zone"] != "eu-west-1a" || ec2["instance_size"] != "m7g.large" {
		t.Fatalf("origin %q aws %v (token used: %v)", seg.Origin, seg.AWS, sawToken)
	}
}

func TestEC2MetadataOffByDefault(t *testing.T) {
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", "")
	f := newFixture(t)
	cfg := f.kit.config(f.opts(t))
	env := newEnvironment(cfg)
	env.start()
	env.wait()
	h := &handler{cfg: cfg, env: env, next: http.NotFoundHandler()}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if seg := f.wait(t, 1)[0]; seg.Origin != "" || seg.AWS != nil {
		t.Fatalf("origin %q aws %v without any environment", seg.Origin, seg.AWS)
	}
}
