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
	})
	if err != nil || serr != nil {
		return nil
	}
	bufs := make([][]byte, batch)
	iovs := make([]unix.Iovec, batch)
	hdrs := make([]unix.Mmsghdr, batch)
	for i := range hdrs {
		bufs[i] = make([]byte, maxSize)
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(maxSize)
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	return &BatchReader{read: func(fn func([]byte, bool)) error {
		var n int
		var errno syscall.Errno
		err := rc.Read(func(fd uintptr) bool {
			for i := range hdrs {
				hdrs[i].Hdr.Flags = 0
			}
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_WAITFORONE, 0, 0)
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
			fn(bufs[i][:hdrs[i].Len], hdrs[i].Hdr.Flags&syscall.MSG_TRUNC != 0)
		}
		return nil
	}}
}
