package udpsock

import (
	"context"
	"errors"
	"net"
	"testing"
)

// readAll calls Read until it fails and returns how many datagrams it
// handed over and the error.
func readAll(r *BatchReader) (int, error) {
	n := 0
	for {
		if err := r.Read(func([]byte, bool) { n++ }); err != nil {
			return n, err
		}
	}
}

// send writes n two-byte datagrams to addr.
func send(t *testing.T, addr string, n int) {
	t.Helper()
	out, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for i := range n {
		if _, err := out.Write([]byte{byte(i >> 8), byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDrainHandsOverBacklog queues datagrams on every socket of a group
// (the unprivileged path: no SO_RCVBUFFORCE) and on a single socket, then
// drains: every queued datagram is handed over, datagrams sent after Drain
// are refused and counted, and the last Read frees the address.
func TestDrainHandsOverBacklog(t *testing.T) {
	defer func(v int) { forceLimit = v }(forceLimit)
	for _, group := range []bool{false, true} {
		forceLimit = 0
		ask := 2 * rmemMax(t)
		if !group {
			ask = 1 << 20
			forceLimit = 1 << 30
		}
		r, err := Open(context.Background(), "127.0.0.1:0", ask, 16, 2048)
		if err != nil {
			t.Fatal(err)
		}
		addr := r.LocalAddr().String()
		if group != (r.Sockets() > 1) {
			t.Fatalf("group %v: %d sockets", group, r.Sockets())
		}
		// One read first, so the reader is in its stride (and may pause).
		send(t, addr, 1)
		for got := 0; got == 0; {
			if err := r.Read(func([]byte, bool) { got++ }); err != nil {
				t.Fatal(err)
			}
		}
		const queued, late = 500, 40
		send(t, addr, queued)
		if err := r.Drain(); err != nil {
			t.Fatal(err)
		}
		send(t, addr, late)
		n, err := readAll(r)
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Drain: %v", err)
		}
		if n != queued || r.Refused() != late || r.Discarded() != 0 || r.Overflows() != 0 {
			t.Fatalf("%d sockets: handed over %d (of %d queued), refused %d of %d late, discarded %d, overflows %d",
				r.Sockets(), n, queued, r.Refused(), late, r.Discarded(), r.Overflows())
		}
		again, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("address still held after the last Read: %v", err)
		}
		again.Close()
	}
}

// TestDrainWithoutPriorRead drains a reader that never read: the whole
// backlog, counted exactly, is handed over.
func TestDrainWithoutPriorRead(t *testing.T) {
	conn, _, err := Listen(context.Background(), "127.0.0.1:0", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r := NewBatchReader(conn, 8, 2048)
	send(t, r.LocalAddr().String(), 300)
	if err := r.Drain(); err != nil {
		t.Fatal(err)
	}
	if n, err := readAll(r); n != 300 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("handed over %d of 300, then %v", n, err)
	}
}

// TestCloseCountsDiscarded: Close without draining throws the backlog
// away, but counts every datagram of it.
func TestCloseCountsDiscarded(t *testing.T) {
	defer func(v int) { forceLimit = v }(forceLimit)
	forceLimit = 0
	r, err := Open(context.Background(), "127.0.0.1:0", 2*rmemMax(t), 16, 2048)
	if err != nil {
		t.Fatal(err)
	}
	send(t, r.LocalAddr().String(), 700)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := readAll(r); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close handed over %d, %v", n, err)
	}
	if r.Discarded() != 700 {
		t.Fatalf("%d sockets: discarded %d of 700", r.Sockets(), r.Discarded())
	}
}
