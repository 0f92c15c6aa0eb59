package emf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"
)

// AgentOption configures an AgentSink.
type AgentOption interface{ applyAgent(*agentConfig) }

type agentOptionFunc func(*agentConfig)

func (f agentOptionFunc) applyAgent(c *agentConfig) { f(c) }

type agentConfig struct {
	maxDocs, maxBytes        int
	minBackoff, maxBackoff   time.Duration
	dialTimeout, writeTimout time.Duration
	log                      *slog.Logger
}

// WithAgentBuffer bounds what the sink holds while the agent is slow or
// away: at most docs documents and bytes bytes (defaults 10,000 and 16 MiB).
// Documents that do not fit are dropped and counted in AgentStats.Dropped.
func WithAgentBuffer(docs, bytes int) AgentOption {
	return agentOptionFunc(func(c *agentConfig) { c.maxDocs, c.maxBytes = docs, bytes })
}

// WithAgentBackoff sets the wait between reconnection attempts, doubling
// from min up to max (defaults 100 ms and 10 s).
func WithAgentBackoff(min, max time.Duration) AgentOption {
	return agentOptionFunc(func(c *agentConfig) { c.minBackoff, c.maxBackoff = min, max })
}

// WithAgentLogger sets where the sink reports connection loss and drops,
// once per outage rather than per document (default: discarded).
func WithAgentLogger(l *slog.Logger) AgentOption {
	return agentOptionFunc(func(c *agentConfig) { c.log = l })
}

// AgentStats counts what an AgentSink did with the documents written to it.
// Documents written = Sent + Dropped + Queued.
type AgentStats struct {
	Sent       uint64 // handed to the socket
	Dropped    uint64 // refused: buffer full, too large for UDP, or still queued at Shutdown
	Queued     int    // waiting to be sent
	Reconnects uint64 // connections made after the first
	Errors     uint64 // failed dials and writes
	Connected  bool   // a connection is open and the agent has not closed it
}

// maxUDPDoc is the largest UDP payload over IPv4.
const maxUDPDoc = 65507

// AgentSink sends newline-delimited documents to the CloudWatch agent's EMF
// endpoint. WriteDocument never blocks on the network: it copies the
// document into a bounded queue that one background goroutine writes,
// reconnecting with backoff when the agent goes away and comes back. A
// connection closed by the agent is noticed at once (the sink watches the
// socket), but TCP gives no delivery receipt: a document written in the
// instant before the agent dies can be lost without an error. Over UDP
// every document is one datagram and loss is not detectable.
type AgentSink struct {
	network, addr string
	cfg           agentConfig
	ctx           context.Context
	cancel        context.CancelFunc
	kick          chan struct{}
	done          chan struct{}
	wg            sync.WaitGroup

	mu       sync.Mutex
	ring     [][]byte // queued documents, each ending in '\n'
	head, n  int
	bytes    int
	free     [][]byte
	closed   bool
	waiters  []waiter
	enq, deq uint64 // documents ever queued; ever taken off the queue
	stats    AgentStats
	dropping bool // a drop was logged and nothing was sent since
	down     bool // the last attempt to send failed

	conn      net.Conn // owned by the writer goroutine; guarded by mu for Shutdown
	dead      bool     // the watcher saw conn close
	connected bool     // a connection was made before
	onState   func(connected bool)
}

var _ Sink = (*AgentSink)(nil)

// waiter is a Flush waiting until deq reaches target.
type waiter struct {
	target uint64
	done   chan struct{}
}

