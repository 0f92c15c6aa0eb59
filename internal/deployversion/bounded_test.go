package deployversion

import (
	"fmt"
	"slices"
	"testing"
)

func TestBoundedRetiresLeastRecentlySeen(t *testing.T) {
	b := NewBounded(2)
	steps := []struct {
		see     string
		retired string
		held    []string
	}{
		{"v1", "", []string{"v1"}},
		{"v2", "", []string{"v2", "v1"}},
		{"v1", "", []string{"v1", "v2"}},   // v1 seen again: now the most recent
		{"v3", "v2", []string{"v3", "v1"}}, // v2 is the least recently seen
		{"v3", "", []string{"v3", "v1"}},
		{"v2", "v1", []string{"v2", "v3"}}, // a retired version comes back as new
	}
	for i, s := range steps {
		old, retired := b.See(s.see)
		if retired != (s.retired != "") || old != s.retired {
			t.Fatalf("step %d: See(%q) retired %q (%v), want %q", i, s.see, old, retired, s.retired)
		}
		if got := b.Versions(); !slices.Equal(got, s.held) {
			t.Fatalf("step %d: held %v, want %v", i, got, s.held)
		}
	}
	if b.Retired() != 2 || b.Len() != 2 {
		t.Fatalf("retired %d, len %d; want 2, 2", b.Retired(), b.Len())
	}
	if !b.Contains("v3") || b.Contains("v1") {
		t.Fatal("Contains is wrong")
	}
	// Contains does not count as seeing: v3 stays least recent.
	if old, _ := b.See("v4"); old != "v3" {
		t.Fatalf("retired %q, want v3", old)
	}
}

func TestBoundedDefaultAndChurn(t *testing.T) {
	b := NewBounded(0)
	for i := range 1000 {
		b.See(fmt.Sprint("v", i))
		if b.Len() > DefaultMaxVersions {
			t.Fatalf("holds %d > %d", b.Len(), DefaultMaxVersions)
		}
	}
	if b.Retired() != 1000-DefaultMaxVersions {
		t.Fatalf("retired %d, want %d", b.Retired(), 1000-DefaultMaxVersions)
	}
	if got := b.Versions(); !slices.Equal(got, []string{"v999", "v998", "v997"}) {
		t.Fatalf("held %v", got)
	}
}

// TestBoundedSeeIsConstantWork: seeing a held version allocates nothing,
// and admitting a new one allocates the same at any size of the bound.
func TestBoundedSeeIsConstantWork(t *testing.T) {
	for _, n := range []int{10, 40, 1000} {
		b := NewBounded(n)
		names := make([]string, 4*n)
		for i := range names {
			names[i] = fmt.Sprint("v", i)
		}
		for _, s := range names[:n] {
			b.See(s)
		}
		i := 0
		held := testing.AllocsPerRun(100, func() { b.See(names[i%n]); i++ })
		if held != 0 {
			t.Fatalf("n=%d: seeing a held version allocates %v", n, held)
		}
		j := n
		fresh := testing.AllocsPerRun(100, func() { b.See(names[n+j%(3*n)]); j++ })
		if fresh > 2 {
			t.Fatalf("n=%d: admitting a version allocates %v", n, fresh)
		}
	}
}
