package udpsock

import (
	"context"
	"net"
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

// TestMaxPauseFollowsBuffer opens readers with a small and a large
// receive buffer and checks that each reports the pause its effective
// buffer allows: none for 64 KB, the full 2 ms when the kernel granted
// 4 MiB or more (it may cap the request at net.core.rmem_max).
func TestMaxPauseFollowsBuffer(t *testing.T) {
	for _, ask := range []int{64 << 10, 8 << 20} {
		conn, size, err := Listen(context.Background(), "127.0.0.1:0", ask)
		if err != nil {
			t.Fatal(err)
		}
		r := NewBatchReader(conn, 8, 2048)
		want := &rawReader{}
		want.setBudget(size / 4)
		got := r.MaxPause()
		r.Close()
		if got != want.ceiling {
			t.Errorf("asked %d, got SO_RCVBUF %d: MaxPause %v, want %v", ask, size, got, want.ceiling)
		}
		if size <= 256<<10 && got != 0 {
			t.Errorf("SO_RCVBUF %d: MaxPause %v, want 0 (gather in the kernel)", size, got)
		}
		if size >= 4<<20 && got != maxPause {
			t.Errorf("SO_RCVBUF %d: MaxPause %v, want %v", size, got, maxPause)
		}
		t.Logf("SO_RCVBUF %d: MaxPause %v", size, got)
	}
}

// TestPauseComesBack: a reader whose pause a burst drove to zero gathers
// in the kernel; once traffic is slow again, the next short batch must
// bring the pause back (it once stayed at zero for good).
func TestPauseComesBack(t *testing.T) {
	conn, _, err := Listen(context.Background(), "127.0.0.1:0", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	br, r := newRawReaderState([]*net.UDPConn{conn}, 64, 2048)
	if br == nil {
		t.Fatal("no raw reader")
	}
	defer br.Close()
	r.setBudget(4 << 20) // a buffer that allows the longest pause, whatever the kernel granted
	r.pause, r.since = 0, time.Now()
	out, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for range 3 {
		if _, err := out.Write([]byte("slow")); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for deadline := time.Now().Add(10 * time.Second); got < 3 && time.Now().Before(deadline); {
		if err := br.Read(func([]byte, bool) { got++ }); err != nil {
			t.Fatal(err)
		}
	}
	if got != 3 {
		t.Fatalf("read %d of 3 datagrams", got)
	}
	if r.pause != maxPause {
		t.Fatalf("pause after a slow, short batch: %v, want %v", r.pause, maxPause)
	}
}