// NewAgentSink returns a sink for endpoint, "tcp://host:port" or
// "udp://host:port", and starts its writer goroutine; call Shutdown to stop
// it. It does not connect until the first document.
func NewAgentSink(endpoint string, opts ...AgentOption) (*AgentSink, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("emf: agent endpoint %q: %w", endpoint, err)
	}
	if (u.Scheme != "tcp" && u.Scheme != "udp") || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("emf: agent endpoint %q: want tcp://host:port or udp://host:port", endpoint)
	}
	c := agentConfig{maxDocs: 10000, maxBytes: 16 << 20, minBackoff: 100 * time.Millisecond,
		maxBackoff: 10 * time.Second, dialTimeout: 5 * time.Second, writeTimout: 10 * time.Second}
	for _, o := range opts {
		o.applyAgent(&c)
	}
	if c.maxDocs < 1 || c.maxBytes < 1 || c.minBackoff <= 0 || c.maxBackoff < c.minBackoff {
		return nil, fmt.Errorf("emf: agent sink: buffer sizes and backoff must be positive")
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	s := &AgentSink{network: u.Scheme, addr: u.Host, cfg: c,
		kick: make(chan struct{}, 1), done: make(chan struct{}),
		ring: make([][]byte, c.maxDocs)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// WriteDocument queues a copy of doc. It returns ErrClosed after Shutdown;
// a document that does not fit the buffer is dropped and counted, and
// WriteDocument returns nil for it so callers never fail on a missing agent
// (Stats reports the loss).
func (s *AgentSink) WriteDocument(_ context.Context, doc []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	size := len(doc) + 1
	if s.network == "udp" && size > maxUDPDoc {
		s.stats.Dropped++
		s.mu.Unlock()
		s.cfg.log.Warn("emf: document too large for UDP, dropped", "bytes", size)
		return fmt.Errorf("%w: %d bytes over UDP (max %d)", ErrTooLarge, size, maxUDPDoc)
	}
	if s.n == len(s.ring) || s.bytes+size > s.cfg.maxBytes {
		s.stats.Dropped++
		first := !s.dropping
		s.dropping = true
		s.mu.Unlock()
		if first {
			s.cfg.log.Warn("emf: agent buffer full, dropping documents", "endpoint", s.network+"://"+s.addr)
		}
		return nil
	}
	var b []byte
	if k := len(s.free); k > 0 {
		b, s.free = s.free[k-1][:0], s.free[:k-1]
	}
	b = append(append(b, doc...), '\n')
	s.ring[(s.head+s.n)%len(s.ring)] = b
	s.n++
	s.enq++
	s.bytes += size
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

// MaxDocumentSize is the largest document the sink sends: one UDP datagram
// (with its newline) over UDP, no limit of its own (0) over TCP.
func (s *AgentSink) MaxDocumentSize() int {
	if s.network == "udp" {
		return maxUDPDoc - 1
	}
	return 0
}

// Stats returns the sink's counters.
func (s *AgentSink) Stats() AgentStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = s.n
	st.Connected = s.conn != nil && !s.dead && !s.closed
	return st
}

// Flush waits until every document queued before the call has been written
// to the agent, or ctx ends.
func (s *AgentSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	if s.n == 0 {
		s.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	s.waiters = append(s.waiters, waiter{target: s.enq, done: w})
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("emf: agent flush: %d documents not sent: %w", s.Stats().Queued, ctx.Err())
	}
}

// Shutdown refuses further documents, flushes until ctx ends, then stops the
// writer and closes the connection. Documents still queued are counted as
// dropped. Calling it again returns nil.
func (s *AgentSink) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.Flush(ctx)
	s.cancel()
	s.mu.Lock()
	if s.conn != nil {
		s.conn.Close() // unblocks a write in progress
	}
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("emf: agent sink did not stop: %w", ctx.Err()))
	}
	s.mu.Lock()
	s.stats.Dropped += uint64(s.n)
	s.deq += uint64(s.n)
	s.n, s.bytes = 0, 0
	s.wakeLocked()
	s.mu.Unlock()
	return err
}

