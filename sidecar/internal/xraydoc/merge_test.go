package xraydoc

import (
	"strconv"
	"strings"
	"testing"
)

// ecsDoc is a valid segment whose aws.ecs has n members.
func ecsDoc(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"aws":{"ecs":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":"v"`)
	}
	b.WriteString(`}},"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1,"end_time":2,"name":"n"}`)
	return []byte(b.String())
}

// Merging task fields into a hostile aws.ecs does work linear in its
// members: comparisons counted at n and 4n.
func TestMergeECSLinear(t *testing.T) {
	ecs := []byte(`"cluster":"c","task_arn":"t","task_family":"f","task_revision":"1","availability_zone":"az","launch_type":"FARGATE"`)
	work := func(n int) int {
		doc := ecsDoc(n)
		info, r := Check(doc)
		if r != OK || info.ECS == nil {
			t.Fatalf("document with %d ecs members: %v", n, r)
		}
		var count int
		out := appendMergedECS(nil, doc, info, ecs, &count)
		if !strings.Contains(string(out), `"launch_type":"FARGATE"`) {
			t.Fatalf("task fields not merged: %.200s", out)
		}
		return count
	}
	const n = 1000
	atN, at4N := work(n), work(4*n)
	t.Logf("comparisons: %d at n=%d, %d at 4n", atN, n, at4N)
	if at4N > 4*atN {
		t.Fatalf("%d comparisons for %d members, %d for %d: super-linear", atN, n, at4N, 4*n)
	}
	if atN > maxECSMembers*n {
		t.Fatalf("%d comparisons for %d members", atN, n)
	}
}

// Merging allocates nothing when dst has room.
func TestMergeECSDoesNotAllocate(t *testing.T) {
	doc := ecsDoc(3)
	info, _ := Check(doc)
	ecs := []byte(`"cluster":"c","task_arn":"t"`)
	dst := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() { dst = AppendWithECS(dst[:0], doc, info, ecs) })
	if allocs != 0 {
		t.Fatalf("AppendWithECS allocates %v times", allocs)
	}
}
