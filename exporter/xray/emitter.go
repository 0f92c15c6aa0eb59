package xray

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
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

// maxBatch is how many datagrams the sender writes at a time: one
// sendmsg with segmentation offload where the kernel takes 128 (see
// gsoSegmentsNew) and they fit in 65,000 bytes, else a few.
const maxBatch = 128

// lingerTime is how long the sender waits for a batch to fill. It bounds the
// delay a segment sees before it is sent (ForceFlush does not wait for it).
const lingerTime = 500 * time.Microsecond

// Stats counts what an Emitter did with the segments it was given.
type Stats struct {
	Segments      uint64 // segments accepted by ExportSegment
	Datagrams     uint64 // datagrams written to the socket
	Direct        uint64 // datagrams the caller sent itself because the queue was full
	Split         uint64 // segments sent as several documents because they were too large
	Trimmed       uint64 // documents whose metadata or stack was left out to fit a datagram
	DroppedFull   uint64 // datagrams dropped because the queue was full (WithDropWhenFull)
	DroppedClosed uint64 // segments given to ExportSegment after Shutdown
	DroppedLarge  uint64 // documents that did not fit a datagram even when trimmed
	SendErrors    uint64 // datagrams the socket refused
	// GSOFallbacks counts the times the kernel refused a send with UDP
	// segmentation offload and the sender went on with fewer datagrams per
	// send (128 to 64) or without it; no datagram is lost to it.
	GSOFallbacks uint64
}

// Dropped is the number of segments or documents lost for any reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedFull + s.DroppedClosed + s.DroppedLarge + s.SendErrors
}

type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// Emitter is the [SegmentExporter] that sends segments to the X-Ray daemon
// over UDP. ExportSegment encodes the segment on the caller's goroutine
// into pooled buffers and queues the datagrams for one background sender,
// which writes them in batches of up to 128 (on Linux, runs of similar
// size in one sendmsg with UDP segmentation offload, which steps down to
// 64 per send and then to sendmmsg when the kernel refuses; elsewhere one
// sendmmsg). ExportSegment never waits for the sender (when two batches
// are queued and the sender has not run, as with GOMAXPROCS 1, the caller
// yields its processor once per batch so that the sender can): when the bounded
// queue is full, the caller sends its datagram itself (one non-blocking
// UDP write), or with WithDropWhenFull drops it and counts the drop. The
// sender starts with the first segment, so an emitter that is never given
// one runs no goroutine. Create one with NewEmitter and share it; it is
// safe for concurrent use.
type Emitter struct {
	cfg      config
	conn     *net.UDPConn
	overflow *net.UDPConn // for datagrams sent by callers when the queue is full
	writer   batchWriter
	gso      *gsoWriter // nil when segmentation offload is off or unsupported
	queue    chan *[]byte
	// free holds buffers the sender has written, for ExportSegment to
	// encode into again. Unlike bufPool it is not emptied by a garbage
	// collection, so a busy emitter does not allocate a new buffer per
	// queued datagram after each one (bufPool takes what does not fit).
	free chan *[]byte
	// full tells a lingering sender that a whole batch is queued.
	full    chan struct{}
	flushes chan chan struct{}
	// linger is how long the sender waits for a batch to fill
	// (lingerTime; tests lengthen it).
	linger time.Duration
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool
	// waiting is true while the sender waits for datagrams or lingers, and
	// after it has been woken until it runs.
	waiting atomic.Bool
	once    sync.Once
	start   sync.Once   // starts the sender with the first segment
	started atomic.Bool // the sender runs (or ran)

	// queued counts datagrams queued and not yet written, so that
	// ForceFlush returns at once when there are none.
	queued atomic.Int64

	// Owned by the sender goroutine.
	msgs    []ipv4.Message
	pending []*[]byte

	segments, datagrams, direct, split, trimmed                 atomic.Uint64
	droppedFull, droppedClosed, droppedLarge, sendErrors, logAt atomic.Uint64
	gsoFallbacks                                                atomic.Uint64

	// syncSock is ExportSegmentSync's socket (sync_socket_linux.go),
	// opened with the first synchronous export; nil when it could not be.
	syncSock  *syncSocket
	syncOpen  sync.Once
	syncRaddr *net.UDPAddr
}

