package emf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/udpsock"
)

// Config configures a Receiver.
type Config struct {
	// TCPAddr and UDPAddr default to 127.0.0.1:25888. Set one to "off" to
	// disable it.
	TCPAddr, UDPAddr string
	// ReadBuffer is the requested UDP SO_RCVBUF (default 4 MiB).
	ReadBuffer int
	// MaxConns bounds concurrent TCP connections (default 64; each has a
	// 64 KB read buffer). A new connection at the limit is served and the
	// connection idle the longest is closed instead (after what it already
	// sent is read), counted as emf.evicted_connections: idle or leaked
	// connections never lock an active client out.
	MaxConns int
	// IdleTimeout closes a TCP connection that sent nothing for that long
	// (default 5 minutes), counted as emf.idle_closed_connections.
	IdleTimeout time.Duration
	// LongLineMemory bounds the memory all connections together may use
	// for lines longer than the read buffer (default 8 MiB). A long line
	// that does not fit is dropped and counted as
	// emf.dropped.long_line_memory.
	LongLineMemory int64
	// CloseGrace bounds how long Shutdown (and an eviction) lets an open
	// connection deliver data still on its way (default 200ms). The data
	// the kernel already held when Shutdown began is read in full, up to
	// the last complete line, even when that takes longer (within
	// Shutdown's context), and the connection is then closed.
	CloseGrace time.Duration
	Consumer   Consumer
	Counters   *status.Counters
	Logger     *slog.Logger
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	if c.Consumer == nil || c.Counters == nil {
		return errors.New("emf receiver: Consumer and Counters are required")
	}
	for _, a := range []string{c.TCPAddr, c.UDPAddr} {
		if a == "off" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("emf receiver: address %q: %w", a, err)
		}
	}
	if c.MaxConns < 1 || c.CloseGrace < 0 || c.IdleTimeout < 0 {
		return errors.New("emf receiver: MaxConns must be positive, CloseGrace and IdleTimeout not negative")
	}
	return nil
}

// Receiver receives EMF over TCP and UDP.
type Receiver struct {
	cfg     Config
	ln      net.Listener
	udp     *udpsock.BatchReader
	parsers sync.Pool

	mu      sync.Mutex
	conns   map[net.Conn]*tcpConn
	closing atomic.Bool
	// stopAt is the end of CloseGrace, and hardAt the read deadline, in
	// Unix nanoseconds, of connections stopped by Shutdown.
	stopAt  atomic.Int64
	hardAt  atomic.Int64
	wg      sync.WaitGroup
	stopped sync.Once

	longMem *queue.Budget

	accepted, lines, readErrs, longDropped *atomic.Uint64
	evicted, idleClosed                    *atomic.Uint64
	rejected                               map[emfdoc.Reason]*atomic.Uint64
	dropped                                map[string]*atomic.Uint64
	observer                               RejectionObserver // nil when the consumer is not one
	traceIDs                               bool              // collect trace IDs for the consumer
}

// decoder is a parser and the document it fills, reused line after line.
type decoder struct {
	p   emfdoc.Parser
	doc emfdoc.Document
}

// Why the receiver lost EMF data before it was parsed, counted as
// emf.dropped.<reason>. The UDP reasons count datagrams (a datagram may
// hold several lines).
const (
	// DropUDPBufferFull: the UDP socket's receive buffer was full.
	DropUDPBufferFull = "udp_buffer_full"
	// DropUDPAfterShutdown: a datagram arrived after Shutdown began and
	// was refused.
	DropUDPAfterShutdown = "udp_after_shutdown"
	// DropUDPShutdownBacklog: a datagram queued at Shutdown was not read
	// before its deadline.
	DropUDPShutdownBacklog = "udp_shutdown_backlog"
	// DropPartialLine: a TCP connection closed by Shutdown, an eviction
	// or the deadline ended with an incomplete line.
	DropPartialLine = "partial_line"
)

// DropReasons lists the receiver's emf.dropped reasons (besides
// long_line_memory, see Config.LongLineMemory).
var DropReasons = []string{DropUDPBufferFull, DropUDPAfterShutdown, DropUDPShutdownBacklog, DropPartialLine}

