package udpsock

import (
	"math/bits"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wakeEvery bounds how long an idle read waits before returning, so a
// closed reader is noticed even if shutdown(2) did not wake it.
const wakeEvery = 100 * 1000 // µs

// A busy reader pauses between drains of the socket: a wake-up costs the
// same whether it brings one datagram or two hundred, so a reader that
// sleeps and then takes everything queued pays for one wake-up per pause
// instead of one per datagram. The pause is as long as it can be without
// letting the receive buffer fill past a quarter (see adapt): never more
// than maxPause, never longer than the quarter lasts at designRate, and
// shorter when the arrival rate the reader sees is higher. Below minPause
// it reads without pausing, gathering each batch in the kernel for up to
// gather instead.
const (
	maxPause   = 2 * time.Millisecond
	minPause   = 250 * time.Microsecond
	designRate = 512 << 20 // bytes/s: a burst of 380k datagrams/s of 390 bytes (truesize 1,408)
	gather     = 2 * time.Millisecond
)

// truesize approximates what the kernel charges the receive buffer for a
// queued datagram of n bytes: its data rounded up to a power of two plus
// the sk_buff (measured on Linux 6 loopback: 390-byte datagrams cost
// 1,283 bytes each, 1,000-byte ones 2,315, 4,000-byte ones 8,519).
func truesize(n int) int {
	return 1<<bits.Len(uint(n+383)) + 384
}

// newRawReader reads with recvmmsg(2) from duplicates of the conns'
// descriptors that are not registered with Go's network poller, and
// closes the conns so the poller forgets the sockets: otherwise epoll
// would wake a poller thread for every arriving datagram even while
// nobody waits for one. The duplicates are blocking. While the sockets
// are busy the reader drains them in turn with MSG_DONTWAIT and pauses
// between rounds; once they are empty it waits in the kernel (one
// socket: in recvmmsg, with SO_RCVTIMEO as a periodic wake-up; several:
// in epoll_wait on an epoll set of its own). With a single socket too
// small to pause it gathers each batch in the kernel. It returns nil
// when the descriptors cannot be set up, and the conns are then left as
// they were.
func newRawReader(conns []*net.UDPConn, batch, maxSize int) *BatchReader {
	br, _ := newRawReaderState(conns, batch, maxSize)
	return br
}

// newRawReaderState is newRawReader that also returns the reader's state,
// for tests.
func newRawReaderState(conns []*net.UDPConn, batch, maxSize int) (*BatchReader, *rawReader) {
	r := &rawReader{epfd: -1, batch: batch, since: time.Now()}
	fail := func() (*BatchReader, *rawReader) {
		r.release()
		return nil, nil
	}
	total := 0
	for _, conn := range conns {
		fd, err := dupBlocking(conn)
		if err != nil {
			return fail()
		}
		r.fds = append(r.fds, fd)
		r.lastDrops = append(r.lastDrops, socketDrops(fd))
		total += rcvbufOf(conn)
	}
	if len(r.fds) > 1 {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return fail()
		}
		r.epfd = epfd
		for _, fd := range r.fds {
			if unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}) != nil {
				return fail()
			}
		}
	}
	for _, conn := range conns {
		_ = conn.Close()
	}
	r.setBudget(total / 4)
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
	br := &BatchReader{maxPause: r.ceiling, rcvbuf: total, sockets: len(r.fds)}
	r.br = br
	br.read = func(fn func([]byte, bool)) error { return r.read(br, fn) }
	br.close = func() error { return r.close(br, true) }
	br.drain = func() error { return r.close(br, false) }
	return br, r
}

