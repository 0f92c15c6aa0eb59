package udpsock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Listen binds a UDP socket on addr and asks for a receive buffer of
// rcvbuf bytes: first with SO_RCVBUFFORCE (which needs CAP_NET_ADMIN and
// may exceed net.core.rmem_max), then with SO_RCVBUF (capped by the
// kernel). It returns the effective size the kernel reports.
func Listen(ctx context.Context, addr string, rcvbuf int) (*net.UDPConn, int, error) {
	return listen(ctx, addr, rcvbuf, false)
}

func listen(ctx context.Context, addr string, rcvbuf int, reusePort bool) (*net.UDPConn, int, error) {
	lc := net.ListenConfig{
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if reusePort {
					if serr = setReusePort(fd); serr != nil {
						return
					}
				}
				serr = setRcvbuf(fd, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, 0, fmt.Errorf("udp listen %s: %w", addr, err)
	}
	conn := pc.(*net.UDPConn)
	return conn, rcvbufOf(conn), nil
}

// setRcvbuf asks for a receive buffer of rcvbuf bytes (see Listen).
func setRcvbuf(fd uintptr, rcvbuf int) error {
	if rcvbuf <= 0 {
		return nil
	}
	if rcvbuf <= forceLimit && setForce(fd, rcvbuf) == nil {
		return nil
	}
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
}

// errProbed stops probeRcvbuf's socket before it is bound.
var errProbed = errors.New("udpsock: probe")

// probeRcvbuf returns the receive buffer the kernel grants a socket for
// addr that asks for rcvbuf, as Listen would, from a socket it never binds
// (0 if it cannot tell).
func probeRcvbuf(ctx context.Context, addr string, rcvbuf int) int {
	size := 0
	lc := net.ListenConfig{
		Control: func(_, _ string, c syscall.RawConn) error {
			_ = c.Control(func(fd uintptr) {
				_ = setRcvbuf(fd, rcvbuf)
				size, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
			})
			return errProbed
		},
	}
	if pc, err := lc.ListenPacket(ctx, "udp", addr); err == nil {
		_ = pc.Close() // not reached: Control fails
	}
	return size
}

// rcvbufOf returns the SO_RCVBUF the kernel reports for conn (0 if it
// cannot tell).
func rcvbufOf(conn *net.UDPConn) int {
	size := 0
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			size, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		})
	}
	return size
}

// forceLimit is the largest buffer Listen asks for with SO_RCVBUFFORCE;
// tests lower it to stand for a process without CAP_NET_ADMIN.
var forceLimit = math.MaxInt

// MaxSockets bounds how many sockets Open binds to one address.
const MaxSockets = 8

// Open binds addr and returns a reader for it that owns the socket. It
// asks for a receive buffer of rcvbuf bytes as Listen does. When the
// kernel grants less (without CAP_NET_ADMIN it caps each socket at
// net.core.rmem_max, 208 KB by default, which a burst at 100k datagrams/s
// fills in about 3 ms), Open binds up to MaxSockets sockets to the same
// address with SO_REUSEPORT and has the kernel hand each datagram to one
// of them at random (Linux; elsewhere it keeps the one socket), so that
// together they buffer what the request asked for. batch and maxSize are
// as for NewBatchReader.
//
// The group is safe from other processes of the same user, which the
// kernel lets join it: the buffer is measured on a socket that is never
// bound, so the address is never let go between binds; the program
// attached to the group picks only among the sockets bound before it (a
// socket that joins later receives nothing); and after binding Open
// checks the kernel's socket table (/proc/net/udp) for the address. If a
// socket that is not Open's shares it, Open fails with ErrShared. If the
// group cannot be formed or checked, Open binds the one socket without
// SO_REUSEPORT, and LogBuffer says why.
func Open(ctx context.Context, addr string, rcvbuf, batch, maxSize int) (*BatchReader, error) {
	var conns []*net.UDPConn
	var groupErr error
	size := probeRcvbuf(ctx, addr, rcvbuf)
	// The kernel reports twice what it was asked for (it counts its
	// bookkeeping), so a granted request shows as 2*rcvbuf.
	if want := 2 * rcvbuf; rcvbuf > 0 && size > 0 && size < want {
		if n := min(MaxSockets, (want+size-1)/size); n > 1 {
			group, err := listenGroup(ctx, addr, rcvbuf, n)
			if errors.Is(err, ErrShared) {
				return nil, fmt.Errorf("udp listen %s: %w", addr, err)
			}
			conns, groupErr = group, err
		}
	}
	if len(conns) == 0 {
		conn, _, err := Listen(ctx, addr, rcvbuf)
		if err != nil {
			return nil, errors.Join(err, groupErr)
		}
		conns = []*net.UDPConn{conn}
	}
	r := newReader(conns, batch, maxSize)
	r.addr, r.requested, r.groupErr = conns[0].LocalAddr(), rcvbuf, groupErr
	return r, nil
}

