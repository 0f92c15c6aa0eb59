package xrayudp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/segment"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/udpsock"
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
	rejected map[segment.Reason]*atomic.Uint64
	accepted *atomic.Uint64
	readErrs *atomic.Uint64
	reads    *atomic.Uint64
	runs     *atomic.Uint64
}

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
	r := &Receiver{cfg: cfg, done: make(chan struct{}), rejected: status.Family(cfg.Counters, "segments.rejected.", segment.Reasons...)}
	r.accepted = cfg.Counters.Counter("segments.accepted")
	r.readErrs = cfg.Counters.Counter("segments.udp_read_errors")
	r.reads = cfg.Counters.Counter("segments.udp_reads")
	r.runs = cfg.Counters.Counter("segments.udp_gro_runs")
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

// Shutdown closes the socket and waits for the reading goroutine, or ctx.
func (r *Receiver) Shutdown(ctx context.Context) error {
	if r.reader == nil {
		return nil
	}
	if r.closing.CompareAndSwap(false, true) {
		_ = r.reader.Close()
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("xrayudp: shutdown: %w", ctx.Err())
	}
}

func (r *Receiver) loop() {
	defer close(r.done)
	br := r.reader
	for {
		err := br.Read(r.handle)
		r.reads.Add(1)
		r.runs.Store(br.Runs())
		if err != nil {
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			r.readErrs.Add(1)
		}
	}
}

func (r *Receiver) handle(pkt []byte, truncated bool) {
	if truncated {
		r.rejected[segment.TooLarge].Add(1)
		return
	}
	doc, reason := segment.SplitDatagram(pkt)
	if reason == segment.OK {
		var info segment.Info
		info, reason = segment.Check(doc)
		if reason == segment.OK {
			r.accepted.Add(1)
			r.cfg.Consumer.ConsumeSegment(doc, info)
			return
		}
	}
	r.rejected[reason].Add(1)
}
