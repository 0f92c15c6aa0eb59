package segments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/internal/sender"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// MaxBatch is PutTraceSegments' limit on documents per request.
const MaxBatch = 50

// Config configures a Pipeline.
type Config struct {
	Client   API
	Budget   *queue.Budget
	Counters *status.Counters
	// BatchSize is the documents per request, 1..50 (default 50).
	BatchSize int
	// FlushInterval sends a partial batch when it is this old (default 200ms).
	FlushInterval time.Duration
	// Workers is the number of concurrent requests (default 4).
	Workers int
	// RequestTimeout bounds each request (default 10s).
	RequestTimeout time.Duration
	// Backoff for retries (default retry.DefaultBackoff).
	Backoff retry.Backoff
	// ECS, when set, is added to segments as aws.ecs members (see
	// segment.AppendWithECS).
	ECS    []byte
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	c.BatchSize = cmp.Or(c.BatchSize, MaxBatch)
	c.FlushInterval = cmp.Or(c.FlushInterval, 200*time.Millisecond)
	c.Workers = cmp.Or(c.Workers, 4)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, sender.DefaultRequestTimeout)
	c.Backoff = cmp.Or(c.Backoff, retry.DefaultBackoff)
	c.Logger = cmp.Or(c.Logger, sender.DiscardLogger)
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("segments: Client is required"))
	}
	if c.Budget == nil || c.Counters == nil {
		errs = append(errs, errors.New("segments: Budget and Counters are required"))
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatch {
		errs = append(errs, fmt.Errorf("segments: BatchSize %d not in 1..%d", c.BatchSize, MaxBatch))
	}
	if c.Workers < 1 || c.FlushInterval <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("segments: Workers, FlushInterval and RequestTimeout must be positive"))
	}
	return errors.Join(errs...)
}

type item struct {
	doc string
	id  [16]byte
}

// Pipeline sends segments to X-Ray.
type Pipeline struct {
	cfg Config
	q   *queue.Queue[item]
	s   *sender.Sender[item]

	received, sent, bytesIn *atomic.Uint64
	dropped                 map[string]*atomic.Uint64
	retried                 map[retry.Reason]*atomic.Uint64

	bufPool  sync.Pool
	logEvery retry.Every // permanent-failure log lines, at most one per 10s
}

// New checks cfg and returns an unstarted Pipeline.
func New(cfg Config) (*Pipeline, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Counters
	p := &Pipeline{
		cfg:      cfg,
		received: c.Counter("segments.received"),
		sent:     c.Counter("segments.sent"),
		bytesIn:  c.Counter("segments.received_bytes"),
		dropped:  status.Family(c, "segments.dropped.", "budget_full", "shutdown", "rejected_by_xray", string(retry.ClientError)),
		retried:  status.Family(c, "segments.retried.", slices.Concat(retry.Reasons, []retry.Reason{"unprocessed"})...),
	}
	p.q = queue.New(cfg.Budget, func(queue.Entry[item]) { p.dropped["budget_full"].Add(1) })
	p.s = sender.New(p.q, sender.Config[item]{
		Name:    "segments",
		Workers: cfg.Workers, BatchSize: cfg.BatchSize, FlushInterval: cfg.FlushInterval,
		RequestTimeout: cfg.RequestTimeout, Backoff: cfg.Backoff,
		NewSend: p.newSend,
		Left:    p.dropLeft,
	})
	p.bufPool.New = func() any { b := make([]byte, 0, 4096); return &b }
	return p, nil
}

// entrySize is what a queued document of n bytes holds on the heap, as
// TestBudgetCoversQueuedHeap measures it: its copy, which the allocator
// rounds up to a size class (up to an eighth more), and its 40-byte slot
// in the queue's slice, which grows ahead of use (so twice that), with a
// little to spare. Charging only n and 64 bytes left 2-12 % of the heap
// uncounted.
func entrySize(n int) int64 { return int64(n + n/8 + 96) }

// ConsumeSegment queues one document that passed xraydoc.Check (info is
// its result). doc is copied; it is only read during the call.
func (p *Pipeline) ConsumeSegment(doc []byte, info xraydoc.Info) {
	p.received.Add(1)
	p.bytesIn.Add(uint64(len(doc)))
	if !p.s.Enter() {
		p.dropped["shutdown"].Add(1)
		return
	}
	defer p.s.Exit()
	var it item
	copy(it.id[:], info.ID)
	if len(p.cfg.ECS) > 0 {
		bp := p.bufPool.Get().(*[]byte)
		*bp = xraydoc.AppendWithECS((*bp)[:0], doc, info, p.cfg.ECS)
		it.doc = string(*bp)
		p.bufPool.Put(bp)
	} else {
		it.doc = string(doc)
	}
	if !p.q.Push(it, entrySize(len(it.doc))) {
		p.dropped["budget_full"].Add(1)
	}
}

// Errors of QueueSegments.
var (
	// ErrBudgetFull: the documents do not fit in the memory budget
	// without dropping queued segments.
	ErrBudgetFull = errors.New("segments: memory budget full")
	// ErrStopped: Shutdown has begun.
	ErrStopped = errors.New("segments: pipeline stopping")
)

