package udpsock

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rmemMax reads net.core.rmem_max, the most SO_RCVBUF grants without
// CAP_NET_ADMIN.
func rmemMax(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOpenSpreadsOverSockets stands for a process without CAP_NET_ADMIN
// (no SO_RCVBUFFORCE) asking for twice what net.core.rmem_max allows:
// Open binds a group of sockets to one address, and a burst from a single
// sender that would overflow one of them arrives whole, because the kernel
// hands datagrams to the sockets at random. Closing the reader frees the
// address.
func TestOpenSpreadsOverSockets(t *testing.T) {
	defer func(v int) { forceLimit = v }(forceLimit)
	forceLimit = 0
	ask := 2 * rmemMax(t)
	r, err := Open(context.Background(), "127.0.0.1:0", ask, 64, 2048)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	addr := r.LocalAddr().String()
	per := r.ReadBufferSize() / max(r.Sockets(), 1)
	t.Logf("asked %d: %d sockets of %d bytes, max pause %v", ask, r.Sockets(), per, r.MaxPause())
	if r.Sockets() < 2 {
		t.Fatalf("Open bound %d socket(s) for a request twice rmem_max", r.Sockets())
	}

	// One socket holds about per/832 small datagrams (see truesize):
	// send half as many again, from one sender, before reading.
	n := min(20000, per*3/2/700)
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
	seen := make([]bool, n)
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got < n && time.Now().Before(deadline) {
		if err := r.Read(func(p []byte, _ bool) {
			i := int(p[0])<<8 | int(p[1])
			if len(p) != 2 || i >= n || seen[i] {
				t.Fatalf("unexpected datagram %v", p)
			}
			seen[i] = true
			got++
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got != n {
		t.Fatalf("read %d of a burst of %d datagrams (one socket holds about %d)", got, n, per/832)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("address still held after Close: %v", err)
	}
	again.Close()
}

// TestOpenKeepsOneSocketWhenGranted: a buffer the kernel grants needs no
// group (as root, SO_RCVBUFFORCE grants anything).
func TestOpenKeepsOneSocketWhenGranted(t *testing.T) {
	r, err := Open(context.Background(), "127.0.0.1:0", 64<<10, 8, 2048)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.ReadBufferSize() >= 2*(64<<10) && r.Sockets() != 1 {
		t.Fatalf("granted %d bytes but bound %d sockets", r.ReadBufferSize(), r.Sockets())
	}
	if r.Sockets() == 1 {
		// Without SO_REUSEPORT a second bind must fail: a second sidecar
		// on the same port is an error, not a silent share.
		if c, err := net.ListenPacket("udp", r.LocalAddr().String()); err == nil {
			c.Close()
			t.Fatal("a second socket could bind the reader's address")
		}
	}
}

// TestLogBuffer: Open's reader says when it took several sockets, and
// warns when even those hold less than was asked for.
func TestLogBuffer(t *testing.T) {
	defer func(v int) { forceLimit = v }(forceLimit)
	forceLimit = 0
	rmem := rmemMax(t)
	for _, c := range []struct {
		ask   int
		level slog.Level
	}{
		{2 * rmem, slog.LevelInfo},             // two sockets are enough
		{min(100*rmem, 1<<30), slog.LevelWarn}, // eight are not
	} {
		r, err := Open(context.Background(), "127.0.0.1:0", c.ask, 8, 2048)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		r.LogBuffer(slog.New(slog.NewJSONHandler(&buf, nil)))
		r.Close()
		var rec struct {
			Level   string
			Sockets int
		}
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("asked %d: log %q: %v", c.ask, buf.String(), err)
		}
		if rec.Level != c.level.String() || rec.Sockets < 2 {
			t.Fatalf("asked %d: logged %s", c.ask, buf.String())
		}
	}
}