// tcpConn is a served TCP connection. Reads go through it so that each
// one pushes the idle deadline back and records when the peer last sent.
type tcpConn struct {
	net.Conn
	idle     time.Duration
	last     atomic.Int64 // unix nanoseconds of the last read that brought data
	stopping atomic.Bool  // Shutdown or an eviction: read what is queued, then stop
	stopAt   atomic.Int64 // unix nanoseconds: the read deadline once stopping
	graceEnd atomic.Int64 // unix nanoseconds: until then, data still arriving is read too
	queued   atomic.Int64 // bytes the kernel held when stop ran (-1: not known)
	taken    atomic.Int64 // bytes read since stop ran
}

func (c *tcpConn) Read(p []byte) (int, error) {
	stopping := c.stopping.Load()
	if c.idle > 0 && !stopping {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
		if c.stopping.Load() { // stop ran meanwhile: its deadline wins
			_ = c.Conn.SetReadDeadline(time.Unix(0, c.stopAt.Load()))
		}
	}
	if stopping && time.Now().UnixNano() >= c.graceEnd.Load() {
		// The grace is over: read only what the kernel held at stop.
		left := c.queued.Load() - c.taken.Load()
		if left <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
		if stopping {
			c.taken.Add(int64(n))
		}
	}
	return n, err
}

// stop has the connection's reader take what the kernel already holds
// and then see the end of the stream (SHUT_RD). Data still arriving is
// read until graceEnd; what the kernel held when stop ran is read in full
// however long that takes (a busy machine can need more than the grace
// for it), but not past hard. When the kernel cannot say what it holds,
// reading ends at graceEnd.
func (c *tcpConn) stop(graceEnd, hard time.Time) {
	queued := int64(-1)
	if n, ok := unreadBytes(c.Conn); ok {
		queued = int64(n)
	} else {
		hard = graceEnd
	}
	c.queued.Store(queued)
	c.graceEnd.Store(graceEnd.UnixNano())
	c.stopAt.Store(hard.UnixNano())
	if c.stopping.Swap(true) {
		return
	}
	_ = c.Conn.SetReadDeadline(hard)
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		_ = cr.CloseRead()
	}
}

// New applies defaults, checks cfg and returns an unstarted Receiver.
func New(cfg Config) (*Receiver, error) {
	if cfg.TCPAddr == "" {
		cfg.TCPAddr = "127.0.0.1:25888"
	}
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = "127.0.0.1:25888"
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = 4 << 20
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 64
	}
	if cfg.LongLineMemory == 0 {
		cfg.LongLineMemory = 8 << 20
	}
	if cfg.CloseGrace == 0 {
		cfg.CloseGrace = 200 * time.Millisecond
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Counters
	r := &Receiver{cfg: cfg, conns: map[net.Conn]*tcpConn{},
		accepted:    c.Counter("emf.accepted"),
		lines:       c.Counter("emf.lines"),
		readErrs:    c.Counter("emf.read_errors"),
		longDropped: c.Counter("emf.dropped.long_line_memory"),
		longMem:     queue.NewBudget(cfg.LongLineMemory),
		rejected:    status.Family(c, "emf.rejected.", emfdoc.Reasons...),
		dropped:     status.Family(c, "emf.dropped.", DropReasons...),
		evicted:     c.Counter("emf.evicted_connections"),
		idleClosed:  c.Counter("emf.idle_closed_connections"),
	}
	r.observer, _ = cfg.Consumer.(RejectionObserver)
	if f, ok := cfg.Consumer.(TraceIDFinder); ok {
		r.traceIDs = f.WantsTraceIDs()
	}
	r.parsers.New = func() any { return new(decoder) }
	return r, nil
}

// Start binds the sockets and starts receiving.
func (r *Receiver) Start(ctx context.Context) error {
	if r.cfg.TCPAddr != "off" {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", r.cfg.TCPAddr)
		if err != nil {
			return fmt.Errorf("emf receiver: %w", err)
		}
		r.ln = ln
	}
	if r.cfg.UDPAddr != "off" {
		reader, err := udpsock.Open(ctx, r.cfg.UDPAddr, r.cfg.ReadBuffer, 8, 65536)
		if err != nil {
			if r.ln != nil {
				_ = r.ln.Close()
			}
			return fmt.Errorf("emf receiver: %w", err)
		}
		r.udp = reader
		reader.LogBuffer(r.cfg.Logger)
		r.wg.Add(1)
		go r.udpLoop()
	}
	if r.ln != nil {
		r.wg.Add(1)
		go r.acceptLoop()
	}
	return nil
}

// TCPAddr and UDPAddr return the bound addresses (nil when disabled).
func (r *Receiver) TCPAddr() net.Addr {
	if r.ln == nil {
		return nil
	}
	return r.ln.Addr()
}