// QueueSegments queues documents that passed xraydoc.Check (infos[i] is
// the result for docs[i]) all together or not at all. Like ConsumeSegment
// it copies them and adds the ECS metadata; unlike it, it never drops
// queued segments to make room: when the budget cannot hold them it
// queues nothing and returns ErrBudgetFull, for a sender that can be told
// to retry later (OTLP). After Shutdown began it returns ErrStopped. Only
// queued documents are counted as received.
func (p *Pipeline) QueueSegments(docs [][]byte, infos []xraydoc.Info) error {
	if len(docs) != len(infos) {
		return fmt.Errorf("segments: %d documents and %d infos", len(docs), len(infos))
	}
	if !p.s.Enter() {
		return ErrStopped
	}
	defer p.s.Exit()
	es := make([]queue.Entry[item], len(docs))
	var n int
	for i, doc := range docs {
		var it item
		copy(it.id[:], infos[i].ID)
		if len(p.cfg.ECS) > 0 {
			bp := p.bufPool.Get().(*[]byte)
			*bp = xraydoc.AppendWithECS((*bp)[:0], doc, infos[i], p.cfg.ECS)
			it.doc = string(*bp)
			p.bufPool.Put(bp)
		} else {
			it.doc = string(doc)
		}
		es[i] = queue.Entry[item]{Value: it, Size: entrySize(len(it.doc))}
		n += len(doc)
	}
	if !p.q.PushAllOrNone(es) {
		return ErrBudgetFull
	}
	p.received.Add(uint64(len(docs)))
	p.bytesIn.Add(uint64(n))
	return nil
}

// HasRoom reports whether documents taking about size bytes queued (as
// entrySize counts them) would fit in the budget now without dropping
// queued segments: the budget has that much free, or the queue is within
// its share counting them (QueueSegments may then take room back from
// queues over theirs). It is a hint for refusing work before doing it,
// such as decoding an OTLP request; QueueSegments still decides, all or
// none. So that an estimate cannot refuse a request for ever, size is
// counted as at most a quarter of the budget.
func (p *Pipeline) HasRoom(size int64) bool {
	b := p.cfg.Budget
	size = min(size, b.Limit()/4)
	return b.Limit()-b.Used() >= size || p.q.Charged()+size <= b.Share()
}

// Queued returns the number of segments waiting.
func (p *Pipeline) Queued() int { return p.q.Len() }

// Start starts the workers. ctx is not retained.
func (p *Pipeline) Start(context.Context) error { return p.s.Start() }

// Shutdown drains the queue (see the package contract). It is safe to call
// more than once; later calls return the first result.
func (p *Pipeline) Shutdown(ctx context.Context) error { return p.s.Shutdown(ctx) }

// dropLeft counts what Shutdown could not send.
func (p *Pipeline) dropLeft(left []queue.Entry[item]) {
	p.dropped["shutdown"].Add(uint64(len(left)))
	p.cfg.Logger.Warn("segments dropped at shutdown", "count", len(left))
}

// newSend returns one worker's send, with its own buffer for the request.
func (p *Pipeline) newSend() func([]queue.Entry[item]) {
	docs := make([]string, 0, p.cfg.BatchSize)
	return func(batch []queue.Entry[item]) { docs = p.send(batch, docs) }
}

// send sends one batch and decides what happens to each document.
func (p *Pipeline) send(batch []queue.Entry[item], docs []string) []string {
	docs = docs[:0]
	for _, e := range batch {
		docs = append(docs, e.Value.doc)
	}
	ctx, cancel := p.s.RequestContext()
	out, err := p.cfg.Client.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
	cancel()
	clear(docs)
	if err != nil {
		retryable, reason := retry.Classify(err)
		if !retryable {
			p.dropped[string(retry.ClientError)].Add(uint64(len(batch)))
			p.q.Release(batch)
			if p.logEvery.Allow(time.Now(), 10*time.Second) {
				p.cfg.Logger.Error("PutTraceSegments failed permanently; batch dropped", "err", err, "segments", len(batch))
			}
			return docs
		}
		p.retried[reason].Add(uint64(len(batch)))
		p.s.Retry(batch)
		return docs
	}
	p.s.Succeeded()
	if len(out.UnprocessedTraceSegments) == 0 {
		p.sent.Add(uint64(len(batch)))
		p.q.Release(batch)
		return docs
	}
	// Some documents were not processed: retry the retryable ones.
	var again, done []queue.Entry[item]
	for _, e := range batch {
		code, unprocessed := unprocessedCode(out, e.Value.id[:])
		switch {
		case !unprocessed:
			done = append(done, e)
			p.sent.Add(1)
		case retryableCode(code):
			again = append(again, e)
			p.retried["unprocessed"].Add(1)
		default:
			done = append(done, e)
			p.dropped["rejected_by_xray"].Add(1)
		}
	}
	p.q.Release(done)
	if len(again) > 0 {
		p.s.Retry(again)
	}
	return docs
}

func unprocessedCode(out *xray.PutTraceSegmentsOutput, id []byte) (string, bool) {
	for _, u := range out.UnprocessedTraceSegments {
		if aws.ToString(u.Id) == string(id) {
			return aws.ToString(u.ErrorCode), true
		}
	}
	return "", false
}

func retryableCode(code string) bool {
	return retry.IsThrottleCode(code) || strings.Contains(code, "Internal") ||
		strings.Contains(code, "Unavailable") || strings.HasPrefix(code, "5")
}
