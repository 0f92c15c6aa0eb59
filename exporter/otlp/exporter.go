package otlp

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// Stats counts what an Exporter did with the segments it was given.
// Segment counts and span counts are kept apart: one segment holds its
// subsegments as further spans.
type Stats struct {
	Segments       uint64 // segments encoded and queued
	Spans          uint64 // spans queued
	Exported       uint64 // spans the collector accepted
	Requests       uint64 // export requests sent (retries included)
	Retries        uint64 // requests sent again after a retryable answer
	DroppedFull    uint64 // spans dropped because the queue was full
	DroppedClosed  uint64 // segments given to ExportSegment after Shutdown
	DroppedInvalid uint64 // segments the X-Ray → OTLP rules cannot translate
	DroppedSend    uint64 // spans lost: refused, or retries given up
	Rejected       uint64 // spans the collector answered it rejected (partial success)
	BadMetadata    uint64 // metadata values that were not JSON, left out of their span
}

// Dropped is the number of spans or segments lost for any reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedFull + s.DroppedClosed + s.DroppedInvalid + s.DroppedSend + s.Rejected
}

// Exporter sends segments to an OpenTelemetry collector (the Sidelight
// sidecar, the ADOT collector, any OTLP/HTTP receiver) as OTLP/HTTP
// protobuf. ExportSegment encodes on the caller's goroutine into a pooled
// buffer and appends the spans to a queue bounded by memory; full batches
// are sent at once, up to 16 requests in flight, on worker goroutines
// that end when nothing waits, and a timer goroutine, started by the
// first export, sends partial batches. Create one with New, share it, and
// call Shutdown when done; it is safe for concurrent use.
type Exporter struct {
	cfg       config
	rc        *resourceCache
	client    *http.Client
	ownClient bool
	scope     []byte // the ScopeSpans.scope field

	mu sync.Mutex
	// The queue: ExportSegment appends records (resource, spans, span
	// count) to the open batch; a batch holding maxBatch spans (or
	// maxRequestBytes) is sealed and joins ready, which workers take
	// in order, at most maxInFlight at once.
	open        *batch
	ready       []*batch
	inFlight    []*batch
	free        []*batch // sent batches kept for reuse, at most queueBytes/4 of them
	freeBytes   int      // their capacity
	batchCap    int      // the capacity a new batch gets
	slots       []*slot  // request buffers of workers that ended
	queuedSpans int      // spans in open and ready
	heldBytes   int      // encoded bytes in open, ready and in flight
	nextSeq     uint64   // the next sealed batch's number
	waiters     []*flushWaiter
	started     bool
	closed      bool
	isClosed    atomic.Bool
	workers     sync.WaitGroup

	stop   chan struct{} // stops the batch timer's goroutine
	done   chan struct{} // closed when that goroutine has ended
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once

	segments, spans, exported, requests, retries            atomic.Uint64
	droppedFull, droppedClosed, droppedInvalid, droppedSend atomic.Uint64
	rejected, badMetadata                                   atomic.Uint64
	logAt                                                   atomic.Int64 // when a drop was last logged
}

// dropLogInterval is how often at most the request path logs a drop.
const dropLogInterval = 10 * time.Second

// logDrop logs a dropped segment, at most once per dropLogInterval; the
// counts are in Stats.
func (x *Exporter) logDrop(reason string, err error) {
	now := time.Now().UnixNano()
	last := x.logAt.Load()
	if now-last < int64(dropLogInterval) || !x.logAt.CompareAndSwap(last, now) {
		return
	}
	x.cfg.logger.Warn("otlp: segment dropped (further drops are counted in Stats, logged at most every 10 s)",
		"reason", reason, "error", err)
}

// New returns an exporter configured by opts over the OpenTelemetry
// environment variables (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS,
// _TIMEOUT, _COMPRESSION, _PROTOCOL, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES). It starts nothing and dials nothing: the
// sender starts with the first exported segment. A setting it cannot use
// (a protocol other than http/protobuf, a malformed endpoint or header
// list) is an error.
func New(opts ...Option) (*Exporter, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	x := &Exporter{
		cfg:     cfg,
		rc:      newResourceCache(cfg.resource),
		client:  cfg.client,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		nextSeq: 1,
	}
	if x.client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = maxInFlight
		x.client = &http.Client{Transport: t}
		x.ownClient = true
	}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	var start int
	x.scope, start = openLen(nil, fScopeSpansScope)
	x.scope = appendString(x.scope, fScopeName, cfg.scopeName)
	if cfg.scopeVersion != "" {
		x.scope = appendString(x.scope, fScopeVersion, cfg.scopeVersion)
	}
	x.scope = closeLen(x.scope, start)
	return x, nil
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// maxPooledEncoder is the largest encoder buffer kept for reuse.
const maxPooledEncoder = 256 << 10