// bufPool's buffers start at 1 KiB, room for a typical request's segment
// (about 500 bytes); larger documents grow theirs.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// freeBuffers is how many written buffers an emitter keeps for reuse: the
// two batches queued before the caller yields to a starved sender (see
// batchReady), and two more encoded meanwhile.
const freeBuffers = 4 * maxBatch

// getBuf returns an empty buffer, from the emitter's free list if it has
// one.
func (e *Emitter) getBuf() *[]byte {
	select {
	case b := <-e.free:
		return b
	default:
		return bufPool.Get().(*[]byte)
	}
}

// putBuf gives b back for reuse. Unusually large buffers are left to the
// garbage collector.
func (e *Emitter) putBuf(b *[]byte) {
	if cap(*b) > 1<<16 {
		return
	}
	*b = (*b)[:0]
	select {
	case e.free <- b:
	default:
		bufPool.Put(b)
	}
}

// NewEmitter connects a UDP socket to the daemon; the sender goroutine
// starts with the first segment. The address comes from WithDaemonAddress,
// else AWS_XRAY_DAEMON_ADDRESS, else 127.0.0.1:2000. Nothing needs to
// listen there yet: datagrams sent while no daemon listens are counted as
// send errors.
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
	overflow, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("xray: connect to daemon: %w", err)
	}
	e := &Emitter{
		cfg:      cfg,
		conn:     conn,
		overflow: overflow,
		queue:    make(chan *[]byte, cfg.queueSize),
		free:     make(chan *[]byte, freeBuffers),
		full:     make(chan struct{}, 1),
		flushes:  make(chan chan struct{}),
		linger:   lingerTime,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		msgs:     make([]ipv4.Message, maxBatch),
		pending:  make([]*[]byte, 0, maxBatch),
	}
	e.syncRaddr = raddr
	if raddr.IP.To4() != nil {
		e.writer = ipv4.NewPacketConn(conn)
	} else {
		e.writer = ipv6.NewPacketConn(conn)
	}
	for i := range e.msgs {
		e.msgs[i].Buffers = make([][]byte, 1)
	}
	if !cfg.noGSO {
		e.gso = newGSOWriter(conn, e.gsoFellBack)
	}
	return e, nil
}

// ExportSegment encodes s and its subsegments into datagrams and queues
// them to be sent. It reads s only during the call: the caller may reuse s
// once it returns. It never waits on a lock or the queue. After Shutdown
// it drops s and counts it in Stats.DroppedClosed.
func (e *Emitter) ExportSegment(s *Segment) {
	if e.closed.Load() {
		e.droppedClosed.Add(1)
		return
	}
	if !e.started.Load() {
		e.start.Do(func() {
			e.started.Store(true)
			go e.run()
		})
	}
	e.segments.Add(1)
	e.encode(s, nil)
}

// ExportSegmentSync encodes s as ExportSegment does and writes its
// datagrams on the caller's goroutine (one non-blocking UDP write each,
// on a socket of their own) instead of queueing them: it starts no
// goroutine and does not wait for the sender. ctx is not consulted: a UDP
// write does not wait. It returns the error of a failed write, which
// Stats also counts as a send error.
func (e *Emitter) ExportSegmentSync(ctx context.Context, s *Segment) error {
	if e.closed.Load() {
		e.droppedClosed.Add(1)
		return errClosed
	}
	e.segments.Add(1)
	e.syncOpen.Do(func() { e.syncSock = newSyncSocket(e.syncRaddr) })
	var err error
	e.encode(s, &err)
	return err
}

// writeSync writes one datagram of ExportSegmentSync.
func (e *Emitter) writeSync(b []byte) error {
	if e.syncSock != nil {
		return e.syncSock.write(b)
	}
	_, err := e.overflow.Write(b)
	return err
}

var (
	errClosed   = errors.New("xray: emitter shut down: segment dropped")
	errTooLarge = errors.New("xray: document over the datagram limit even without metadata: dropped")
)

