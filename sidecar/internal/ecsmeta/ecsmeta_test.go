package ecsmeta_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
)

// serve answers /v4/abc/task with testdata/ecs-v4-task-<kind>.json and
// /v4/abc with testdata/ecs-v4-container-<kind>.json, after failing the
// first failFirst requests.
func serve(t *testing.T, kind string, failFirst int32) *httptest.Server {
	t.Helper()
	task, err := os.ReadFile("testdata/ecs-v4-task-" + kind + ".json")
	if err != nil {
		t.Fatal(err)
	}
	container, err := os.ReadFile("testdata/ecs-v4-container-" + kind + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failFirst {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		switch r.URL.Path {
		case "/v4/abc/task":
			_, _ = w.Write(task)
		case "/v4/abc":
			_, _ = w.Write(container)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFromEnvFargate(t *testing.T) {
	s := serve(t, "fargate", 1)
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

// TestMemoryLimit (issue 12, item 16): the container's hard limit when
// the task definition sets one, else the task's; none when neither does.
func TestMemoryLimit(t *testing.T) {
	for _, kind := range []string{"fargate", "ec2"} {
		s := serve(t, kind, 0)
		task, err := ecsmeta.Fetch(context.Background(), nil, s.URL+"/v4/abc")
		if err != nil {
			t.Fatal(err)
		}
		if task.Container.Name != "curl" {
			t.Fatalf("%s: container %+v", kind, task.Container)
		}
		if n, src := task.MemoryLimit(); n != 128<<20 || src != "ecs container" {
			t.Fatalf("%s: memory limit %d from %q", kind, n, src)
		}
	}
	s := serve(t, "fargate", 0)
	task, err := ecsmeta.Fetch(context.Background(), nil, s.URL+"/v4/abc")
	if err != nil {
		t.Fatal(err)
	}
	task.Container.Limits.Memory = 0 // only memoryReservation set for the container
	if n, src := task.MemoryLimit(); n != 512<<20 || src != "ecs task" {
		t.Fatalf("task limit %d from %q", n, src)
	}
	task.Limits.Memory = 0
	if n, src := task.MemoryLimit(); n != 0 || src != "" {
		t.Fatalf("no limit: %d from %q", n, src)
	}
	task.Limits.Memory = 1 << 50
	if n, _ := task.MemoryLimit(); n != 0 {
		t.Fatalf("absurd limit taken: %d", n)
	}
}

func TestFromEnvUnset(t *testing.T) {
	t.Setenv(ecsmeta.EnvVar, "")
	if _, ok, err := ecsmeta.FromEnv(context.Background()); ok || err != nil {
		t.Fatal(ok, err)
	}
}

func TestFetchErrors(t *testing.T) {
	s := serve(t, "ec2", 5)
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

// FuzzParse: any pair of documents gives metadata or an error, never a
// panic, and never a negative or absurd memory limit.
func FuzzParse(f *testing.F) {
	for _, kind := range []string{"ec2", "fargate"} {
		task, err := os.ReadFile("testdata/ecs-v4-task-" + kind + ".json")
		if err != nil {
			f.Fatal(err)
		}
		container, err := os.ReadFile("testdata/ecs-v4-container-" + kind + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(task, container)
	}
	f.Add([]byte(`{"TaskARN":"a","Limits":{"Memory":-5}}`), []byte(`{"Limits":{"Memory":9223372036854775807}}`))
	f.Fuzz(func(t *testing.T, task, container []byte) {
		tk, err := ecsmeta.Parse(task, container)
		if err != nil {
			return
		}
		if n, src := tk.MemoryLimit(); n < 0 || n > 1<<50 || (n == 0) != (src == "") {
			t.Fatalf("memory limit %d from %q", n, src)
		}
	})
}
