package udpsock

import (
	"testing"
	"time"
)

// TestPauseFitsTheBuffer checks the pacing rule: the longest pause lets a
// quarter of the buffer fill at the design rate (and never exceeds
// maxPause); a buffer too small for minPause gets no pause (the reader
// gathers in the kernel instead); a faster arrival rate than the design
// shortens the pause in proportion, down to none; a slow one allows the
// longest again.
func TestPauseFitsTheBuffer(t *testing.T) {
	for _, size := range []int{212992, 425984} { // the kernel default, and as getsockopt reports it after SO_RCVBUF
		small := &rawReader{}
		small.setBudget(size / 4)
		if small.ceiling != 0 || small.pause != 0 {
			t.Fatalf("%d-byte buffer: longest pause %v, first %v; want none", size, small.ceiling, small.pause)
		}
	}
	mid := &rawReader{}
	budget := 1 << 20 / 4
	mid.setBudget(budget)
	want := time.Duration(float64(budget) / designRate * float64(time.Second))
	if mid.ceiling != want || mid.pause != want || want < minPause || want >= maxPause {
		t.Fatalf("1 MiB buffer: longest pause %v (first %v), want %v", mid.ceiling, mid.pause, want)
	}

	r := &rawReader{}
	r.setBudget(16 << 20 / 4)
	if r.ceiling != maxPause {
		t.Fatalf("16 MiB buffer: longest pause %v, want %v", r.ceiling, maxPause)
	}
	steps := []struct {
		drained int
		elapsed time.Duration
		want    time.Duration
	}{
		{1_000, time.Millisecond, maxPause},                        // slow: the longest pause
		{r.budget, 500 * time.Microsecond, 500 * time.Microsecond}, // the budget filled in 500 µs
		{2 * r.budget, 500 * time.Microsecond, 250 * time.Microsecond},
		{4 * r.budget, 500 * time.Microsecond, 0}, // 125 µs: below minPause
		{0, 100 * time.Millisecond, maxPause},     // idle
	}
	now := time.Unix(1000, 0)
	r.since = now
	for i, s := range steps {
		now = now.Add(s.elapsed)
		r.drained = s.drained
		r.adapt(now)
		if r.pause != s.want {
			t.Fatalf("step %d (%d bytes in %v): pause %v, want %v", i, s.drained, s.elapsed, r.pause, s.want)
		}
		if r.drained != 0 || !r.since.Equal(now) {
			t.Fatalf("step %d: window not restarted", i)
		}
	}
}

// TestTruesize checks the estimate against what the kernel was seen to
// charge per queued datagram on loopback (see truesize): never less, and
// not more than a tenth above.
func TestTruesize(t *testing.T) {
	for _, c := range []struct{ payload, charged int }{{100, 832}, {390, 1283}, {1000, 2315}, {4000, 8519}} {
		got := truesize(c.payload)
		if got < c.charged || got > c.charged*11/10 {
			t.Errorf("truesize(%d) = %d, kernel charged %d", c.payload, got, c.charged)
		}
	}
}