// ErrShared reports that a socket Open did not bind shares the address
// of its SO_REUSEPORT group (another process of the same user).
var ErrShared = errors.New("udpsock: a socket of another process shares the address (SO_REUSEPORT)")

// BatchReader reads many datagrams per system call. It takes the
// connection over: nothing else may read from or close it; close the
// reader instead.
type BatchReader struct {
	read      func(fn func(pkt []byte, truncated bool)) error
	close     func() error
	drain     func() error
	runs      atomic.Uint64
	overflows atomic.Uint64 // dropped by the kernel: receive buffer full
	refused   atomic.Uint64 // refused by the kernel after Drain
	discarded atomic.Uint64 // queued at Close, never handed over
	maxPause  time.Duration
	addr      net.Addr
	rcvbuf    int // all sockets' SO_RCVBUF
	sockets   int
	requested int   // what Open asked for
	groupErr  error // why Open did not form a group it wanted
}

// NewBatchReader returns a reader of up to batch datagrams of up to
// maxSize bytes each per call. On Linux it may close conn at once and
// read from a descriptor of its own (see the package documentation); the
// socket and its address stay until the reader is closed.
func NewBatchReader(conn *net.UDPConn, batch, maxSize int) *BatchReader {
	r := newReader([]*net.UDPConn{conn}, batch, maxSize)
	r.addr = conn.LocalAddr()
	return r
}

func newReader(conns []*net.UDPConn, batch, maxSize int) *BatchReader {
	if r := newRawReader(conns, batch, maxSize); r != nil {
		return r
	}
	// Portable: through golang.org/x/net, one socket at a time (a group
	// is only formed on Linux, where newRawReader does not fail).
	conn := conns[0]
	for _, c := range conns[1:] {
		_ = c.Close()
	}
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, maxSize)}
	}
	var readBatch func([]ipv4.Message) (int, error)
	if la, ok := conn.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil && !la.IP.IsUnspecified() {
		pc := ipv6.NewPacketConn(conn)
		readBatch = func(ms []ipv4.Message) (int, error) { return pc.ReadBatch(ms, 0) }
	} else {
		pc := ipv4.NewPacketConn(conn)
		readBatch = func(ms []ipv4.Message) (int, error) { return pc.ReadBatch(ms, 0) }
	}
	return &BatchReader{close: conn.Close, drain: conn.Close, rcvbuf: rcvbufOf(conn), sockets: 1, read: func(fn func([]byte, bool)) error {
		n, err := readBatch(msgs)
		if err != nil {
			return err
		}
		for i := range n {
			m := &msgs[i]
			fn(m.Buffers[0][:m.N], m.Flags&syscall.MSG_TRUNC != 0)
		}
		return nil
	}}
}

