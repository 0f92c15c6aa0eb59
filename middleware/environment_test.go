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
	cfg := newConfig(f.opts(t))
	env := startEnvironment(cfg)
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
	cfg := newConfig(f.opts(t))
	env := startEnvironment(cfg)
	env.wait()
	h := &handler{cfg: cfg, env: env, next: http.NotFoundHandler()}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	seg := f.wait(t, 1)[0]
	if seg.Origin != "AWS::ECS::Container" || seg.AWS["ecs"] == nil {
		t.Fatalf("without metadata the segment should still name its origin and host: %q %v", seg.Origin, seg.AWS)
	}
}
