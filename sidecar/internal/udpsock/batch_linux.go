package udpsock

import (
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wakeEvery bounds how long an idle read waits before returning, so a
// closed reader is noticed even if shutdown(2) did not wake it.
const wakeEvery = 100 * 1000 // µs

// The pause a busy reader takes between draining the socket, and its
// bounds. A wake-up costs the same whether it brings one datagram or two
// hundred, so a reader that sleeps and then drains everything queued
// pays for one wake-up per pause instead of one per datagram. The pause
// adapts so that what arrives during it fills at most a quarter of the
// receive buffer (see adapt); below minPause it reads without pausing.
const (
	maxPause = 2 * time.Millisecond
	minPause = 100 * time.Microsecond
)

// skbOverhead approximates what the kernel charges the receive buffer per
// queued datagram beyond its payload (sk_buff and its truesize slack).
const skbOverhead = 1024

// newRawReader reads with recvmmsg(2) from a duplicate of conn's
// descriptor that is not registered with Go's network poller, and closes
// conn so the poller forgets the socket: otherwise epoll would wake a
// poller thread for every arriving datagram even while nobody waits for
// one. The duplicate is blocking, so the reader waits for the first
// datagram after a quiet spell inside the system call (with SO_RCVTIMEO
// as a periodic wake-up), then drains with MSG_DONTWAIT and pauses
// between drains while the socket is busy. It returns nil when the
// descriptor cannot be set up, and conn is then left as it was.
func newRawReader(conn *net.UDPConn, batch, maxSize int) *BatchReader {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil
	}
	fd, rcvbuf := -1, 0
	var serr error
	err = rc.Control(func(cfd uintptr) {
		fd, serr = unix.FcntlInt(cfd, unix.F_DUPFD_CLOEXEC, 0)
		if serr != nil {
			return
		}
		rcvbuf, _ = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	if err != nil || serr != nil {
		return nil
	}
	tv := syscall.Timeval{Sec: 0, Usec: wakeEvery}
	if syscall.SetNonblock(fd, false) != nil || syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv) != nil {
		_ = syscall.Close(fd)
		return nil
	}
	// UDP generic receive offload: a run of equal-sized datagrams that a
	// sender passed to the kernel in one sendmsg(2) with UDP_SEGMENT
	// (Sidelight's emitter does) stays one buffer on loopback, with a
	// control message saying where to cut it: one copy and one
	// socket-buffer entry per run instead of per datagram. Best effort:
	// kernels before 5.0 refuse it and cut runs up themselves.
	_ = syscall.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1)
	_ = conn.Close()

	r := &rawReader{fd: fd, batch: batch, budget: rcvbuf / 4, pause: maxPause}
	r.bufs = make([][]byte, batch)
	r.iovs = make([]unix.Iovec, batch)
	r.hdrs = make([]unix.Mmsghdr, batch)
	r.oobLen = syscall.CmsgSpace(4)
	r.oob = make([]byte, batch*r.oobLen)
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Control = &r.oob[i*r.oobLen]
		r.bufs[i] = make([]byte, maxSize)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(maxSize)
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
	br := &BatchReader{}
	br.read = func(fn func([]byte, bool)) error { return r.read(br, fn) }
	br.close = r.close
	return br
}

// rawReader is the state of newRawReader's reader. Only the reading
// goroutine touches the buffers and the pacing fields; mu guards the
// descriptor's life so Close never races a read onto a reused number.
type rawReader struct {
	mu      sync.Mutex
	fd      int
	closed  bool
	reading bool

	batch  int
	bufs   [][]byte
	iovs   []unix.Iovec
	hdrs   []unix.Mmsghdr
	oob    []byte
	oobLen int

	budget  int           // a quarter of SO_RCVBUF, in bytes
	pause   time.Duration // current pause between drains; 0: none
	paused  bool          // the next read starts with a pause
	drained int           // bytes (with overhead) read since the last pause
}

func (r *rawReader) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.release()
		return false
	}
	r.reading = true
	return true
}

func (r *rawReader) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reading = false
	if r.closed {
		r.release()
	}
}

// release closes the descriptor once; mu is held.
func (r *rawReader) release() {
	if r.fd >= 0 {
		_ = syscall.Close(r.fd)
		r.fd = -1
	}
}

func (r *rawReader) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.reading {
		// Wake a read blocked in the kernel; it closes the descriptor
		// when it returns. For an unconnected UDP socket shutdown(2)
		// reports ENOTCONN but still marks the socket shut and wakes
		// its readers.
		_ = syscall.Shutdown(r.fd, syscall.SHUT_RDWR)
		return nil
	}
	r.release()
	return nil
}

func (r *rawReader) read(br *BatchReader, fn func([]byte, bool)) error {
	if r.paused {
		r.paused = false
		time.Sleep(r.pause)
	}
	if !r.begin() {
		return net.ErrClosed
	}
	n, errno := r.recv(unix.MSG_DONTWAIT)
	if errno == syscall.EAGAIN {
		// Nothing queued: wait in the kernel for the next datagram and
		// take whatever else is there by then.
		r.adapt()
		n, errno = r.recv(unix.MSG_WAITFORONE)
	}
	closed := r.closedNow()
	r.end()
	if closed {
		return net.ErrClosed
	}
	switch errno {
	case 0:
	case syscall.EAGAIN, syscall.EINTR:
		return nil // periodic wake-up
	default:
		return errno
	}
	for i := range n {
		h := &r.hdrs[i]
		pkt := r.bufs[i][:h.Len]
		r.drained += len(pkt) + skbOverhead
		truncated := h.Hdr.Flags&syscall.MSG_TRUNC != 0
		seg := groSize(r.oob[i*r.oobLen : i*r.oobLen+int(h.Hdr.Controllen)])
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
	if n < r.batch && r.pause > 0 {
		// The socket is drained (or nearly): pause so the next read
		// finds a backlog instead of waking for each datagram.
		r.adapt()
		r.paused = n > 0
	}
	return nil
}

// adapt sets the next pause from what the last one let accumulate:
// halve it when that came near a quarter of the receive buffer, grow it
// back when it used less than a sixteenth. It runs once per drain.
func (r *rawReader) adapt() {
	switch {
	case r.drained > r.budget:
		r.pause /= 2
		if r.pause < minPause {
			r.pause = 0
		}
	case r.drained < r.budget/4 && r.pause < maxPause:
		r.pause = max(r.pause*2, minPause)
		r.pause = min(r.pause, maxPause)
	}
	r.drained = 0
}

func (r *rawReader) closedNow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// recv is one recvmmsg(2) into the reader's buffers with flags.
func (r *rawReader) recv(flags int) (int, syscall.Errno) {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Flags = 0
		r.hdrs[i].Hdr.SetControllen(r.oobLen)
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
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