// run is the writer goroutine: it owns the connection.
func (s *AgentSink) run() {
	defer close(s.done)
	defer s.wg.Wait()
	defer s.closeConn()
	backoff := s.cfg.minBackoff
	var batch []byte
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		}
		for {
			s.mu.Lock()
			if s.dead && s.conn != nil {
				s.mu.Unlock()
				s.closeConn()
				s.mu.Lock()
			}
			if s.n == 0 {
				s.wakeLocked()
				s.mu.Unlock()
				break
			}
			// Take up to 64 KiB (one document over UDP) from the head.
			k := 0
			batch = batch[:0]
			for k < s.n {
				d := s.ring[(s.head+k)%len(s.ring)]
				if k > 0 && (s.network == "udp" || len(batch)+len(d) > 64<<10) {
					break
				}
				batch = append(batch, d...)
				k++
			}
			conn := s.conn
			s.mu.Unlock()
			err := s.send(conn, batch)
			if err != nil {
				s.mu.Lock()
				s.stats.Errors++
				first := !s.down
				s.down = true
				s.mu.Unlock()
				if first { // once per outage, not per attempt
					s.cfg.log.Warn("emf: agent unreachable, buffering documents", "endpoint", s.network+"://"+s.addr, "error", err.Error())
				}
				t := time.NewTimer(backoff)
				select {
				case <-s.ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				backoff = min(backoff*2, s.cfg.maxBackoff)
				continue
			}
			backoff = s.cfg.minBackoff
			s.mu.Lock()
			k = min(k, s.n) // a timed-out Shutdown may have emptied the queue
			for range k {
				i := s.head % len(s.ring)
				s.bytes -= len(s.ring[i])
				if len(s.free) < 64 && cap(s.ring[i]) <= 64<<10 {
					s.free = append(s.free, s.ring[i])
				}
				s.ring[i] = nil
				s.head = (s.head + 1) % len(s.ring)
			}
			s.n -= k
			s.deq += uint64(k)
			s.wakeLocked()
			s.stats.Sent += uint64(k)
			wasDown, dropped := s.down, s.stats.Dropped
			s.dropping, s.down = false, false
			s.mu.Unlock()
			if wasDown {
				s.cfg.log.Info("emf: agent reachable again", "endpoint", s.network+"://"+s.addr, "dropped_total", dropped)
			}
		}
	}
}

// wakeLocked releases the Flush calls whose documents have all left the
// queue.
func (s *AgentSink) wakeLocked() {
	keep := s.waiters[:0]
	for _, w := range s.waiters {
		if s.deq >= w.target {
			close(w.done)
		} else {
			keep = append(keep, w)
		}
	}
	clear(s.waiters[len(keep):])
	s.waiters = keep
}

// send writes b, connecting first if needed. On error the connection is
// closed so the next attempt dials again.
func (s *AgentSink) send(conn net.Conn, b []byte) error {
	if conn == nil {
		d := net.Dialer{Timeout: s.cfg.dialTimeout}
		c, err := d.DialContext(s.ctx, s.network, s.addr)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.connected {
			s.stats.Reconnects++
		}
		s.connected, s.conn, s.dead, conn = true, c, false, c
		hook := s.onState
		s.mu.Unlock()
		if s.network == "tcp" {
			s.wg.Add(1)
			go s.watch(c)
		}
		if hook != nil {
			hook(true)
		}
	}
	_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.writeTimout))
	if _, err := conn.Write(b); err != nil {
		s.closeConn()
		return err
	}
	return nil
}

// watch reads from a TCP connection (the agent sends nothing) so that the
// agent closing it is seen at once rather than on a later, lost write.
func (s *AgentSink) watch(c net.Conn) {
	defer s.wg.Done()
	_, _ = io.Copy(io.Discard, c)
	s.mu.Lock()
	mine := s.conn == c && !s.closed // not our own Shutdown closing it
	first := false
	if mine {
		s.dead = true
		first, s.down = !s.down, true
	}
	hook := s.onState
	s.mu.Unlock()
	if first {
		s.cfg.log.Warn("emf: agent unreachable, buffering documents", "endpoint", s.network+"://"+s.addr, "error", "connection closed by the agent")
	}
	if mine && hook != nil {
		hook(false)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *AgentSink) closeConn() {
	s.mu.Lock()
	c := s.conn
	s.conn, s.dead = nil, false
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
}
