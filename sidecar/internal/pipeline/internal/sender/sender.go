package sender

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
)

// DefaultRequestTimeout is every pipeline's default bound on one request.
const DefaultRequestTimeout = 10 * time.Second

// DiscardLogger is every pipeline's default Logger: it writes nothing.
var DiscardLogger = slog.New(slog.DiscardHandler)

// Config configures a Sender. The pipeline validates the numbers; New
// expects them positive (FlushInterval may be zero).
type Config[T any] struct {
	// Name starts the Sender's errors ("segments: already started").
	Name string
	// Workers is the number of goroutines sending at the same time.
	Workers int
	// BatchSize is the most entries one send gets. A worker sends as soon
	// as that many are queued; 1 suits queues of ready-made requests.
	BatchSize int
	// FlushInterval, when positive, also sends a partial batch on every
	// tick of that interval; when zero a partial batch waits for more
	// entries or for Shutdown.
	FlushInterval time.Duration
	// RequestTimeout bounds the contexts from RequestContext.
	RequestTimeout time.Duration
	// Backoff spaces requests after consecutive failures (see Retry).
	Backoff retry.Backoff
	// NewSend is called once per worker, in Start, for the function that
	// worker sends its batches with (so it may keep scratch buffers of its
	// own). The function must Release every entry it gets or put it back
	// in the queue (Retry, or PushFront to send it again at once); the
	// batch slice is reused once it returns.
	NewSend func() func(batch []queue.Entry[T])
	// Flusher, when set, runs in a goroutine of its own from Start until
	// stop is closed by Shutdown (for a pipeline that queues its data on a
	// timer).
	Flusher func(stop <-chan struct{})
	// Seal, when set, is called by Shutdown after intake stopped and the
	// Flusher returned, to queue whatever the pipeline still holds.
	Seal func()
	// Left is called by Shutdown, once and only when something is left,
	// with the entries still queued after the workers stopped. They are
	// already released; Left counts them and logs.
	Left func(left []queue.Entry[T])
}

// Sender runs the workers of one pipeline's queue. Its methods are safe
// for concurrent use, except Start, which is called once before Shutdown.
type Sender[T any] struct {
	cfg Config[T]
	q   *queue.Queue[T]

	stopAccept atomic.Bool
	gate       sync.RWMutex  // read-held by intake between Enter and Exit
	stopFlush  chan struct{} // closed by Shutdown to stop the Flusher
	draining   chan struct{} // closed by Shutdown once everything is queued
	hardStop   chan struct{} // closed when Shutdown's ctx ends
	runCtx     context.Context
	cancel     context.CancelFunc
	workers    sync.WaitGroup
	flusher    sync.WaitGroup
	failures   atomic.Int32 // consecutive failed requests, for backoff
	started    bool
	shutOnce   sync.Once
	shutErr    error
}

// New returns an unstarted Sender for q. It sets q to signal once per
// BatchSize entries, so a busy producer does not wake a worker for every
// entry; partial batches go out on the flush tick.
func New[T any](q *queue.Queue[T], cfg Config[T]) *Sender[T] {
	s := &Sender[T]{
		cfg:       cfg,
		q:         q,
		stopFlush: make(chan struct{}),
		draining:  make(chan struct{}),
		hardStop:  make(chan struct{}),
	}
	q.SignalEvery(cfg.BatchSize)
	s.runCtx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Start starts the Flusher and the workers.
func (s *Sender[T]) Start() error {
	if s.started {
		return fmt.Errorf("%s: already started", s.cfg.Name)
	}
	s.started = true
	if s.cfg.Flusher != nil {
		s.flusher.Go(func() { s.cfg.Flusher(s.stopFlush) })
	}
	for range s.cfg.Workers {
		send := s.cfg.NewSend()
		s.workers.Go(func() { s.work(send) })
	}
	return nil
}

// Stopped reports whether Shutdown has begun; the pipeline then drops new
// data, counting it as dropped at shutdown.
func (s *Sender[T]) Stopped() bool { return s.stopAccept.Load() }

// Enter admits one call of intake. It reports false once Shutdown has
// begun (the caller then drops what it has, counted). After true, the
// caller queues or holds what it has and then calls Exit; Shutdown waits
// for every admitted call to Exit before it seals and drains, so data
// admitted just before Shutdown is sent (or counted as left) rather than
// queued after the workers have gone. An admitted call must not block and
// must not call Enter again.
func (s *Sender[T]) Enter() bool {
	s.gate.RLock()
	if s.stopAccept.Load() {
		s.gate.RUnlock()
		return false
	}
	return true
}

// Exit ends a call admitted by Enter.
func (s *Sender[T]) Exit() { s.gate.RUnlock() }

// RequestContext returns the context for one request: it ends after
// RequestTimeout, or when Shutdown gives up waiting.
func (s *Sender[T]) RequestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.runCtx, s.cfg.RequestTimeout)
}