// dupBlocking returns a blocking, close-on-exec duplicate of conn's
// descriptor with SO_RCVTIMEO and UDP_GRO set.
func dupBlocking(conn *net.UDPConn) (int, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var serr error
	if err := rc.Control(func(cfd uintptr) { fd, serr = unix.FcntlInt(cfd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, serr
	}
	tv := syscall.Timeval{Sec: 0, Usec: wakeEvery}
	if err := syscall.SetNonblock(fd, false); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	// UDP generic receive offload: a run of equal-sized datagrams that a
	// sender passed to the kernel in one sendmsg(2) with UDP_SEGMENT
	// (Sidelight's emitter does) stays one buffer on loopback, with a
	// control message saying where to cut it: one copy and one
	// socket-buffer entry per run instead of per datagram. Best effort:
	// kernels before 5.0 refuse it and cut runs up themselves.
	_ = syscall.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1)
	return fd, nil
}

// rawReader is the state of newRawReader's reader. Only the reading
// goroutine touches the buffers and the pacing fields; mu guards the
// descriptors' life so Close never races a read onto a reused number.
type rawReader struct {
	mu       sync.Mutex
	fds      []int
	epfd     int  // -1 with a single socket
	closed   bool // Drain (or Close): refuse new datagrams
	discard  bool // Close: count the queued ones instead of handing them over
	released bool // the descriptors are closed
	reading  bool
	closing  atomic.Bool // closed, for the pause to read without a lock

	// Kernel drop counts (SO_MEMINFO) of each socket: last as the
	// reading goroutine last read them, atClose when Drain refused new
	// datagrams (before that every drop was an overflow, after it a
	// refusal).
	lastDrops, dropsAtClose []uint32
	drainEmpty              int // sockets found empty in a row while draining
	br                      *BatchReader

	batch  int
	bufs   [][]byte
	iovs   []unix.Iovec
	hdrs   []unix.Mmsghdr
	oob    []byte
	oobLen int
	events [MaxSockets]unix.EpollEvent

	cur   int  // the socket being drained
	found bool // the current round read something

	budget  int           // a quarter of all SO_RCVBUF, in bytes
	ceiling time.Duration // the longest pause: maxPause, or less for a small buffer
	pause   time.Duration // the next pause between rounds; 0: none
	paused  bool          // the next read starts with a pause
	drained int           // bytes (with overhead) read since since
	since   time.Time     // when the previous round ended
}

func (r *rawReader) setBudget(budget int) {
	r.budget = max(budget, 0)
	r.ceiling = min(maxPause, time.Duration(float64(r.budget)/designRate*float64(time.Second)))
	if r.ceiling < minPause {
		r.ceiling = 0
	}
	r.pause = r.ceiling
}

// readState is what a read finds the reader doing.
type readState int

const (
	open     readState = iota
	draining           // Drain: hand over what is queued, then release
	counting           // Close: count what is queued, then release
	released           // nothing left to read
)

func (r *rawReader) begin() readState {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.released:
		return released
	case r.discard:
		return counting
	}
	r.reading = true
	if r.closed {
		return draining
	}
	return open
}

// end finishes a read begun with begin and reports whether the reader
// was closed meanwhile.
func (r *rawReader) end() (closed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reading = false
	return r.closed
}

// release closes the descriptors once; mu is held (or r is not shared
// yet).
func (r *rawReader) release() {
	for _, fd := range r.fds {
		_ = syscall.Close(fd)
	}
	r.fds = nil
	if r.epfd >= 0 {
		_ = syscall.Close(r.epfd)
		r.epfd = -1
	}
	r.released = true
}

// finish settles the drop counts of a closed reader and releases its
// descriptors; mu is held and no read is in progress.
func (r *rawReader) finish(br *BatchReader) {
	if r.released {
		return
	}
	for i, fd := range r.fds {
		now := socketDrops(fd)
		br.overflows.Add(uint64(r.dropsAtClose[i] - r.lastDrops[i]))
		br.refused.Add(uint64(now - r.dropsAtClose[i]))
		r.lastDrops[i] = now
	}
	r.release()
}

// close stops the reader taking datagrams in (BatchReader.Drain); with
// now (BatchReader.Close), it also stops it handing over those already
// queued: they are counted as discarded.
func (r *rawReader) close(br *BatchReader, now bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return nil
	}
	if !r.closed {
		r.closed = true
		r.closing.Store(true)
		r.dropsAtClose = make([]uint32, len(r.fds))
		for i, fd := range r.fds {
			r.dropsAtClose[i] = socketDrops(fd)
			// From now on the kernel refuses (and counts) new
			// datagrams, so what is queued is all there is to read.
			_ = refuseAll(fd)
		}
	}
	if now {
		r.discard = true
	}
	if r.reading {
		// Wake a read blocked in the kernel; the reading goroutine
		// takes it from there. For an unconnected UDP socket
		// shutdown(2) reports ENOTCONN but still marks the socket
		// shut and wakes its readers (and epoll); what is queued can
		// still be read.
		for _, fd := range r.fds {
			_ = syscall.Shutdown(fd, syscall.SHUT_RDWR)
		}
		return nil
	}
	if r.discard {
		for _, fd := range r.fds {
			br.discarded.Add(uint64(countQueued(fd)))
		}
		r.finish(br)
	}
	return nil
}