// UDPAddr returns the bound UDP address, or nil.
func (r *Receiver) UDPAddr() net.Addr {
	if r.udp == nil {
		return nil
	}
	return r.udp.LocalAddr()
}

// ReadBufferSize returns the effective UDP SO_RCVBUF.
func (r *Receiver) ReadBufferSize() int {
	if r.udp == nil {
		return 0
	}
	return r.udp.ReadBufferSize()
}

// Shutdown stops receiving (see the package contract): it closes the
// TCP listener, stops the UDP socket taking datagrams in, reads what the
// UDP socket and every open connection already hold (connections up to
// their last complete line) and hands it on, and returns when that is
// done, or at ctx's end with what is left counted as dropped.
func (r *Receiver) Shutdown(ctx context.Context) error {
	if !r.closing.CompareAndSwap(false, true) {
		return nil
	}
	deadline := time.Now().Add(r.cfg.CloseGrace)
	hard := deadline.Add(maxShutdownRead)
	if d, ok := ctx.Deadline(); ok {
		hard = d
		if d.Before(deadline) {
			deadline = d
		}
	}
	r.stopAt.Store(deadline.UnixNano())
	r.hardAt.Store(hard.UnixNano())
	if r.ln != nil {
		// Connections the kernel already completed wait in the listen
		// backlog; their clients have sent lines. The accept loop takes
		// them in (and stops them like the others) until the backlog is
		// empty for acceptDrain, then closes the listener.
		if dl, ok := r.ln.(interface{ SetDeadline(time.Time) error }); !ok || dl.SetDeadline(time.Now().Add(acceptDrain)) != nil {
			_ = r.ln.Close()
		}
	}
	if r.udp != nil {
		_ = r.udp.Drain()
	}
	r.mu.Lock()
	for _, c := range r.conns {
		c.stop(deadline, hard)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		if r.udp != nil {
			_ = r.udp.Close() // the UDP loop counts what is left and stops
		}
		r.mu.Lock()
		for c := range r.conns {
			_ = c.Close()
		}
		r.mu.Unlock()
		<-done
		err = fmt.Errorf("emf receiver: shutdown: %w", ctx.Err())
	}
	r.stopped.Do(func() {
		r.syncUDPCounts()
		lost := []any{}
		for _, reason := range []string{DropUDPAfterShutdown, DropUDPShutdownBacklog, DropPartialLine} {
			if n := r.dropped[reason].Load(); n > 0 {
				lost = append(lost, "emf.dropped."+reason, n)
			}
		}
		if len(lost) > 0 {
			r.cfg.Logger.Warn("EMF receiver stopped with data lost", lost...)
		}
	})
	return err
}

// syncUDPCounts copies the UDP reader's drop counts to the counters.
func (r *Receiver) syncUDPCounts() {
	if r.udp == nil {
		return
	}
	r.dropped[DropUDPBufferFull].Store(r.udp.Overflows())
	r.dropped[DropUDPAfterShutdown].Store(r.udp.Refused())
	r.dropped[DropUDPShutdownBacklog].Store(r.udp.Discarded())
}

func (r *Receiver) acceptLoop() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				_ = r.ln.Close()
				return
			}
			r.readErrs.Add(1)
			continue
		}
		tc := &tcpConn{Conn: c, idle: r.cfg.IdleTimeout}
		tc.last.Store(time.Now().UnixNano())
		r.mu.Lock()
		r.evictLocked()
		r.conns[c] = tc
		r.wg.Add(1)
		if r.closing.Load() {
			// Accepted from the backlog during Shutdown: read it to its
			// last complete line like the connections already open.
			tc.stop(time.Unix(0, r.stopAt.Load()), time.Unix(0, r.hardAt.Load()))
		}
		r.mu.Unlock()
		go r.serveConn(tc)
	}
}

// evictLocked makes room for a new connection at the limit: the
// connection that has been idle the longest is read to its last complete
// line and closed. (Connections being stopped do not count against the
// limit; they end within CloseGrace.) mu is held.
func (r *Receiver) evictLocked() {
	var oldest *tcpConn
	active := 0
	for _, c := range r.conns {
		if c.stopping.Load() {
			continue
		}
		active++
		if oldest == nil || c.last.Load() < oldest.last.Load() {
			oldest = c
		}
	}
	if active < r.cfg.MaxConns || oldest == nil {
		return
	}
	r.evicted.Add(1)
	end := time.Now().Add(r.cfg.CloseGrace)
	oldest.stop(end, end.Add(maxShutdownRead))
}

