package app

import (
	"runtime/debug"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
)

// MemoryLimit is the soft memory limit of the Go runtime
// (debug.SetMemoryLimit) the sidecar runs under, and where it came from.
type MemoryLimit struct {
	Bytes int64
	// Source is "GOMEMLIMIT" (set by the user, left alone), "budget"
	// (derived from -memory-budget-mib), or "ecs container" or "ecs task"
	// (derived from that memory limit in the ECS task metadata, because
	// it was the lower).
	Source string
	// Tight is set when the ECS limit is below what the budget would
	// want: the collector then works harder once the budget fills, and a
	// smaller -memory-budget-mib would suit the container better.
	Tight bool
}

// Figures behind BudgetMemoryLimit and the bound on peak RSS stated in
// the README (measured with the load command, see BENCHMARKS.md): idle,
// the heap is about 6 MiB and the binary's code in memory about 13 MiB,
// which the soft limit does not cover.
const (
	// heapOutsideBudget is the heap the sidecar needs besides a full
	// budget: runtime, SDK clients, receive and request buffers, requests
	// in flight.
	heapOutsideBudget = 8 << 20
	// ecsReserve is left below an ECS memory limit for what the soft
	// limit does not cover (the binary's code, page cache and socket
	// buffers charged to the container's cgroup).
	ecsReserve = 24 << 20
)

// BudgetMemoryLimit is the soft memory limit for a telemetry budget of
// budget bytes: the budget (which counts what its entries hold on the
// heap) twice over, so that a full budget leaves the collector as much
// room again, and the heap outside the budget. At the default 16 MiB
// budget that is 40 MiB, and peak RSS stays under the limit plus 12 MiB
// (the binary's code is not in the limit). With the budget only half as
// much again (32 MiB), peak RSS was 43-46 MB, but once the budget filled
// the collector ran so often that the sidecar needed twice the CPU per
// segment and lost several times more (BENCHMARKS.md).
func BudgetMemoryLimit(budget int64) int64 { return 2*budget + heapOutsideBudget }

// ChooseMemoryLimit returns the soft memory limit for a budget of budget
// bytes: GOMEMLIMIT when the user set it (getenv), else the lower of
// BudgetMemoryLimit and the ECS memory limit (task may be nil) less
// ecsReserve.
func ChooseMemoryLimit(budget int64, task *ecsmeta.Task, getenv func(string) string) MemoryLimit {
	if getenv("GOMEMLIMIT") != "" {
		return MemoryLimit{Bytes: debug.SetMemoryLimit(-1), Source: "GOMEMLIMIT"}
	}
	ml := MemoryLimit{Bytes: BudgetMemoryLimit(budget), Source: "budget"}
	if task == nil {
		return ml
	}
	if ecs, src := task.MemoryLimit(); ecs > 0 {
		if l := max(ecs-ecsReserve, ecs/2); l < ml.Bytes {
			ml = MemoryLimit{Bytes: l, Source: src, Tight: true}
		}
	}
	return ml
}

// Apply sets the runtime's soft memory limit, unless it came from
// GOMEMLIMIT (the runtime already applied it).
func (ml MemoryLimit) Apply() {
	if ml.Source != "GOMEMLIMIT" {
		debug.SetMemoryLimit(ml.Bytes)
	}
}