func (r *rawReader) read(br *BatchReader, fn func([]byte, bool)) error {
	if r.paused {
		// A plain nanosleep(2): the runtime's timers wake no sooner
		// than about a millisecond here, too coarse for small buffers.
		r.paused = false
		if !r.closing.Load() {
			ts := unix.NsecToTimespec(int64(r.pause))
			_ = unix.Nanosleep(&ts, nil)
		}
	}
	var n int
	var errno syscall.Errno
	var roundEnded bool
	switch r.begin() {
	case released:
		return net.ErrClosed
	case counting:
		r.mu.Lock()
		for _, fd := range r.fds {
			br.discarded.Add(uint64(countQueued(fd)))
		}
		r.finish(br)
		r.mu.Unlock()
		return net.ErrClosed
	case draining:
		n, errno = r.drainNext()
		r.end()
		if n == 0 {
			// Every socket is empty, and refuses new datagrams.
			r.mu.Lock()
			r.finish(br)
			r.mu.Unlock()
			return net.ErrClosed
		}
	case open:
		n, errno, roundEnded = r.next()
		closed := r.end()
		switch {
		case errno == 0:
		case closed || errno == syscall.EAGAIN || errno == syscall.EINTR:
			return nil // periodic wake-up, or the next read drains
		default:
			return errno
		}
		if closed {
			roundEnded = false
		}
	}
	// (A socket that is shut down reads as empty messages once its queue
	// is empty: those are not datagrams.)
	for i := range n {
		h := &r.hdrs[i]
		if r.closing.Load() && h.Len == 0 {
			continue
		}
		pkt := r.bufs[i][:h.Len]
		r.drained += truesize(len(pkt))
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
	if roundEnded {
		// Every socket is drained (or nearly): pause so the next round
		// finds a backlog instead of waking for each datagram.
		r.adapt(time.Now())
		r.paused = r.pause > 0
	}
	return nil
}

// drainNext reads what is queued on the sockets of a closed reader
// without waiting, one socket after the other; n is 0 once every socket
// was found empty in a row.
func (r *rawReader) drainNext() (n int, errno syscall.Errno) {
	for r.drainEmpty < len(r.fds) {
		n, errno = r.recv(r.fds[r.cur], unix.MSG_DONTWAIT, 0)
		if errno == 0 && n > 0 && r.hdrs[0].Len > 0 {
			r.drainEmpty = 0
			return n, 0
		}
		// Empty (EAGAIN), or an error that reading again will not cure.
		r.drainEmpty++
		r.cur = (r.cur + 1) % len(r.fds)
	}
	return 0, 0
}

// next makes one read's system calls: n datagrams (or errno) into the
// buffers, and whether a round over the sockets that found datagrams has
// ended, so a pause is due.
func (r *rawReader) next() (n int, errno syscall.Errno, roundEnded bool) {
	n, errno, roundEnded = r.nextRead()
	if roundEnded || errno == syscall.EAGAIN {
		// A round ended, or a wait timed out: the time to see whether
		// the kernel dropped datagrams meanwhile.
		r.pollDrops()
	}
	return n, errno, roundEnded
}

// pollDrops adds what the kernel dropped on each socket since the last
// look (a full receive buffer) to the overflow count.
func (r *rawReader) pollDrops() {
	for i, fd := range r.fds {
		now := socketDrops(fd)
		r.br.overflows.Add(uint64(now - r.lastDrops[i]))
		r.lastDrops[i] = now
	}
}

func (r *rawReader) nextRead() (n int, errno syscall.Errno, roundEnded bool) {
	if len(r.fds) == 1 && r.pause == 0 {
		// No room to pause (a small buffer, or a rate it cannot
		// absorb): gather a batch in the kernel, which sleeps and
		// wakes the thread for each datagram not already queued but
		// never lets the socket wait for a pause to end.
		// A short batch ends a round like a drained socket does, so
		// the pause is reconsidered once the rate allows one again.
		n, errno = r.recv(r.fds[0], 0, gather)
		return n, errno, errno == 0 && n < r.batch
	}
	n, errno = r.recv(r.fds[r.cur], unix.MSG_DONTWAIT, 0)
	if errno == syscall.EAGAIN {
		n, errno = 0, 0
	}
	if errno != 0 || n == r.batch {
		return n, errno, false // more may be queued on this socket
	}
	r.found = r.found || n > 0
	r.cur = (r.cur + 1) % len(r.fds)
	if r.cur != 0 {
		return n, 0, false
	}
	if r.found {
		r.found = false
		return n, 0, true
	}
	// A whole round found nothing: wait in the kernel for the next
	// datagram (with one socket, take it and whatever else is there by
	// then; with several, the next read drains the one that woke us).
	r.adapt(time.Now())
	r.pollDrops()
	if r.epfd < 0 {
		n, errno = r.recv(r.fds[0], unix.MSG_WAITFORONE, 0)
		return n, errno, errno == 0 && n > 0 && n < r.batch
	}
	k, err := unix.EpollWait(r.epfd, r.events[:], wakeEvery/1000)
	if err != nil {
		return 0, err.(syscall.Errno), false
	}
	for _, ev := range r.events[:k] {
		for i, fd := range r.fds {
			if int32(fd) == ev.Fd {
				r.cur = i // start the next round where datagrams are
			}
		}
	}
	return 0, 0, false
}

// adapt sets the next pause when a round ends at now: the ceiling, or
// the time the arrival rate seen since the previous round (bytes drained
// over the time between the two) takes to fill the budget, if shorter.
func (r *rawReader) adapt(now time.Time) {
	p := r.ceiling
	if elapsed := now.Sub(r.since); r.drained > 0 && elapsed > 0 {
		p = min(p, time.Duration(float64(r.budget)/float64(r.drained)*float64(elapsed)))
	}
	if p < minPause {
		p = 0
	}
	r.pause, r.drained, r.since = p, 0, now
}

// recv is one recvmmsg(2) on fd into the reader's buffers with flags
// and, when timeout is positive, that timeout (which the kernel checks
// only after each datagram).
func (r *rawReader) recv(fd, flags int, timeout time.Duration) (int, syscall.Errno) {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Flags = 0
		r.hdrs[i].Hdr.SetControllen(r.oobLen)
	}
	var ts *unix.Timespec
	if timeout > 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), uintptr(flags), uintptr(unsafe.Pointer(ts)), 0)
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

