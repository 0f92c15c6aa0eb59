package udpsock_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/udpsock"
)

// TestRunsAreCutApart sends one run of equal-sized datagrams with
// UDP_SEGMENT, as Sidelight's emitter does, and checks that the reader
// hands them over one by one, in order, with the short last one intact,
// and that the kernel kept the run together (one GRO read).
func TestRunsAreCutApart(t *testing.T) {
	conn, _, err := udpsock.Listen(context.Background(), "127.0.0.1:0", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r := udpsock.NewBatchReader(conn, 4, 65536)
	defer r.Close()
	out, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	const size, n = 100, 10
	var run bytes.Buffer
	var want []string
	for i := range n {
		d := fmt.Sprintf("datagram %02d ", i)
		if i < n-1 {
			d += string(bytes.Repeat([]byte{'.'}, size-len(d)))
		}
		want = append(want, d)
		run.WriteString(d)
	}
	oob := make([]byte, syscall.CmsgSpace(2))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(syscall.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])) = size
	if _, _, err := out.WriteMsgUDP(run.Bytes(), oob, nil); err != nil {
		t.Fatalf("kernel refused UDP_SEGMENT: %v", err)
	}
	// A plain datagram after the run is still one datagram.
	if _, err := out.Write([]byte("single")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "single")

	var got []string
	for len(got) < len(want) {
		if err := r.Read(func(p []byte, truncated bool) {
			if truncated {
				t.Errorf("datagram %q marked truncated", p)
			}
			got = append(got, string(p))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if r.Runs() != 1 {
		t.Fatalf("Runs() = %d, want 1: the kernel segmented the run before the socket (UDP_GRO not in effect)", r.Runs())
	}
}
