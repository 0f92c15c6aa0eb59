package udpsock

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wakeEvery bounds how long a blocking read waits before returning, so
// Close (which waits for the read) completes promptly.
const wakeEvery = 100 * 1000 // µs

// gather is how long one read keeps collecting datagrams once it has one.
// Without MSG_WAITFORONE, recvmmsg(2) fills the whole batch unless this
// much time has passed since the call began (checked after each
// datagram), so a busy socket is read in full batches, one wake-up per
// batch, and a quiet one returns after the first datagram that arrives
// late. Together with SO_RCVTIMEO this bounds how long a datagram waits
// in a partial batch.
const gather = 2_000_000 // ns

// newBlockingReader reads with recvmmsg(2) on a blocking socket from the
// calling goroutine's thread: one system call per batch, no poller
// round trip (epoll, futex, EAGAIN) per wake-up. It returns nil when the
// socket cannot be switched to blocking mode.
func newBlockingReader(conn *net.UDPConn, batch, maxSize int) *BatchReader {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = syscall.SetNonblock(int(fd), false); serr != nil {
			return
		}
		tv := syscall.Timeval{Sec: 0, Usec: wakeEvery}
		serr = syscall.SetsockoptTimeval(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		// UDP generic receive offload: a run of equal-sized datagrams
		// that a sender passed to the kernel in one sendmsg(2) with
		// UDP_SEGMENT (Sidelight's emitter does) stays one buffer on
		// loopback, with a control message saying where to cut it: one
		// copy and one socket-buffer entry per run instead of per
		// datagram. Best effort: kernels before 5.0 refuse it and cut
		// runs up themselves.
		_ = syscall.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
	})
	if err != nil || serr != nil {
		return nil
	}
	bufs := make([][]byte, batch)
	iovs := make([]unix.Iovec, batch)
	hdrs := make([]unix.Mmsghdr, batch)
	oobLen := syscall.CmsgSpace(4)
	oob := make([]byte, batch*oobLen)
	for i := range hdrs {
		hdrs[i].Hdr.Control = &oob[i*oobLen]
		bufs[i] = make([]byte, maxSize)
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(maxSize)
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	br := &BatchReader{}
	br.read = func(fn func([]byte, bool)) error {
		var n int
		var errno syscall.Errno
		err := rc.Read(func(fd uintptr) bool {
			for i := range hdrs {
				hdrs[i].Hdr.Flags = 0
				hdrs[i].Hdr.SetControllen(oobLen)
			}
			ts := unix.Timespec{Nsec: gather}
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, uintptr(unsafe.Pointer(&ts)), 0)
			n, errno = int(r), e
			return true
		})
		if err != nil {
			return err // closed
		}
		switch errno {
		case 0:
		case syscall.EAGAIN, syscall.EINTR:
			return nil // periodic wake-up
		default:
			return errno
		}
		for i := range n {
			h := &hdrs[i]
			pkt := bufs[i][:h.Len]
			truncated := h.Hdr.Flags&syscall.MSG_TRUNC != 0
			seg := groSize(oob[i*oobLen : i*oobLen+int(h.Hdr.Controllen)])
			if seg <= 0 || seg >= len(pkt) || truncated {
				fn(pkt, truncated)
				continue
			}
			br.runs.Add(1)
			for len(pkt) > 0 {
				k := min(seg, len(pkt))
				fn(pkt[:k], false)
				pkt = pkt[k:]
			}
		}
		return nil
	}
	return br
}

// groSize returns the datagram size from a UDP_GRO control message in
// oob, or 0 when there is none (the buffer holds one datagram).
func groSize(oob []byte) int {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < syscall.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && l >= syscall.CmsgLen(4) {
			return int(*(*int32)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])))
		}
		oob = oob[min(syscall.CmsgSpace(l-syscall.CmsgLen(0)), len(oob)):]
	}
	return 0
}
