package xrayudp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/udpsock"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// Config configures a Receiver.
type Config struct {
	// Addr is the UDP address (default 127.0.0.1:2000).
	Addr string
	// ReadBuffer is the requested SO_RCVBUF in bytes (default 8 MiB).
	ReadBuffer int
	// Batch is the datagrams (or runs of datagrams kept together by
	// UDP_GRO) read per system call (default 64).
	Batch    int
	Consumer Consumer
	Counters *status.Counters
	Logger   *slog.Logger
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	if c.Consumer == nil || c.Counters == nil {
		return errors.New("xrayudp: Consumer and Counters are required")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("xrayudp: address %q: %w", c.Addr, err)
	}
	if c.Batch < 1 || c.ReadBuffer < 0 {
		return errors.New("xrayudp: Batch must be positive and ReadBuffer not negative")
	}
	return nil
}

// Receiver reads segments from UDP.
type Receiver struct {
	cfg      Config
	reader   *udpsock.BatchReader
	done     chan struct{}
	closing  atomic.Bool
	stopped  sync.Once
	rejected map[xraydoc.Reason]*atomic.Uint64
	accepted *atomic.Uint64
	readErrs *atomic.Uint64
	reads    *atomic.Uint64
	runs     *atomic.Uint64
	dropped  map[string]*atomic.Uint64 // segments.dropped.udp_*: see DropReasons
}

// Why the kernel or the receiver lost datagrams before they were read,
// counted as segments.dropped.<reason>.
const (
	// DropBufferFull: the socket's receive buffer was full (SO_MEMINFO's
	// drop count, the same as SO_RXQ_OVFL's).
	DropBufferFull = "udp_buffer_full"
	// DropAfterShutdown: arrived after Shutdown began and was refused.
	DropAfterShutdown = "udp_after_shutdown"
	// DropShutdownBacklog: queued at Shutdown but not read before its
	// deadline.
	DropShutdownBacklog = "udp_shutdown_backlog"
)

// DropReasons lists the receiver's segments.dropped reasons.
var DropReasons = []string{DropBufferFull, DropAfterShutdown, DropShutdownBacklog}

// New applies defaults, checks cfg and returns an unstarted Receiver.
func New(cfg Config) (*Receiver, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:2000"
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = 8 << 20
	}
	if cfg.Batch == 0 {
		cfg.Batch = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Receiver{cfg: cfg, done: make(chan struct{}), rejected: status.Family(cfg.Counters, "segments.rejected.", xraydoc.Reasons...)}
	r.accepted = cfg.Counters.Counter("segments.accepted")
	r.readErrs = cfg.Counters.Counter("segments.udp_read_errors")
	r.reads = cfg.Counters.Counter("segments.udp_reads")
	r.runs = cfg.Counters.Counter("segments.udp_gro_runs")
	r.dropped = status.Family(cfg.Counters, "segments.dropped.", DropReasons...)
	return r, nil
}

// Start binds the socket and starts reading.
func (r *Receiver) Start(ctx context.Context) error {
	reader, err := udpsock.Open(ctx, r.cfg.Addr, r.cfg.ReadBuffer, r.cfg.Batch, 65536)
	if err != nil {
		return fmt.Errorf("xrayudp: %w", err)
	}
	r.reader = reader
	reader.LogBuffer(r.cfg.Logger)
	go r.loop()
	return nil
}

// Addr returns the bound address (after Start).
func (r *Receiver) Addr() net.Addr {
	if r.reader == nil {
		return nil
	}
	return r.reader.LocalAddr()
}

// MaxReadPause returns the reader's longest pause between drains (see
// udpsock.BatchReader.MaxPause; 0: it gathers in the kernel instead).
func (r *Receiver) MaxReadPause() time.Duration { return r.reader.MaxPause() }

// Sockets returns how many sockets share the address (see udpsock.Open).
func (r *Receiver) Sockets() int { return r.reader.Sockets() }

// ReadBufferSize returns the effective SO_RCVBUF the kernel reported (of
// all the sockets together).
func (r *Receiver) ReadBufferSize() int {
	if r.reader == nil {
		return 0
	}
	return r.reader.ReadBufferSize()
}

// Shutdown stops taking datagrams in, hands every datagram already
// queued on the sockets to the Consumer, and waits for that, or ctx. If
// ctx ends first, what is still queued is counted as dropped
// (udp_shutdown_backlog). Datagrams that arrive after Shutdown began are
// refused and counted (udp_after_shutdown); drops are logged once.
func (r *Receiver) Shutdown(ctx context.Context) error {
	if r.reader == nil {
		return nil
	}
	if r.closing.CompareAndSwap(false, true) {
		_ = r.reader.Drain()
	}
	var err error
	select {
	case <-r.done:
	case <-ctx.Done():
		_ = r.reader.Close() // the loop counts what is left and stops
		<-r.done
		err = fmt.Errorf("xrayudp: shutdown: %w", ctx.Err())
	}
	r.stopped.Do(func() {
		r.syncCounts()
		if late, left := r.reader.Refused(), r.reader.Discarded(); late+left > 0 {
			r.cfg.Logger.Warn("X-Ray UDP receiver stopped with datagrams lost",
				"segments.dropped."+DropAfterShutdown, late, "segments.dropped."+DropShutdownBacklog, left)
		}
	})
	return err
}

// syncCounts copies the reader's counts to the counters.
func (r *Receiver) syncCounts() {
	br := r.reader
	r.runs.Store(br.Runs())
	r.dropped[DropBufferFull].Store(br.Overflows())
	r.dropped[DropAfterShutdown].Store(br.Refused())
	r.dropped[DropShutdownBacklog].Store(br.Discarded())
}

func (r *Receiver) loop() {
	defer close(r.done)
	br := r.reader
	for {
		err := br.Read(r.handle)
		r.reads.Add(1)
		r.syncCounts()
		if err != nil {
			// While draining, Read returns an error only once the
			// sockets are empty and closed.
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			r.readErrs.Add(1)
		}
	}
}

func (r *Receiver) handle(pkt []byte, truncated bool) {
	if truncated {
		r.rejected[xraydoc.TooLarge].Add(1)
		return
	}
	doc, reason := xraydoc.SplitDatagram(pkt)
	if reason == xraydoc.OK {
		var info xraydoc.Info
		info, reason = xraydoc.Check(doc)
		if reason == xraydoc.OK {
			r.accepted.Add(1)
			r.cfg.Consumer.ConsumeSegment(doc, info)
			return
		}
	}
	r.rejected[reason].Add(1)
}
