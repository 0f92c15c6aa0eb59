package udpsock_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/udpsock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCloseStopsBlockedRead closes a reader while a Read waits on an idle
// socket: the Read returns net.ErrClosed, later Reads do too, and the port
// is free again afterwards (the reader's own descriptor was closed).
func TestCloseStopsBlockedRead(t *testing.T) {
	conn, _, err := udpsock.Listen(context.Background(), "127.0.0.1:0", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	r := udpsock.NewBatchReader(conn, 8, 2048)
	errc := make(chan error, 1)
	go func() {
		for {
			if err := r.Read(func([]byte, bool) { t.Error("read a datagram nobody sent") }); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the Read block
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked 10 s after Close")
	}
	if err := r.Read(func([]byte, bool) {}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Read after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("port still held after Close: %v", err)
	}
	again.Close()
}

// TestCloseBeforeRead closes a reader nobody ever read from.
func TestCloseBeforeRead(t *testing.T) {
	conn, _, err := udpsock.Listen(context.Background(), "127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	r := udpsock.NewBatchReader(conn, 8, 2048)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Read(func([]byte, bool) {}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	again, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("port still held after Close: %v", err)
	}
	again.Close()
}

// TestBurstIsReadWhole sends more datagrams at once than one read takes
// and checks every one arrives, in order, across the reader's drains and
// pauses.
func TestBurstIsReadWhole(t *testing.T) {
	conn, size, err := udpsock.Listen(context.Background(), "127.0.0.1:0", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Unprivileged, the kernel may cap the buffer at net.core.rmem_max:
	// send no more than half of it holds (a small datagram is charged
	// about 1 KB), so the kernel drops none.
	n := min(1000, size/2/1024)
	t.Logf("SO_RCVBUF %d: bursts of %d", size, n)
	r := udpsock.NewBatchReader(conn, 16, 2048)
	defer r.Close()
	out, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for round := range 2 { // a second burst after the reader has paused
		for i := range n {
			if _, err := out.Write([]byte{byte(round), byte(i >> 8), byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		deadline := time.Now().Add(10 * time.Second)
		for got < n && time.Now().Before(deadline) {
			if err := r.Read(func(p []byte, _ bool) {
				if want := []byte{byte(round), byte(got >> 8), byte(got)}; string(p) != string(want) {
					t.Fatalf("datagram %d of burst %d: got %v", got, round, p)
				}
				got++
			}); err != nil {
				t.Fatal(err)
			}
		}
		if got != n {
			t.Fatalf("burst %d: read %d of %d datagrams", round, got, n)
		}
	}
}
