package xrayudp_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/xrayudp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

type countConsumer struct{ n atomic.Int64 }

func (c *countConsumer) ConsumeSegment([]byte, xraydoc.Info) { c.n.Add(1) }

// TestShutdownDeliversQueuedDatagrams sends a burst and shuts the
// receiver down right after the last datagram, twenty times: every
// datagram queued on the socket when Shutdown began must reach the
// consumer, and no drop may be counted. (Before Shutdown drained the
// socket, the backlog the reader had not reached yet was closed with it.)
func TestShutdownDeliversQueuedDatagrams(t *testing.T) {
	const reps, burst = 20, 1000
	pkt := []byte(header + doc(1))
	for rep := range reps {
		var got countConsumer
		counters := status.NewCounters()
		r, err := xrayudp.New(xrayudp.Config{Addr: "127.0.0.1:0", Consumer: &got, Counters: counters})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		out, err := net.Dial("udp", r.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		for range burst {
			if _, err := out.Write(pkt); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = r.Shutdown(ctx)
		cancel()
		out.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n := got.n.Load(); n != burst {
			t.Fatalf("repetition %d: %d of %d datagrams delivered; counters %v", rep, n, burst, counters.Snapshot())
		}
		for _, reason := range []string{"udp_buffer_full", "udp_after_shutdown", "udp_shutdown_backlog"} {
			if c := counters.Get("segments.dropped." + reason); c != 0 {
				t.Fatalf("repetition %d: %s = %d", rep, reason, c)
			}
		}
	}
}

// TestBufferOverflowCounted stalls the consumer while a burst overflows a
// small receive buffer: every datagram sent is then either accepted or
// counted as segments.dropped.udp_buffer_full, and some were dropped.
func TestBufferOverflowCounted(t *testing.T) {
	const burst = 2000
	release := make(chan struct{})
	var got atomic.Int64
	stall := consumerFunc(func([]byte) {
		if got.Add(1) == 1 {
			<-release
		}
	})
	counters := status.NewCounters()
	r, err := xrayudp.New(xrayudp.Config{Addr: "127.0.0.1:0", ReadBuffer: 16 << 10, Consumer: stall, Counters: counters})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Write([]byte(header + doc(0))); err != nil {
		t.Fatal(err)
	}
	for got.Load() == 0 {
		time.Sleep(time.Millisecond) // until the reader is stalled in the consumer
	}
	for i := range burst - 1 {
		if _, err := out.Write([]byte(header + doc(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	accepted, full := counters.Get("segments.accepted"), counters.Get("segments.dropped."+"udp_buffer_full")
	t.Logf("sent %d: accepted %d, dropped (buffer full) %d", burst, accepted, full)
	if full == 0 || accepted+full != burst || uint64(got.Load()) != accepted {
		t.Fatalf("sent %d, consumed %d: counters %v", burst, got.Load(), counters.Snapshot())
	}
}