// ExportSegment encodes seg (with its subsegments) as OTLP spans and
// queues them for the sender. It reads seg only during the call: the caller
// keeps ownership and may reuse seg once it returns. It never waits on the
// network; when the queue is full, after Shutdown, or when seg cannot be
// translated (a zero trace or span ID, for example), the segment is
// dropped and counted in Stats.
func (x *Exporter) ExportSegment(seg *xray.Segment) {
	if seg == nil {
		return
	}
	if x.isClosed.Load() {
		x.droppedClosed.Add(1)
		return
	}
	enc := encoders.Get().(*encoder)
	defer putEncoder(enc)
	err := enc.encode(seg, x.rc)
	if enc.badMD > 0 {
		x.badMetadata.Add(uint64(enc.badMD))
	}
	if err != nil {
		x.droppedInvalid.Add(1)
		x.logDrop("cannot be translated", err)
		return
	}
	n := enc.nspans
	size := len(enc.res) + len(enc.spans) + 3*binaryVarintMax

	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		x.droppedClosed.Add(1)
		return
	}
	if (x.cfg.queueSize > 0 && x.queuedSpans+n > x.cfg.queueSize) || x.heldBytes+size > x.cfg.queueBytes {
		x.mu.Unlock()
		x.droppedFull.Add(uint64(n))
		x.logDrop("queue full", nil)
		return
	}
	b := x.open
	if b == nil {
		b = x.newBatchLocked()
		x.open = b
	}
	b.buf = protowire.AppendBytes(b.buf, enc.res)
	b.buf = protowire.AppendBytes(b.buf, enc.spans)
	b.buf = protowire.AppendVarint(b.buf, uint64(n))
	b.spans += n
	b.bytes += size
	x.queuedSpans += n
	x.heldBytes += size
	waiting := false
	if b.spans >= x.cfg.maxBatch || len(b.buf) >= maxRequestBytes {
		x.sealLocked()
		x.dispatchLocked()
		waiting = len(x.ready) > 0
	}
	if !x.started {
		x.started = true
		go x.run()
	}
	x.mu.Unlock()
	if waiting {
		// Every request slot is busy and a sealed batch waits: the senders
		// are short of a processor. With GOMAXPROCS 1 a caller that never
		// blocks would let them run only when the scheduler preempts it,
		// and the queue would fill and drop; yield once per batch sealed
		// (runtime.Gosched waits for nothing).
		yield()
	}

	x.segments.Add(1)
	x.spans.Add(uint64(n))
}

const binaryVarintMax = 10

// yield is runtime.Gosched, replaced in tests to count the yields.
var yield = runtime.Gosched

// maxRequestBytes bounds a request's body whatever the batch size, below
// the 4 MiB many collectors take at most.
const maxRequestBytes = 3 << 20

func putEncoder(e *encoder) {
	if cap(e.spans)+cap(e.res)+cap(e.json.strs)+cap(e.keys) > maxPooledEncoder {
		return
	}
	encoders.Put(e)
}

// ForceFlush sends every span queued so far and waits until the collector
// has answered, or ctx is done. It returns the error of a failed request,
// or ctx's error.
func (x *Exporter) ForceFlush(ctx context.Context) error {
	x.mu.Lock()
	if !x.started {
		x.mu.Unlock()
		return nil
	}
	w := x.flushLocked()
	x.mu.Unlock()
	if w == nil {
		return nil
	}
	select {
	case <-w.ch:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops taking segments, sends what is queued and stops the
// sender, within ctx: when ctx ends first, requests still in flight are
// abandoned and batches not yet sent are dropped (their spans counted in
// DroppedSend), and ctx's error is returned. Later calls do nothing and
// return nil.
func (x *Exporter) Shutdown(ctx context.Context) error {
	var err error
	x.once.Do(func() {
		x.mu.Lock()
		x.closed = true
		x.isClosed.Store(true)
		started := x.started
		var w *flushWaiter
		if started {
			w = x.flushLocked()
		}
		x.mu.Unlock()
		if started {
			close(x.stop)
			<-x.done
			if w != nil {
				select {
				case <-w.ch:
				case <-ctx.Done():
					x.cancel() // in-flight requests and retry waits end at once
					err = ctx.Err()
				}
			}
			x.workers.Wait()
		}
		x.cancel()
		if x.ownClient {
			x.client.CloseIdleConnections()
		}
	})
	return err
}

// Stats returns the exporter's counters so far.
func (x *Exporter) Stats() Stats {
	return Stats{
		Segments:       x.segments.Load(),
		Spans:          x.spans.Load(),
		Exported:       x.exported.Load(),
		Requests:       x.requests.Load(),
		Retries:        x.retries.Load(),
		DroppedFull:    x.droppedFull.Load(),
		DroppedClosed:  x.droppedClosed.Load(),
		DroppedInvalid: x.droppedInvalid.Load(),
		DroppedSend:    x.droppedSend.Load(),
		Rejected:       x.rejected.Load(),
		BadMetadata:    x.badMetadata.Load(),
	}
}