// Succeeded records a request that got an answer, so the next failure
// backs off from the start again.
func (s *Sender[T]) Succeeded() { s.failures.Store(0) }

// Retry puts entries a send could not deliver back at the head of the
// queue and waits the backoff for one more consecutive failure (less if
// Shutdown gives up meanwhile).
func (s *Sender[T]) Retry(es []queue.Entry[T]) {
	s.q.PushFront(es)
	n := s.failures.Add(1)
	retry.Sleep(s.cfg.Backoff.Delay(int(n)), s.hardStop)
}

// RetryAfter is Retry for an answer that said when to come back (an HTTP
// Retry-After): it waits the longer of the backoff and after, but no more
// than MaxRetryAfter, and less if Shutdown gives up meanwhile.
func (s *Sender[T]) RetryAfter(es []queue.Entry[T], after time.Duration) {
	s.q.PushFront(es)
	n := s.failures.Add(1)
	retry.Sleep(max(s.cfg.Backoff.Delay(int(n)), min(after, MaxRetryAfter)), s.hardStop)
}

// MaxRetryAfter caps the wait RetryAfter honours, so that one answer
// asking for an hour cannot stall a pipeline for that long.
const MaxRetryAfter = time.Minute

// Shutdown stops intake (Stopped reports true, Enter false) once the
// calls already admitted have returned, stops the Flusher, calls
// Seal, and lets the workers send everything queued, retries included.
// It returns when the queue is empty or ctx ends; in that case it cancels
// the requests in flight, stops the workers and returns an error. Entries
// still queued then are released and passed to Left. It is safe to call
// more than once; later calls return the first result.
func (s *Sender[T]) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		s.gate.Lock() // waits for admitted intake to finish queueing
		s.stopAccept.Store(true)
		s.gate.Unlock()
		close(s.stopFlush)
		s.flusher.Wait()
		if s.cfg.Seal != nil {
			s.cfg.Seal()
		}
		close(s.draining) // everything is queued now: workers drain and exit
		done := make(chan struct{})
		go func() { s.workers.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			close(s.hardStop)
			s.cancel()
			<-done
			s.shutErr = fmt.Errorf("%s: shutdown: %w", s.cfg.Name, ctx.Err())
		}
		s.cancel()
		if n := s.q.Len(); n > 0 {
			left := s.q.Pop(nil, n)
			s.q.Release(left)
			s.cfg.Left(left)
		}
	})
	return s.shutErr
}

// work is one worker: it sends a batch when BatchSize entries are queued,
// on the flush tick when some are, and while draining until the queue is
// empty; it returns then, or at once on a hard stop.
func (s *Sender[T]) work(send func([]queue.Entry[T])) {
	var flushTick <-chan time.Time // nil without a FlushInterval: never ticks
	if s.cfg.FlushInterval > 0 {
		tick := time.NewTicker(s.cfg.FlushInterval)
		defer tick.Stop()
		flushTick = tick.C
	}
	size := s.cfg.BatchSize
	batch := make([]queue.Entry[T], 0, size)
	flush := false
	for {
		if closed(s.hardStop) {
			return
		}
		draining := closed(s.draining)
		if n := s.q.Len(); n >= size || (n > 0 && (flush || draining)) {
			batch = s.q.Pop(batch[:0], size)
			if len(batch) > 0 {
				send(batch)
				continue
			}
		}
		flush = false
		if draining && s.q.Len() == 0 {
			return
		}
		select {
		case <-s.hardStop:
			return
		case <-s.q.Signal():
		case <-flushTick:
			flush = true
		case <-s.drainingIfOpen(draining):
		}
	}
}

// drainingIfOpen returns the draining channel until it is closed, then nil
// (so a draining worker does not spin on it).
func (s *Sender[T]) drainingIfOpen(draining bool) <-chan struct{} {
	if draining {
		return nil
	}
	return s.draining
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
