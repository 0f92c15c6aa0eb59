package ecsmeta_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
)

func serve(t *testing.T, sample string, failFirst int32) *httptest.Server {
	t.Helper()
	body, err := schematest.ReadReference(sample)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failFirst {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		if r.URL.Path != "/v4/abc/task" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFromEnvFargate(t *testing.T) {
	s := serve(t, "samples/ecs-v4-task-fargate.json", 1)
	t.Setenv(ecsmeta.EnvVar, s.URL+"/v4/abc")
	task, ok, err := ecsmeta.FromEnv(context.Background())
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if task.ClusterName() != "default" || task.Family != "curltest" || task.Revision != "3" ||
		task.AvailabilityZone != "us-west-2a" || task.LaunchType != "FARGATE" {
		t.Fatalf("task %+v", task)
	}
	dims, err := task.Dimensions([]string{"cluster", "family", "launch_type"})
	if err != nil || fmt.Sprint(dims) != "[[ClusterName default] [TaskDefinitionFamily curltest] [LaunchType FARGATE]]" {
		t.Fatalf("dims %v %v", dims, err)
	}
	if _, err := task.Dimensions([]string{"nope"}); err == nil {
		t.Fatal("unknown dimension accepted")
	}
	var ecs map[string]string
	if err := json.Unmarshal([]byte("{"+string(task.SegmentECS())+"}"), &ecs); err != nil {
		t.Fatal(err)
	}
	if ecs["task_arn"] != task.TaskARN || ecs["launch_type"] != "FARGATE" {
		t.Fatalf("segment ecs %v", ecs)
	}
}

func TestFromEnvUnset(t *testing.T) {
	t.Setenv(ecsmeta.EnvVar, "")
	if _, ok, err := ecsmeta.FromEnv(context.Background()); ok || err != nil {
		t.Fatal(ok, err)
	}
}

func TestFetchErrors(t *testing.T) {
	s := serve(t, "samples/ecs-v4-task-ec2.json", 5)
	if _, err := ecsmeta.Fetch(context.Background(), nil, s.URL+"/v4/abc"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("failing endpoint: %v", err)
	}
	task, err := ecsmeta.Fetch(context.Background(), nil, s.URL+"/v4/abc")
	if err != nil || task.LaunchType != "EC2" || task.ServiceName != "MyService" {
		t.Fatalf("%+v %v", task, err)
	}
}

func ExampleTask_ClusterName() {
	fmt.Println(ecsmeta.Task{Cluster: "arn:aws:ecs:us-west-2:111122223333:cluster/prod"}.ClusterName())
	// Output: prod
}
