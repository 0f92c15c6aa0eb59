package udpsock

import (
	"context"
	"fmt"
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
	lc := net.ListenConfig{
		Control: func(_, _ string, c syscall.RawConn) error {
			if rcvbuf <= 0 {
				return nil
			}
			var serr error
			err := c.Control(func(fd uintptr) {
				if setForce(fd, rcvbuf) == nil {
					return
				}
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
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
	size := 0
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			size, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		})
	}
	return conn, size, nil
}

// BatchReader reads many datagrams per system call. It takes the
// connection over: nothing else may read from or close it; close the
// reader instead.
type BatchReader struct {
	read     func(fn func(pkt []byte, truncated bool)) error
	close    func() error
	runs     atomic.Uint64
	maxPause time.Duration
}

// NewBatchReader returns a reader of up to batch datagrams of up to
// maxSize bytes each per call. On Linux it may close conn at once and
// read from a descriptor of its own (see the package documentation); the
// socket and its address stay until the reader is closed.
func NewBatchReader(conn *net.UDPConn, batch, maxSize int) *BatchReader {
	if r := newRawReader(conn, batch, maxSize); r != nil {
		return r
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
	return &BatchReader{close: conn.Close, read: func(fn func([]byte, bool)) error {
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
// so a closed connection is noticed); it returns an error once the
// connection is closed.
func (r *BatchReader) Read(fn func(pkt []byte, truncated bool)) error { return r.read(fn) }

// Close stops the reader: a Read in progress returns net.ErrClosed
// promptly, and so does every later one. The socket is closed once no
// Read is using it.
func (r *BatchReader) Close() error { return r.close() }

// MaxPause returns the longest pause the reader takes between drains of
// a busy socket (at most 2 ms, less for a smaller receive buffer), or 0
// when it never pauses: the buffer is too small to absorb a burst during
// one, so each batch is gathered in the kernel, one wake-up per datagram
// (and off Linux).
func (r *BatchReader) MaxPause() time.Duration { return r.maxPause }

// Runs returns how many reads so far were runs of datagrams that the
// kernel kept together (UDP_GRO, Linux) and Read cut apart.
func (r *BatchReader) Runs() uint64 { return r.runs.Load() }