// socketDrops returns the kernel's count of datagrams it dropped for fd
// (sk_drops: a full receive buffer, or a filter refusing them), as
// SO_MEMINFO reports it; 0 if it cannot tell. It wraps at 2^32.
func socketDrops(fd int) uint32 {
	const skMeminfoDrops, skMeminfoVars = 8, 9 // linux/sock_diag.h
	var mi [skMeminfoVars]uint32
	l := uint32(unsafe.Sizeof(mi))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mi[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 || l < (skMeminfoDrops+1)*4 {
		return 0
	}
	return mi[skMeminfoDrops]
}

// refuseAll attaches a socket filter that refuses every datagram: the
// kernel stops queueing new ones on fd (and counts them as drops), and
// those already queued stay readable.
func refuseAll(fd int) error {
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &prog[0]})
}

// countQueued reads and discards what is queued on fd, without waiting,
// and returns how many datagrams that was (a run kept together by
// UDP_GRO counts as the datagrams it holds).
func countQueued(fd int) int {
	const batch = 64
	var scratch [batch]unix.Mmsghdr
	oobLen := syscall.CmsgSpace(4)
	oob := make([]byte, batch*oobLen)
	var b [1]byte
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(1)
	total := 0
	for {
		for i := range scratch {
			scratch[i].Hdr.Iov = &iov
			scratch[i].Hdr.SetIovlen(1)
			scratch[i].Hdr.Control = &oob[i*oobLen]
			scratch[i].Hdr.SetControllen(oobLen)
		}
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&scratch[0])), batch,
			unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		if e != 0 || n == 0 {
			return total
		}
		for i := range int(n) {
			h := &scratch[i]
			seg := groSize(oob[i*oobLen : i*oobLen+int(h.Hdr.Controllen)])
			if seg > 0 && int(h.Len) > seg {
				total += (int(h.Len) + seg - 1) / seg
			} else {
				total++
			}
		}
		if int(n) < batch {
			return total
		}
	}
}
