//go:build linux

// Command udp-floor measures what receiving X-Ray daemon datagrams on
// loopback costs before any of the sidecar's own work: a receiver that
// does nothing but read with the sidecar's reader (udpsock.BatchReader,
// 64 per call, asking for the sidecar's 8 MiB SO_RCVBUF) and count,
// against a sender in another process that sends the load command's
// datagrams (loadtest.SendDatagrams: 420 bytes, 64 per sendmmsg(2),
// paced). Its CPU per datagram is the floor under the sidecar's CPU per
// segment. -blocking reads the way the sidecar did before, for
// comparison.
//
//	go run ./sidecar/internal/loadtest/cmd/udp-floor -n 1000000 -rate 100000
//	go run ./sidecar/internal/loadtest/cmd/udp-floor -n 1000000 -rate 100000 -blocking
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/loadtest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/udpsock"
)

func main() {
	n := flag.Int("n", 1_000_000, "datagrams to send")
	rate := flag.Int("rate", 100_000, "datagrams per second")
	send := flag.String("send-to", "", "internal: be the sender, sending to this address")
	flag.IntVar(&rcvbuf, "rcvbuf", 8<<20, "receive buffer to ask for (SO_RCVBUFFORCE, then SO_RCVBUF; the sidecar's default)")
	flag.BoolVar(&blocking, "blocking", false, "read the way the sidecar did before (blocking recvmmsg on a socket in Go's poller), for comparison")
	flag.Parse()
	if *send != "" {
		if err := loadtest.SendDatagrams(*send, *n, *rate, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := receive(*n, *rate); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var (
	blocking bool
	rcvbuf   int
)

func receive(n, rate int) error {
	conn, size, err := udpsock.Listen(context.Background(), "127.0.0.1:0", rcvbuf)
	if err != nil {
		return err
	}
	addr := conn.LocalAddr().String()
	var read func(fn func([]byte, bool)) error
	if blocking {
		defer conn.Close()
		if read, err = blockingRead(conn); err != nil {
			return err
		}
	} else {
		br := udpsock.NewBatchReader(conn, 64, 65536)
		defer br.Close()
		read = br.Read
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-send-to", addr, "-n", strconv.Itoa(n), "-rate", strconv.Itoa(rate))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	got, reads := 0, 0
	var cpu0 time.Duration
	count := func([]byte, bool) { got++ }
	idle := time.Now()
	for time.Since(idle) < 2*time.Second {
		before := got
		if err := read(count); err != nil {
			return err
		}
		if got == before {
			continue
		}
		if before == 0 {
			cpu0 = loadtest.SelfCPU()
		}
		reads++
		idle = time.Now()
	}
	cpu := loadtest.SelfCPU() - cpu0
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("SO_RCVBUF %d: received %d of %d datagrams in %d reads; receiver CPU %.2f µs per datagram (user+system, idle tail included); %d voluntary and %d involuntary context switches\n",
		size, got, n, reads, float64(cpu.Nanoseconds())/1e3/float64(max(got, 1)), ru.Nvcsw, ru.Nivcsw)
	return nil
}

// blockingRead is the sidecar's reader before 2026-11-26 12:00 UTC, for
// comparison: a blocking recvmmsg(2) of up to 64 datagrams with a 2 ms
// gather, on the socket Go's poller also watches. The kernel sleeps and
// wakes it for each datagram that is not already queued, and epoll wakes
// a poller thread for each arrival.
func blockingRead(conn *net.UDPConn) (func(fn func([]byte, bool)) error, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = syscall.SetNonblock(int(fd), false); serr == nil {
			tv := syscall.Timeval{Usec: 100_000}
			serr = syscall.SetsockoptTimeval(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		}
	}); err != nil || serr != nil {
		return nil, fmt.Errorf("socket options: %v %v", err, serr)
	}
	const batch = 64
	bufs := make([][]byte, batch)
	iovs := make([]unix.Iovec, batch)
	hdrs := make([]unix.Mmsghdr, batch)
	for i := range hdrs {
		bufs[i] = make([]byte, 65536)
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(65536)
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	return func(fn func([]byte, bool)) error {
		var k int
		var errno syscall.Errno
		if err := rc.Read(func(fd uintptr) bool {
			ts := unix.Timespec{Nsec: 2_000_000}
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), batch, 0, uintptr(unsafe.Pointer(&ts)), 0)
			k, errno = int(r), e
			return true
		}); err != nil {
			return err
		}
		if errno != 0 {
			return nil
		}
		for i := range k {
			fn(bufs[i][:hdrs[i].Len], false)
		}
		return nil
	}, nil
}