// Read waits for datagrams and calls fn for each one read, with truncated
// set when it did not fit in maxSize. The slice passed to fn is reused
// after fn returns. Read may return without calling fn (a periodic wake-up
// so a closed connection is noticed). After Drain it hands over what was
// queued, without waiting, and then returns net.ErrClosed; after Close it
// returns net.ErrClosed.
func (r *BatchReader) Read(fn func(pkt []byte, truncated bool)) error { return r.read(fn) }

// Drain stops the reader taking datagrams in, without losing those
// already queued (Linux): from now on the kernel refuses new datagrams
// (counted by Refused), a Read in progress returns promptly, and later
// Reads hand over what every socket still holds; the one that finds them
// all empty closes them and returns net.ErrClosed, and so does every Read
// after it. The sockets stay open until then (or until Close), so keep
// reading after Drain. Elsewhere Drain is Close.
func (r *BatchReader) Drain() error { return r.drain() }

// Close stops the reader: a Read in progress returns promptly and every
// later one returns net.ErrClosed. Datagrams still queued are never handed
// over: they are read, counted by Discarded and thrown away (Linux), and
// the sockets are closed, by the Read in progress if there is one, or at
// once. Close after Drain cuts the hand-over short.
func (r *BatchReader) Close() error { return r.close() }

// Overflows returns how many datagrams the kernel dropped so far because
// a socket's receive buffer was full (Linux; 0 elsewhere). It is brought
// up to date at the end of each round of drains, when the reader goes
// idle or wakes from idling, and when it closes.
func (r *BatchReader) Overflows() uint64 { return r.overflows.Load() }

// Refused returns how many datagrams arrived after Drain and were refused
// (Linux; known once a Read has returned net.ErrClosed).
func (r *BatchReader) Refused() uint64 { return r.refused.Load() }

// Discarded returns how many datagrams were still queued when the reader
// was closed, and thrown away.
func (r *BatchReader) Discarded() uint64 { return r.discarded.Load() }

// MaxPause returns the longest pause the reader takes between drains of
// a busy socket (at most 2 ms, less for a smaller receive buffer), or 0
// when it never pauses: the buffer is too small to absorb a burst during
// one, so each batch is gathered in the kernel, one wake-up per datagram
// (and off Linux).
func (r *BatchReader) MaxPause() time.Duration { return r.maxPause }

// LocalAddr returns the address the reader's sockets are bound to.
func (r *BatchReader) LocalAddr() net.Addr { return r.addr }

// ReadBufferSize returns the receive buffer of all the reader's sockets
// together, as the kernel reports it.
func (r *BatchReader) ReadBufferSize() int { return r.rcvbuf }

// LogBuffer logs how the receive buffer turned out when it is not simply
// what Open asked for: a warning when all the sockets together still have
// less, a note when it took several sockets.
func (r *BatchReader) LogBuffer(log *slog.Logger) {
	attrs := []any{"addr", r.addr.String(), "requested", r.requested, "effective", r.rcvbuf,
		"sockets", r.sockets, "max_read_pause", r.maxPause.String()}
	switch {
	case r.groupErr != nil:
		log.Warn("UDP receive buffer smaller than requested: could not spread it over several sockets (SO_REUSEPORT)",
			append(attrs, "err", r.groupErr.Error())...)
	case r.rcvbuf < r.requested:
		log.Warn("UDP receive buffer smaller than requested; raise net.core.rmem_max or grant CAP_NET_ADMIN", attrs...)
	case r.sockets > 1:
		log.Info("UDP receive buffer spread over several sockets (SO_REUSEPORT): the kernel caps each at net.core.rmem_max", attrs...)
	}
}

// Sockets returns how many sockets the reader reads (see Open).
func (r *BatchReader) Sockets() int { return r.sockets }

// Runs returns how many reads so far were runs of datagrams that the
// kernel kept together (UDP_GRO, Linux) and Read cut apart.
func (r *BatchReader) Runs() uint64 { return r.runs.Load() }
