package xray

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// DaemonHeader starts every datagram of the X-Ray daemon protocol.
const DaemonHeader = "{\"format\": \"json\", \"version\": 1}\n"

// MaxDatagramSize is the largest datagram the emitter sends, header
// included. The daemon reads 64 KiB at a time; larger segment documents are
// split into independent subsegments.
const MaxDatagramSize = 64000

// maxBatch is how many datagrams one system call writes at most.
const maxBatch = 64

// Stats counts what an Emitter did with the segments it was given.
type Stats struct {
	Segments      uint64 // segments accepted by Emit
	Datagrams     uint64 // datagrams written to the socket
	Split         uint64 // segments sent as several documents because they were too large
	Trimmed       uint64 // documents whose metadata or stack was left out to fit a datagram
	DroppedFull   uint64 // segments dropped because the queue was full
	DroppedClosed uint64 // segments given to Emit after Shutdown
	DroppedLarge  uint64 // documents that did not fit a datagram even when trimmed
	SendErrors    uint64 // datagrams the socket refused
}

// Dropped is the number of segments or documents lost for any reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedFull + s.DroppedClosed + s.DroppedLarge + s.SendErrors
}

type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// Emitter sends segments to the X-Ray daemon over UDP. Emit never blocks:
// segments wait in a bounded queue for one background sender that encodes
// them and writes them in batches. Create one with NewEmitter and share it;
// it is safe for concurrent use.
type Emitter struct {
	cfg     config
	conn    *net.UDPConn
	writer  batchWriter
	queue   chan *Segment
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	once    sync.Once

	// Owned by the sender goroutine.
	msgs []ipv4.Message
	bufs [][]byte

	segments, datagrams, split, trimmed                         atomic.Uint64
	droppedFull, droppedClosed, droppedLarge, sendErrors, logAt atomic.Uint64
}

