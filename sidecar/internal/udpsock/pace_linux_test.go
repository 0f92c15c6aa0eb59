package udpsock

import (
	"testing"
	"time"
)

// TestPauseAdapts checks the pacing rule: a pause that let more than the
// budget pile up is halved (down to none at all), one that used little of
// it grows back to the maximum, and one in between is kept.
func TestPauseAdapts(t *testing.T) {
	r := &rawReader{budget: 100_000, pause: maxPause}
	steps := []struct {
		drained int
		want    time.Duration
	}{
		{150_000, maxPause / 2},
		{150_000, maxPause / 4},
		{50_000, maxPause / 4}, // between a quarter and all of the budget: kept
		{150_000, maxPause / 8},
		{150_000, maxPause / 16}, // 125 µs
		{150_000, 0},             // below minPause: read without pausing
		{150_000, 0},
		{1_000, minPause},
		{1_000, 2 * minPause},
		{1_000, 4 * minPause},
		{1_000, 8 * minPause},
		{1_000, 16 * minPause},
		{1_000, maxPause}, // capped
		{1_000, maxPause},
	}
	for i, s := range steps {
		r.drained = s.drained
		r.adapt()
		if r.pause != s.want {
			t.Fatalf("step %d (drained %d): pause %v, want %v", i, s.drained, r.pause, s.want)
		}
		if r.drained != 0 {
			t.Fatalf("step %d: drained not reset", i)
		}
	}
}