// enqueue queues b for the sender, or, when syncErr is not nil, writes it
// at once and records a failure in *syncErr.
func (e *Emitter) enqueue(b *[]byte, syncErr *error) {
	if syncErr != nil {
		if err := e.writeSync(*b); err != nil {
			e.sendErrors.Add(1)
			e.logErr(err)
			*syncErr = err
		} else {
			e.datagrams.Add(1)
		}
		e.putBuf(b)
		return
	}
	e.queued.Add(1)
	select {
	case e.queue <- b:
		if n := len(e.queue); n >= maxBatch {
			e.batchReady(n)
		}
		return
	default:
	}
	e.queued.Add(-1)
	if e.cfg.dropWhenFull {
		e.droppedFull.Add(1)
		e.logDrop("queue full")
	} else if _, err := e.overflow.Write(*b); err != nil {
		// The sender is behind: rather than lose the datagram, send it from
		// the caller's goroutine on a socket of its own. A UDP send does not
		// wait for the receiver, so this costs the caller one system call.
		e.sendErrors.Add(1)
		e.logErr(err)
	} else {
		e.datagrams.Add(1)
		e.direct.Add(1)
	}
	e.putBuf(b)
}

// batchReady is called when n >= maxBatch datagrams are queued. If the
// sender lingers, it ends the linger, since a full batch is there to send.
// If the sender has not taken them by the time two batches are queued, it
// is short of a processor (with GOMAXPROCS 1, a sender back from a system
// call or woken by the queue would otherwise run only when the scheduler
// preempts the caller, every 10 ms, by which time thousands of datagrams
// wait in buffers long gone from the cache): the caller yields its
// processor, runtime.Gosched, which waits for nothing. It does so at most
// once per batch queued; an emitter whose sender keeps up never gets here.
func (e *Emitter) batchReady(n int) {
	if e.waiting.Load() {
		select {
		case e.full <- struct{}{}:
		default:
		}
	}
	if n >= 2*maxBatch && n%maxBatch == 0 {
		runtime.Gosched()
	}
}

// encode turns s into one datagram, or, when it is too large, into several:
// subsegments become documents of their own, and a document that still
// does not fit loses its metadata and stacks.
func (e *Emitter) encode(s *Segment, syncErr *error) {
	b := e.getBuf()
	*b = append((*b)[:0], DaemonHeader...)
	*b = AppendDocument(*b, s)
	if len(*b) <= e.cfg.maxDoc {
		e.enqueue(b, syncErr)
		return
	}
	e.putBuf(b) // a huge buffer is not kept
	if len(s.Subsegments) > 0 {
		e.split.Add(1)
		subs := s.Subsegments
		s.Subsegments = nil
		e.encode(s, syncErr)
		for _, sub := range subs {
			// Sent on its own, the subsegment names its trace and parent;
			// the caller's segment is left as it was.
			ind, tid, pid := sub.Independent, sub.TraceID, sub.ParentID
			sub.Independent, sub.TraceID, sub.ParentID = true, s.TraceID, s.ID
			e.encode(sub, syncErr)
			sub.Independent, sub.TraceID, sub.ParentID = ind, tid, pid
		}
		s.Subsegments = subs
		return
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
		e.encode(s, syncErr)
		s.Metadata, s.Cause = meta, cause
		return
	}
	e.droppedLarge.Add(1)
	e.logDrop("document over the datagram limit even without metadata: dropped")
	if syncErr != nil && *syncErr == nil {
		*syncErr = errTooLarge
	}
}

func hasStack(c *Cause) bool {
	for _, ex := range c.Exceptions {
		if len(ex.Stack) > 0 {
			return true
		}
	}
	return false
}

// ForceFlush waits until every segment exported before the call has been
// written to the socket, or ctx ends.
func (e *Emitter) ForceFlush(ctx context.Context) error {
	if !e.started.Load() || e.queued.Load() == 0 {
		return nil // nothing queued: everything exported was written
	}
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
		// No sender starts after this; one that did is stopped below.
		e.start.Do(func() {})
		// No synchronous export opens its socket after this either.
		e.syncOpen.Do(func() {})
		defer func() {
			if e.syncSock != nil {
				e.syncSock.close()
			}
		}()
		if !e.started.Load() {
			_ = e.conn.Close()
			_ = e.overflow.Close()
			return
		}
		close(e.stop)
		select {
		case <-e.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		// Closing the socket makes a sender still writing give up.
		_ = e.conn.Close()
		<-e.done
		_ = e.overflow.Close()
	})
	return err
}

// Stats returns the emitter's counters.
func (e *Emitter) Stats() Stats {
	return Stats{
		Segments:      e.segments.Load(),
		Datagrams:     e.datagrams.Load(),
		Direct:        e.direct.Load(),
		Split:         e.split.Load(),
		Trimmed:       e.trimmed.Load(),
		DroppedFull:   e.droppedFull.Load(),
		DroppedClosed: e.droppedClosed.Load(),
		DroppedLarge:  e.droppedLarge.Load(),
		SendErrors:    e.sendErrors.Load(),
		GSOFallbacks:  e.gsoFallbacks.Load(),
	}
}

