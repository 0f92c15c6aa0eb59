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

	emfdoc "github.com/seed-c77c9410/sidelight/sidecar/internal/emf"
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
	// 64 KB read buffer).
	MaxConns int
	// LongLineMemory bounds the memory all connections together may use
	// for lines longer than the read buffer (default 8 MiB). A long line
	// that does not fit is dropped and counted as
	// emf.dropped.long_line_memory.
	LongLineMemory int64
	// CloseGrace is how long Shutdown lets open connections deliver data
	// already sent (default 200ms).
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
	if c.MaxConns < 1 || c.CloseGrace < 0 {
		return errors.New("emf receiver: MaxConns must be positive")
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
	conns   map[net.Conn]struct{}
	closing atomic.Bool
	wg      sync.WaitGroup

	longMem *queue.Budget

	accepted, lines, refusedConns, readErrs, longDropped *atomic.Uint64
	rejected                                             map[emfdoc.Reason]*atomic.Uint64
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Counters
	r := &Receiver{cfg: cfg, conns: map[net.Conn]struct{}{},
		accepted:     c.Counter("emf.accepted"),
		lines:        c.Counter("emf.lines"),
		refusedConns: c.Counter("emf.refused_connections"),
		readErrs:     c.Counter("emf.read_errors"),
		longDropped:  c.Counter("emf.dropped.long_line_memory"),
		longMem:      queue.NewBudget(cfg.LongLineMemory),
		rejected:     status.Family(c, "emf.rejected.", emfdoc.Reasons...),
	}
	r.parsers.New = func() any { return new(emfdoc.Parser) }
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

// Shutdown stops receiving (see the package contract).
func (r *Receiver) Shutdown(ctx context.Context) error {
	if !r.closing.CompareAndSwap(false, true) {
		return nil
	}
	if r.ln != nil {
		_ = r.ln.Close()
	}
	if r.udp != nil {
		_ = r.udp.Close()
	}
	deadline := time.Now().Add(r.cfg.CloseGrace)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r.mu.Lock()
	for c := range r.conns {
		_ = c.SetReadDeadline(deadline)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.mu.Lock()
		for c := range r.conns {
			_ = c.Close()
		}
		r.mu.Unlock()
		<-done
		return fmt.Errorf("emf receiver: shutdown: %w", ctx.Err())
	}
}

func (r *Receiver) acceptLoop() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			r.readErrs.Add(1)
			continue
		}
		r.mu.Lock()
		if len(r.conns) >= r.cfg.MaxConns || r.closing.Load() {
			r.mu.Unlock()
			r.refusedConns.Add(1)
			_ = c.Close()
			continue
		}
		r.conns[c] = struct{}{}
		r.wg.Add(1)
		r.mu.Unlock()
		go r.serveConn(c)
	}
}

// maxLine is the longest line accepted: a 1 MB document and its newline.
const maxLine = emfdoc.MaxDocumentBytes + 1

func (r *Receiver) serveConn(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
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
		switch {
		case err == nil || (errors.Is(err, io.EOF) && len(chunk) > 0):
			switch {
			case skip == noMemory:
			case skip == tooLarge || len(long)+len(chunk) > maxLine:
				r.lines.Add(1)
				r.rejected[emfdoc.TooLarge].Add(1)
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
			if !errors.Is(err, io.EOF) && !r.closing.Load() {
				r.readErrs.Add(1)
			}
			if len(long) > 0 || skip == tooLarge {
				r.rejected[emfdoc.NotJSON].Add(1) // connection ended mid-line
			}
			return
		}
	}
}

func (r *Receiver) udpLoop() {
	defer r.wg.Done()
	br := r.udp
	for {
		err := br.Read(func(pkt []byte, truncated bool) {
			if truncated {
				r.rejected[emfdoc.TooLarge].Add(1)
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
		if err != nil {
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			r.readErrs.Add(1)
		}
	}
}

// line checks one line and hands it on. Blank lines are ignored.
func (r *Receiver) line(doc []byte) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return
	}
	r.lines.Add(1)
	p := r.parsers.Get().(*emfdoc.Parser)
	_, reason := p.Parse(doc, nil)
	r.parsers.Put(p)
	if reason != emfdoc.OK {
		r.rejected[reason].Add(1)
		return
	}
	r.accepted.Add(1)
	r.cfg.Consumer.ConsumeEMF(doc)
}