// NewEmitter connects a UDP socket to the daemon and starts the sender. The
// address comes from WithDaemonAddress, else AWS_XRAY_DAEMON_ADDRESS, else
// 127.0.0.1:2000. Nothing needs to listen there yet: datagrams sent while
// no daemon listens are counted as send errors.
func NewEmitter(opts ...Option) (*Emitter, error) {
	cfg := newConfig(opts)
	addr, err := ParseDaemonAddress(cfg.address)
	if err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr("udp", addr.UDP)
	if err != nil {
		return nil, fmt.Errorf("xray: daemon address: %w", err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("xray: connect to daemon: %w", err)
	}
	_ = conn.SetWriteBuffer(4 << 20)
	e := &Emitter{
		cfg:     cfg,
		conn:    conn,
		queue:   make(chan *Segment, cfg.queueSize),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		msgs:    make([]ipv4.Message, maxBatch),
		bufs:    make([][]byte, maxBatch),
	}
	if raddr.IP.To4() != nil {
		e.writer = ipv4.NewPacketConn(conn)
	} else {
		e.writer = ipv6.NewPacketConn(conn)
	}
	for i := range e.msgs {
		e.msgs[i].Buffers = make([][]byte, 1)
	}
	go e.run()
	return e, nil
}

// Emit queues s to be sent and takes ownership of it: the caller must not
// touch s (or its subsegments) afterwards. Segments from GetSegment go back
// to the pool once sent. Emit never blocks; when the queue is full s is
// dropped and counted.
func (e *Emitter) Emit(s *Segment) {
	if e.closed.Load() {
		e.droppedClosed.Add(1)
		PutSegment(s)
		return
	}
	select {
	case e.queue <- s:
		e.segments.Add(1)
	default:
		e.droppedFull.Add(1)
		e.logDrop("queue full")
		PutSegment(s)
	}
}

// Flush waits until every segment emitted before the call has been written
// to the socket, or ctx ends.
func (e *Emitter) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case e.flushes <- ack:
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops accepting segments, sends what is queued, and closes the
// socket. It returns ctx's error if the queue could not be sent in time;
// calling it again returns nil at once.
func (e *Emitter) Shutdown(ctx context.Context) error {
	var err error
	e.once.Do(func() {
		e.closed.Store(true)
		close(e.stop)
		select {
		case <-e.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		// Closing the socket makes a sender still writing give up.
		_ = e.conn.Close()
		<-e.done
	})
	return err
}

// Stats returns the emitter's counters.
func (e *Emitter) Stats() Stats {
	return Stats{
		Segments:      e.segments.Load(),
		Datagrams:     e.datagrams.Load(),
		Split:         e.split.Load(),
		Trimmed:       e.trimmed.Load(),
		DroppedFull:   e.droppedFull.Load(),
		DroppedClosed: e.droppedClosed.Load(),
		DroppedLarge:  e.droppedLarge.Load(),
		SendErrors:    e.sendErrors.Load(),
	}
}

func (e *Emitter) run() {
	defer close(e.done)
	for {
		select {
		case s := <-e.queue:
			n := e.add(0, s)
			n = e.fill(n)
			e.write(n)
		case ack := <-e.flushes:
			e.drain()
			close(ack)
		case <-e.stop:
			e.drain()
			return
		}
	}
}

// fill adds queued segments without waiting until the batch is full or the
// queue is empty, and returns the number of datagrams ready.
func (e *Emitter) fill(n int) int {
	for n < maxBatch-8 { // leave room for a split segment's pieces
		select {
		case s := <-e.queue:
			n = e.add(n, s)
		default:
			return n
		}
	}
	return n
}

func (e *Emitter) drain() {
	for {
		n := e.fill(0)
		if n == 0 {
			return
		}
		e.write(n)
	}
}

// add encodes s into datagrams starting at slot n, writing early if the
// batch fills, and returns the next free slot.
func (e *Emitter) add(n int, s *Segment) int {
	n = e.encode(n, s)
	PutSegment(s)
	return n
}

func (e *Emitter) encode(n int, s *Segment) int {
	if n == maxBatch {
		e.write(n)
		n = 0
	}
	b := append(e.bufs[n][:0], DaemonHeader...)
	b = AppendDocument(b, s)
	if len(b) <= e.cfg.maxDoc {
		e.bufs[n] = b
		return n + 1
	}
	e.bufs[n] = b[:0]
	if len(s.Subsegments) > 0 {
		// Send the subsegments as documents of their own.
		e.split.Add(1)
		subs := s.Subsegments
		s.Subsegments = nil
		n = e.encode(n, s)
		for _, sub := range subs {
			sub.Independent = true
			sub.TraceID = s.TraceID
			sub.ParentID = s.ID
			n = e.encode(n, sub)
		}
		s.Subsegments = subs
		return n
	}
	if len(s.Metadata) > 0 || (s.Cause != nil && hasStack(s.Cause)) {
		e.trimmed.Add(1)
		e.logDrop("document over the datagram limit: metadata and stacks left out")
		meta, cause := s.Metadata, s.Cause
		s.Metadata = nil
		if cause != nil {
			c := Cause{WorkingDirectory: cause.WorkingDirectory}
			for _, ex := range cause.Exceptions {
				ex.Truncated += len(ex.Stack)
				ex.Stack = nil
				c.Exceptions = append(c.Exceptions, ex)
			}
			s.Cause = &c
		}
		n = e.encode(n, s)
		s.Metadata, s.Cause = meta, cause
		return n
	}
	e.droppedLarge.Add(1)
	e.logDrop("document over the datagram limit even without metadata: dropped")
	return n
}

func hasStack(c *Cause) bool {
	for _, ex := range c.Exceptions {
		if len(ex.Stack) > 0 {
			return true
		}
	}
	return false
}

func (e *Emitter) write(n int) {
	for i := 0; i < n; i++ {
		e.msgs[i].Buffers[0] = e.bufs[i]
	}
	msgs := e.msgs[:n]
	for len(msgs) > 0 {
		sent, err := e.writer.WriteBatch(msgs, 0)
		if sent > 0 {
			e.datagrams.Add(uint64(sent))
			msgs = msgs[sent:]
			continue
		}
		if err == nil {
			err = errors.New("no datagram written")
		}
		// Skip the datagram that failed (ECONNREFUSED while no daemon
		// listens, or a closed socket) and go on with the rest.
		e.sendErrors.Add(1)
		e.logErr(err)
		msgs = msgs[1:]
	}
}

// logDrop and logErr report at most once every 10 seconds.
func (e *Emitter) logDrop(reason string) {
	if e.mayLog() {
		st := e.Stats()
		e.cfg.logger.Warn("xray: segments dropped", "reason", reason, "dropped_total", st.Dropped(), "trimmed_total", st.Trimmed)
	}
}

func (e *Emitter) logErr(err error) {
	if e.mayLog() {
		e.cfg.logger.Warn("xray: sending to the daemon failed", "error", err, "send_errors_total", e.sendErrors.Load())
	}
}

func (e *Emitter) mayLog() bool {
	now := uint64(time.Now().UnixNano())
	last := e.logAt.Load()
	return now-last >= uint64(10*time.Second) && e.logAt.CompareAndSwap(last, now)
}

var segmentPool = sync.Pool{New: func() any { return new(Segment) }}

// GetSegment returns a cleared Segment from a pool. Emit returns it to the
// pool after sending; PutSegment returns one that will not be emitted.
func GetSegment() *Segment {
	return segmentPool.Get().(*Segment)
}

// PutSegment clears s and its subsegments and returns them to the pool. The
// caller must not use them afterwards.
func PutSegment(s *Segment) {
	if s == nil {
		return
	}
	for _, sub := range s.Subsegments {
		PutSegment(sub)
	}
	if cap(s.Annotations) > 64 || cap(s.Metadata) > 64 || cap(s.Subsegments) > 64 {
		return // let unusually large segments go to the garbage collector
	}
	s.Reset()
	segmentPool.Put(s)
}