// gsoFellBack counts and reports a step down of segmentation offload; it
// happens at most twice in an emitter's life.
func (e *Emitter) gsoFellBack(from, to int, err error) {
	e.gsoFallbacks.Add(1)
	if to == 0 {
		e.cfg.logger.Info("xray: UDP segmentation offload refused: sending datagrams one by one (sendmmsg)", "datagrams_per_send", from, "error", err)
		return
	}
	e.cfg.logger.Info("xray: UDP segmentation offload: fewer datagrams per send", "from", from, "to", to, "error", err)
}

func (e *Emitter) run() {
	defer close(e.done)
	// One timer for the linger, reused: no allocation per batch.
	linger := time.NewTimer(e.linger)
	linger.Stop()
	for {
		e.waiting.Store(true)
		select {
		case b := <-e.queue:
			e.waiting.Store(false)
			e.pending = append(e.pending, b)
			e.fill()
			if len(e.pending) < maxBatch {
				// Linger a moment so that one system call carries many
				// datagrams: under load this saves a wake-up per segment.
				// A flush or a stop cuts the linger short: a Lambda
				// invocation waits for its flush before returning.
				select {
				case <-e.full: // a signal left from an earlier batch
				default:
				}
				linger.Reset(e.linger)
				e.waiting.Store(true)
				select {
				case <-linger.C:
				case <-e.full:
					// A whole batch is queued: no reason to wait longer.
					linger.Stop()
				case ack := <-e.flushes:
					linger.Stop()
					e.waiting.Store(false)
					e.drain()
					close(ack)
					continue
				case <-e.stop:
					linger.Stop()
					e.drain()
					return
				}
				e.waiting.Store(false)
				e.fill()
			}
			e.write()
		case ack := <-e.flushes:
			e.waiting.Store(false)
			e.drain()
			close(ack)
		case <-e.stop:
			e.drain()
			return
		}
	}
}

// fill takes queued datagrams without waiting, until the batch is full or
// the queue is empty.
func (e *Emitter) fill() {
	for len(e.pending) < maxBatch {
		select {
		case b := <-e.queue:
			e.pending = append(e.pending, b)
		default:
			return
		}
	}
}

func (e *Emitter) drain() {
	for {
		e.fill()
		if len(e.pending) == 0 {
			return
		}
		e.write()
	}
}

// write sends the pending datagrams and returns their buffers to the pool.
func (e *Emitter) write() {
	defer e.queued.Add(-int64(len(e.pending)))
	if e.gso != nil && len(e.pending) > 1 {
		sent, failed, err := e.gso.write(e.pending, e.logErr)
		e.datagrams.Add(uint64(sent))
		e.sendErrors.Add(uint64(failed))
		if err == nil {
			e.release()
			return
		}
		// Segmentation is not available: go on with sendmmsg, for good.
		// What was sent stays sent; the rest goes below.
		e.gso = nil
		e.pending = e.pending[sent+failed:]
	}
	n := len(e.pending)
	for i, b := range e.pending {
		e.msgs[i].Buffers[0] = *b
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
	for i := range e.pending {
		e.msgs[i].Buffers[0] = nil
	}
	e.release()
}

// release returns the pending buffers to the pool.
func (e *Emitter) release() {
	p := e.pending[:cap(e.pending)]
	for i, b := range p {
		if b != nil {
			e.putBuf(b)
			p[i] = nil
		}
	}
	e.pending = p[:0]
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

// getSegment returns a cleared Segment from the package's pool (the span
// processor's); putSegment gives it back.
func getSegment() *Segment {
	return segmentPool.Get().(*Segment)
}

// putSegment clears s and its subsegments and returns them to the pool.
func putSegment(s *Segment) {
	if s == nil {
		return
	}
	for _, sub := range s.Subsegments {
		putSegment(sub)
	}
	if cap(s.Annotations) > 64 || cap(s.Metadata) > 64 || cap(s.Subsegments) > 64 {
		return // let unusually large segments go to the garbage collector
	}
	s.Reset()
	segmentPool.Put(s)
}
