package app_test

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
)

// TestChooseMemoryLimit (issue 12, item 16): the soft memory limit comes
// from the budget, or from the ECS memory limit when that is lower, and
// an explicit GOMEMLIMIT is left alone.
func TestChooseMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	noEnv := func(string) string { return "" }
	container := func(c, task int64) *ecsmeta.Task {
		tk := &ecsmeta.Task{TaskARN: "arn", Limits: ecsmeta.Limits{Memory: task}}
		tk.Container.Limits.Memory = c
		return tk
	}
	for _, tc := range []struct {
		name   string
		budget int64
		task   *ecsmeta.Task
		want   int64
		source string
		tight  bool
	}{
		{"default budget", 16 * mib, nil, 40 * mib, "budget", false},
		{"small budget", 1 * mib, nil, 10 * mib, "budget", false},
		{"roomy container", 16 * mib, container(512, 1024), 40 * mib, "budget", false},
		{"tight container", 16 * mib, container(56, 1024), 32 * mib, "ecs container", true},
		{"tiny container", 16 * mib, container(32, 0), 16 * mib, "ecs container", true},
		{"task limit only", 64 * mib, container(0, 128), 104 * mib, "ecs task", true},
		{"no limits", 16 * mib, container(0, 0), 40 * mib, "budget", false},
	} {
		ml := app.ChooseMemoryLimit(tc.budget, tc.task, noEnv)
		if ml.Bytes != tc.want || ml.Source != tc.source || ml.Tight != tc.tight {
			t.Errorf("%s: %+v, want %d MiB from %s (tight %v)", tc.name, ml, tc.want/mib, tc.source, tc.tight)
		}
	}

	// An explicit GOMEMLIMIT wins and is not overwritten.
	old := debug.SetMemoryLimit(123 * mib)
	defer debug.SetMemoryLimit(old)
	ml := app.ChooseMemoryLimit(16*mib, container(56, 0), func(k string) string {
		if k == "GOMEMLIMIT" {
			return "123MiB"
		}
		return ""
	})
	ml.Apply()
	if ml.Bytes != 123*mib || ml.Source != "GOMEMLIMIT" || debug.SetMemoryLimit(-1) != 123*mib {
		t.Fatalf("GOMEMLIMIT: %+v, runtime limit %d", ml, debug.SetMemoryLimit(-1))
	}
	app.ChooseMemoryLimit(16*mib, nil, noEnv).Apply()
	if got := debug.SetMemoryLimit(-1); got != 40*mib {
		t.Fatalf("applied %d", got)
	}
}

// TestStatusShowsMemoryLimit: /status shows the limit main chose.
func TestStatusShowsMemoryLimit(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Config: testConfig(),
		MemoryLimit: app.MemoryLimit{Bytes: 40 << 20, Source: "budget"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	st := getStatus(t, a.Addrs()["status"])
	if st.Info["memory_limit_bytes"] != float64(40<<20) || st.Info["memory_limit_source"] != "budget" {
		t.Fatalf("info %v", st.Info)
	}
}
