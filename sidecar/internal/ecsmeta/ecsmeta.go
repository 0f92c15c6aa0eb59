package ecsmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// EnvVar names the metadata endpoint variable ECS sets in every container.
const EnvVar = "ECS_CONTAINER_METADATA_URI_V4"

// Task is the task-level metadata the sidecar uses.
type Task struct {
	Cluster          string `json:"Cluster"`
	TaskARN          string `json:"TaskARN"`
	Family           string `json:"Family"`
	Revision         string `json:"Revision"`
	AvailabilityZone string `json:"AvailabilityZone"`
	LaunchType       string `json:"LaunchType"`
	ServiceName      string `json:"ServiceName"`
	// Limits are the task-level limits (Fargate always has them; on EC2
	// they are optional).
	Limits Limits `json:"Limits"`
	// Container is the metadata of the container the sidecar runs in.
	Container Container `json:"-"`
}

// Limits are resource limits as the metadata reports them.
type Limits struct {
	CPU    float64 `json:"CPU"`    // vCPU for a task, CPU units for a container
	Memory int64   `json:"Memory"` // MiB; 0 when none is set
}

// Container is the part of a container's metadata the sidecar uses.
type Container struct {
	Name   string `json:"Name"`
	Limits Limits `json:"Limits"`
}

// MemoryLimit returns the memory limit the sidecar runs under, in bytes,
// and where it comes from: its container's hard limit when the task
// definition sets one ("ecs container"), else the task's ("ecs task"),
// else 0 and "".
func (t Task) MemoryLimit() (int64, string) {
	const maxMiB = 1 << 30 // a PiB: anything larger is not a limit
	switch c, tk := t.Container.Limits.Memory, t.Limits.Memory; {
	case c > 0 && c < maxMiB:
		return c << 20, "ecs container"
	case tk > 0 && tk < maxMiB:
		return tk << 20, "ecs task"
	}
	return 0, ""
}

// Fetch GETs base + "/task" (the task) and base (the calling container).
// It tries each up to three times within ctx.
func Fetch(ctx context.Context, client *http.Client, base string) (Task, error) {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	base = strings.TrimRight(base, "/")
	task, err := getRetrying(ctx, client, base+"/task")
	if err != nil {
		return Task{}, err
	}
	container, err := getRetrying(ctx, client, base)
	if err != nil {
		return Task{}, err
	}
	return parse(task, container)
}

// parse decodes the task's and the container's metadata documents.
func parse(task, container []byte) (Task, error) {
	var t Task
	if err := json.Unmarshal(task, &t); err != nil {
		return Task{}, fmt.Errorf("ecsmeta: decoding task metadata: %w", err)
	}
	if t.TaskARN == "" {
		return Task{}, errors.New("ecsmeta: task metadata has no TaskARN")
	}
	if err := json.Unmarshal(container, &t.Container); err != nil {
		return Task{}, fmt.Errorf("ecsmeta: decoding container metadata: %w", err)
	}
	return t, nil
}

func getRetrying(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	var last error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		b, err := get(ctx, client, url)
		if err == nil {
			return b, nil
		}
		last = err
	}
	return nil, last
}

func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ecsmeta: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ecsmeta: %s answered %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("ecsmeta: reading %s: %w", url, err)
	}
	return b, nil
}

// FromEnv fetches the task metadata when EnvVar is set; ok is false when
// it is not (not running on ECS).
func FromEnv(ctx context.Context) (t Task, ok bool, err error) {
	base := os.Getenv(EnvVar)
	if base == "" {
		return Task{}, false, nil
	}
	t, err = Fetch(ctx, nil, base)
	return t, err == nil, err
}

// ClusterName returns the cluster's short name (the Cluster field may be
// a name or an ARN).
func (t Task) ClusterName() string {
	if i := strings.LastIndex(t.Cluster, "cluster/"); i >= 0 {
		return t.Cluster[i+len("cluster/"):]
	}
	return t.Cluster
}

// SegmentECS returns the members to add under a segment's aws.ecs, as
// JSON without braces (see segment.AppendWithECS).
func (t Task) SegmentECS() []byte {
	var b []byte
	add := func(k, v string) {
		if v == "" {
			return
		}
		b = jsonenc.AppendKey(b, k, len(b) > 0)
		b = jsonenc.AppendString(b, v)
	}
	add("cluster", t.Cluster)
	add("task_arn", t.TaskARN)
	add("task_family", t.Family)
	add("task_revision", t.Revision)
	add("availability_zone", t.AvailabilityZone)
	add("launch_type", t.LaunchType)
	return b
}

// DimensionKeys are the names accepted by Dimensions, and the CloudWatch
// dimension each one adds.
var DimensionKeys = map[string]string{
	"cluster":     "ClusterName",
	"task_arn":    "TaskARN",
	"family":      "TaskDefinitionFamily",
	"revision":    "TaskDefinitionRevision",
	"az":          "AvailabilityZone",
	"launch_type": "LaunchType",
	"service":     "ServiceName",
}

// Dimensions returns (name, value) pairs for the given keys (see
// DimensionKeys), skipping empty values. An unknown key is an error.
func (t Task) Dimensions(keys []string) ([][2]string, error) {
	var out [][2]string
	for _, k := range keys {
		name, ok := DimensionKeys[k]
		if !ok {
			return nil, fmt.Errorf("ecsmeta: unknown dimension %q (want one of cluster, task_arn, family, revision, az, launch_type, service)", k)
		}
		v := map[string]string{"cluster": t.ClusterName(), "task_arn": t.TaskARN, "family": t.Family,
			"revision": t.Revision, "az": t.AvailabilityZone, "launch_type": t.LaunchType, "service": t.ServiceName}[k]
		if v != "" {
			out = append(out, [2]string{name, v})
		}
	}
	return out, nil
}