// maxLine is the longest line accepted: a 1 MB document and its newline.
const maxLine = emfdoc.MaxDocumentBytes + 1

// maxShutdownRead bounds, past CloseGrace, how long a stopped connection
// may take to read what the kernel held when it was stopped, when
// Shutdown's context has no deadline (and for an eviction).
const maxShutdownRead = 10 * time.Second

// acceptDrain is how long Shutdown's accept loop waits for one more
// connection from the listen backlog before it closes the listener.
const acceptDrain = 20 * time.Millisecond

func (r *Receiver) serveConn(c *tcpConn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c.Conn)
		r.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReaderSize(c, 64<<10)
	var long []byte // a line longer than the bufio buffer
	var held int64  // bytes of long reserved in r.longMem
	defer func() { r.longMem.Release(held) }()
	drop := func() {
		r.longMem.Release(held)
		held, long = 0, nil
	}
	// skip is why the rest of the current line is being discarded:
	// tooLarge (counted when the line ends) or noMemory (counted already).
	const none, tooLarge, noMemory = 0, 1, 2
	skip := none
	for {
		chunk, err := br.ReadSlice('\n')
		stopping := c.stopping.Load()
		switch {
		case err == nil || (errors.Is(err, io.EOF) && len(chunk) > 0 && !stopping):
			switch {
			case skip == noMemory:
			case skip == tooLarge || len(long)+len(chunk) > maxLine:
				r.lines.Add(1)
				r.reject(emfdoc.TooLarge)
			case long != nil:
				r.line(bytes.TrimRight(append(long, chunk...), "\r\n"))
			default:
				r.line(bytes.TrimRight(chunk, "\r\n"))
			}
			drop()
			skip = none
			if err != nil {
				return
			}
		case errors.Is(err, bufio.ErrBufferFull):
			switch {
			case skip != none:
			case len(long)+len(chunk) > maxLine:
				skip = tooLarge
				drop()
			case !r.longMem.TryReserve(int64(len(chunk))):
				r.lines.Add(1)
				r.longDropped.Add(1)
				skip = noMemory
				drop()
			default:
				held += int64(len(chunk))
				long = append(long, chunk...)
			}
		default:
			partial := len(long) > 0 || len(chunk) > 0 || skip == tooLarge
			var ne net.Error
			switch {
			case stopping:
				// Shutdown or an eviction: everything up to the last
				// complete line was handed on.
				if partial {
					r.dropped[DropPartialLine].Add(1)
				}
				return
			case errors.As(err, &ne) && ne.Timeout():
				r.idleClosed.Add(1)
			case !errors.Is(err, io.EOF) && !r.closing.Load():
				r.readErrs.Add(1)
			}
			if partial {
				r.reject(emfdoc.NotJSON) // connection ended mid-line
			}
			return
		}
	}
}

func (r *Receiver) udpLoop() {
	defer r.wg.Done()
	defer r.syncUDPCounts()
	br := r.udp
	for {
		err := br.Read(func(pkt []byte, truncated bool) {
			if truncated {
				r.reject(emfdoc.TooLarge)
				return
			}
			for len(pkt) > 0 {
				line := pkt
				if i := bytes.IndexByte(pkt, '\n'); i >= 0 {
					line, pkt = pkt[:i], pkt[i+1:]
				} else {
					pkt = nil
				}
				r.line(bytes.TrimRight(line, "\r"))
			}
		})
		r.syncUDPCounts()
		if err != nil {
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			r.readErrs.Add(1)
		}
	}
}

// line parses one line, the only time it is parsed, and hands the
// document on. Blank lines are ignored.
func (r *Receiver) line(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	r.lines.Add(1)
	d := r.parsers.Get().(*decoder)
	defer r.parsers.Put(d)
	if reason := d.p.Decode(line, &d.doc, r.traceIDs); reason != emfdoc.OK {
		r.reject(reason)
		return
	}
	r.accepted.Add(1)
	r.cfg.Consumer.ConsumeEMF(&d.doc)
	d.doc.Raw = nil
}

// reject counts a refused line, and tells the consumer when it asked.
func (r *Receiver) reject(reason emfdoc.Reason) {
	r.rejected[reason].Add(1)
	if r.observer != nil {
		r.observer.RejectedEMF(reason)
	}
}
