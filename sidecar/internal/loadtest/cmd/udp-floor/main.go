//go:build linux

// Command udp-floor measures what the kernel alone charges a process for
// receiving X-Ray daemon datagrams on loopback: a receiver that does
// nothing but recvmmsg(2), exactly as the sidecar calls it (64 per call,
// 2 ms gather, 16 MiB SO_RCVBUF), against a sender in another process
// pacing 390-byte datagrams with sendmmsg(2) like the load command. Its
// CPU per datagram is the floor under the sidecar's CPU per segment.
//
//	go run ./sidecar/internal/loadtest/cmd/udp-floor -n 1000000 -rate 100000
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

func main() {
	n := flag.Int("n", 1_000_000, "datagrams to send")
	rate := flag.Int("rate", 100_000, "datagrams per second")
	send := flag.String("send-to", "", "internal: be the sender, sending to this address")
	raw := flag.Bool("raw", false, "read a duplicate descriptor that is not in the Go poller")
	drain := flag.Duration("drain", 0, "read the way the sidecar does: non-blocking, sleeping this long after a partial batch (0: the old blocking gather)")
	flag.Parse()
	drainEvery = *drain
	rawMode = *raw
	if *send != "" {
		if err := sender(*send, *n, *rate); err != nil {
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
	drainEvery time.Duration
	rawMode    bool
)

func receive(n, rate int) error {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer conn.Close()
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); serr != nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<20)
		}
		if serr == nil && drainEvery == 0 {
			serr = syscall.SetNonblock(int(fd), false)
		}
		if serr == nil {
			tv := syscall.Timeval{Usec: 100_000}
			serr = syscall.SetsockoptTimeval(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		}
	}); err != nil || serr != nil {
		return fmt.Errorf("socket options: %v %v", err, serr)
	}
	addr := conn.LocalAddr().String()
	rawfd := -1
	if rawMode {
		_ = rc.Control(func(fd uintptr) { rawfd, serr = unix.Dup(int(fd)) })
		if serr != nil {
			return serr
		}
		conn.Close()
		if err := syscall.SetNonblock(rawfd, false); err != nil {
			return err
		}
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
	idle := time.Now()
	for time.Since(idle) < 2*time.Second {
		var k int
		var errno syscall.Errno
		if rawMode {
			flags := 0
			if drainEvery > 0 {
				flags = unix.MSG_DONTWAIT
			}
			ts := unix.Timespec{Nsec: 2_000_000}
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(rawfd), uintptr(unsafe.Pointer(&hdrs[0])), batch, uintptr(flags), uintptr(unsafe.Pointer(&ts)), 0)
			k, errno = int(r), e
			if errno == syscall.EAGAIN && drainEvery > 0 {
				r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(rawfd), uintptr(unsafe.Pointer(&hdrs[0])), batch, unix.MSG_WAITFORONE, 0, 0)
				k, errno = int(r), e
			}
			if errno != 0 || k <= 0 {
				continue
			}
			if got == 0 {
				cpu0 = cpuTime()
			}
			got += k
			reads++
			idle = time.Now()
			if k < batch && drainEvery > 0 {
				time.Sleep(drainEvery)
			}
			continue
		}
		if drainEvery > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			err := rc.Read(func(fd uintptr) bool {
				r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), batch, unix.MSG_DONTWAIT, 0, 0)
				k, errno = int(r), e
				return e != syscall.EAGAIN
			})
			if err != nil && !os.IsTimeout(err) {
				return err
			}
			if errno != 0 || k <= 0 {
				continue
			}
			if got == 0 {
				cpu0 = cpuTime()
			}
			got += k
			reads++
			idle = time.Now()
			if k < batch {
				time.Sleep(drainEvery)
			}
			continue
		}
		if err := rc.Read(func(fd uintptr) bool {
			ts := unix.Timespec{Nsec: 2_000_000}
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), batch, 0, uintptr(unsafe.Pointer(&ts)), 0)
			k, errno = int(r), e
			return true
		}); err != nil {
			return err
		}
		if errno != 0 || k <= 0 {
			continue
		}
		if got == 0 {
			cpu0 = cpuTime()
		}
		got += k
		reads++
		idle = time.Now()
	}
	cpu := cpuTime() - cpu0
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("received %d of %d datagrams in %d reads; receiver CPU %.2f µs per datagram (user+system, idle tail included); context switches %d voluntary, %d involuntary\n",
		got, n, reads, float64(cpu.Nanoseconds())/1e3/float64(max(got, 1)), ru.Nvcsw, ru.Nivcsw)
	return nil
}

func sender(addr string, n, rate int) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn.(*net.UDPConn))
	const batch = 64
	msgs := make([]ipv4.Message, batch)
	buf := make([]byte, 390)
	for i := range buf {
		buf[i] = 'x'
	}
	for i := range msgs {
		msgs[i].Buffers = [][]byte{buf}
	}
	start := time.Now()
	for sent := 0; sent < n; {
		k := min(batch, n-sent)
		for off := 0; off < k; {
			w, err := pc.WriteBatch(msgs[off:k], 0)
			if err != nil {
				if err == syscall.ENOBUFS || err == syscall.EAGAIN {
					continue
				}
				return err
			}
			off += w
		}
		sent += k
		if d := time.Until(start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))); d > 0 {
			time.Sleep(d) // pacing
		}
	}
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
