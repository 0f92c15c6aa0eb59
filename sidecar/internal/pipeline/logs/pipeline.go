package logs

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/internal/sender"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// PutLogEvents limits.
const (
	MaxEvents      = 10000
	MaxBatchBytes  = 1_048_576
	EventOverhead  = 26
	maxBatchSpanMs = 24 * 3600 * 1000
)

// Config configures a Pipeline.
type Config struct {
	Client   API
	Budget   *queue.Budget
	Counters *status.Counters
	// DefaultLogGroup and DefaultLogStream are used when a document does
	// not name them.
	DefaultLogGroup, DefaultLogStream string
	FlushInterval                     time.Duration // default 5s
	Workers                           int           // default 2
	RequestTimeout                    time.Duration // default 10s
	Backoff                           retry.Backoff
	Logger                            *slog.Logger
}

func (c *Config) setDefaults() {
	c.FlushInterval = cmp.Or(c.FlushInterval, 5*time.Second)
	c.Workers = cmp.Or(c.Workers, 2)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, sender.DefaultRequestTimeout)
	c.Backoff = cmp.Or(c.Backoff, retry.DefaultBackoff)
	c.Logger = cmp.Or(c.Logger, sender.DiscardLogger)
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	var errs []error
	if c.Client == nil || c.Budget == nil || c.Counters == nil {
		errs = append(errs, errors.New("logs: Client, Budget and Counters are required"))
	}
	if c.DefaultLogGroup == "" || c.DefaultLogStream == "" {
		errs = append(errs, errors.New("logs: DefaultLogGroup and DefaultLogStream are required"))
	}
	if c.FlushInterval <= 0 || c.Workers < 1 || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("logs: FlushInterval, Workers and RequestTimeout must be positive"))
	}
	return errors.Join(errs...)
}

type target struct{ group, stream string }

type event struct {
	ts  int64
	msg string
}

type pending struct {
	events []event
	bytes  int
	since  time.Time
}

type batch struct {
	target
	events  []types.InputLogEvent
	created bool // group/stream creation already tried for this batch
}

// Pipeline forwards EMF documents to CloudWatch Logs.
type Pipeline struct {
	cfg Config

	mu      sync.Mutex
	pending map[target]*pending
	held    int64 // budget bytes held by pending events

	q *queue.Queue[batch]
	s *sender.Sender[batch]

	docs, sent, requests, created *atomic.Uint64
	dropped                       map[string]*atomic.Uint64
	retried                       map[retry.Reason]*atomic.Uint64

	logEvery retry.Every // permanent-failure log lines, at most one per 10s
}

// New checks cfg and returns an unstarted Pipeline.
func New(cfg Config) (*Pipeline, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Counters
	p := &Pipeline{cfg: cfg, pending: map[target]*pending{},
		docs:     c.Counter("logs.events_received"),
		sent:     c.Counter("logs.events_sent"),
		requests: c.Counter("logs.requests_sent"),
		created:  c.Counter("logs.streams_created"),
		dropped:  status.Family(c, "logs.dropped.", "budget_full", "shutdown", "too_large", "rejected_by_logs", string(retry.ClientError)),
		retried:  status.Family(c, "logs.retried.", retry.Reasons...),
	}
	p.q = queue.New(cfg.Budget, func(e queue.Entry[batch]) { p.dropped["budget_full"].Add(uint64(len(e.Value.events))) })
	p.s = sender.New(p.q, sender.Config[batch]{
		Name:    "logs",
		Workers: cfg.Workers, BatchSize: 1, // each entry is a whole request
		RequestTimeout: cfg.RequestTimeout, Backoff: cfg.Backoff,
		NewSend: func() func([]queue.Entry[batch]) { return p.send },
		Flusher: p.flusher,
		Seal:    p.Flush,
		Left:    p.dropLeft,
	})
	return p, nil
}

// ConsumeEMF queues one EMF document, parsed at intake, as a log event:
// its line (doc.Raw) at its timestamp, to its log group and stream.
func (p *Pipeline) ConsumeEMF(d *emfdoc.Document) {
	if !p.s.Enter() {
		p.dropped["shutdown"].Add(1)
		return
	}
	defer p.s.Exit()
	doc := d.Raw
	tg := target{group: cmp.Or(d.LogGroup, p.cfg.DefaultLogGroup), stream: cmp.Or(d.LogStream, p.cfg.DefaultLogStream)}
	size := len(doc) + EventOverhead
	if size > MaxBatchBytes {
		p.dropped["too_large"].Add(1)
		return
	}
	p.docs.Add(1)
	if !p.q.Hold(int64(size)) {
		p.dropped["budget_full"].Add(1)
		return
	}
	p.add(tg, event{ts: d.TimestampMs, msg: string(doc)}, size)
}

// add puts one event, whose size is already held in the budget, in its
// target's pending batch, sealing the batch first when the event would
// not fit.
func (p *Pipeline) add(tg target, ev event, size int) {
	var sealed *pending
	var sealedTarget target
	p.mu.Lock()
	p.held += int64(size)
	pd := p.pending[tg]
	if pd != nil && (len(pd.events) >= MaxEvents || pd.bytes+size > MaxBatchBytes) {
		sealed, sealedTarget = pd, tg
		pd = nil
		delete(p.pending, tg)
	}
	if pd == nil {
		pd = &pending{since: time.Now()}
		p.pending[tg] = pd
	}
	pd.events = append(pd.events, ev)
	pd.bytes += size
	if sealed != nil {
		p.held -= int64(sealed.bytes)
	}
	p.mu.Unlock()
	if sealed != nil {
		p.seal(sealedTarget, sealed)
	}
}

// Event is one log event for QueueEvents.
type Event struct {
	TimestampMs int64
	Message     string
}

// Errors of QueueEvents.
var (
	// ErrBudgetFull: the events do not fit in the memory budget; none
	// was queued.
	ErrBudgetFull = errors.New("logs: memory budget full")
	// ErrStopped: Shutdown has begun; none was queued.
	ErrStopped = errors.New("logs: pipeline stopping")
)

// QueueEvents queues events for group and stream (the defaults when
// empty) all together or not at all, for a sender that can be told to
// retry (OTLP): when the budget cannot hold them it queues nothing and
// returns ErrBudgetFull. An event over PutLogEvents' size limit is left
// out and counted in tooLarge. The messages are kept (not copied).
func (p *Pipeline) QueueEvents(group, stream string, events []Event) (tooLarge int, err error) {
	if !p.s.Enter() {
		return 0, ErrStopped
	}
	defer p.s.Exit()
	tg := target{group: cmp.Or(group, p.cfg.DefaultLogGroup), stream: cmp.Or(stream, p.cfg.DefaultLogStream)}
	total := 0
	for _, e := range events {
		if size := len(e.Message) + EventOverhead; size <= MaxBatchBytes {
			total += size
		} else {
			tooLarge++
		}
	}
	if !p.q.Hold(int64(total)) {
		return 0, ErrBudgetFull
	}
	p.docs.Add(uint64(len(events) - tooLarge))
	p.dropped["too_large"].Add(uint64(tooLarge))
	for _, e := range events {
		if size := len(e.Message) + EventOverhead; size <= MaxBatchBytes {
			p.add(tg, event{ts: e.TimestampMs, msg: e.Message}, size)
		}
	}
	return tooLarge, nil
}

// seal turns pending events into sorted batches (splitting at 24 hours)
// and queues them, moving their bytes from the pending hold into the queue.
func (p *Pipeline) seal(tg target, pd *pending) {
	p.q.Unhold(int64(pd.bytes))
	sort.SliceStable(pd.events, func(i, j int) bool { return pd.events[i].ts < pd.events[j].ts })
	evs := pd.events
	for len(evs) > 0 {
		n, size := 0, 0
		for n < len(evs) && evs[n].ts-evs[0].ts <= maxBatchSpanMs {
			size += len(evs[n].msg) + EventOverhead
			n++
		}
		b := batch{target: tg, events: make([]types.InputLogEvent, n)}
		for i := range n {
			b.events[i] = types.InputLogEvent{Timestamp: aws.Int64(evs[i].ts), Message: aws.String(evs[i].msg)}
		}
		if !p.q.Push(b, int64(size)) {
			p.dropped["budget_full"].Add(uint64(n))
		}
		evs = evs[n:]
	}
}

// Flush seals every pending batch now.
func (p *Pipeline) Flush() { p.flush(time.Time{}) }

// flush seals batches started before cutoff (all when cutoff is zero).
func (p *Pipeline) flush(cutoff time.Time) {
	type sealed struct {
		tg target
		pd *pending
	}
	var out []sealed
	p.mu.Lock()
	for tg, pd := range p.pending {
		if cutoff.IsZero() || pd.since.Before(cutoff) {
			out = append(out, sealed{tg, pd})
			delete(p.pending, tg)
			p.held -= int64(pd.bytes)
		}
	}
	p.mu.Unlock()
	for _, s := range out {
		p.seal(s.tg, s.pd)
	}
}

// Start starts the flusher and the senders. ctx is not retained.
func (p *Pipeline) Start(context.Context) error { return p.s.Start() }

// flusher seals, every half FlushInterval, the batches at least
// FlushInterval old.
func (p *Pipeline) flusher(stop <-chan struct{}) {
	tick := time.NewTicker(p.cfg.FlushInterval / 2)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			p.flush(now.Add(-p.cfg.FlushInterval))
		}
	}
}

// Shutdown seals everything and sends it within ctx.
func (p *Pipeline) Shutdown(ctx context.Context) error { return p.s.Shutdown(ctx) }

// dropLeft counts what Shutdown could not send.
func (p *Pipeline) dropLeft(left []queue.Entry[batch]) {
	total := 0
	for _, e := range left {
		total += len(e.Value.events)
	}
	p.dropped["shutdown"].Add(uint64(total))
	p.cfg.Logger.Warn("log events dropped at shutdown", "events", total)
}

func (p *Pipeline) send(one []queue.Entry[batch]) {
	b := &one[0].Value
	ctx, cancel := p.s.RequestContext()
	defer cancel()
	out, err := p.cfg.Client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String(b.group), LogStreamName: aws.String(b.stream), LogEvents: b.events})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) && !b.created {
		b.created = true
		if cerr := p.create(ctx, b.target); cerr == nil {
			p.created.Add(1)
			p.q.PushFront(one) // send again right away
			return
		} else {
			err = cerr
		}
	}
	if err == nil {
		p.s.Succeeded()
		n := len(b.events)
		if info := out.RejectedLogEventsInfo; info != nil {
			rej := rejectedCount(info, n)
			p.dropped["rejected_by_logs"].Add(uint64(rej))
			n -= rej
		}
		p.sent.Add(uint64(n))
		p.requests.Add(1)
		p.q.Release(one)
		return
	}
	retryable, reason := retry.Classify(err)
	if !retryable {
		p.dropped[string(retry.ClientError)].Add(uint64(len(b.events)))
		p.q.Release(one)
		if p.logEvery.Allow(time.Now(), 10*time.Second) {
			p.cfg.Logger.Error("PutLogEvents failed permanently; batch dropped", "err", err, "events", len(b.events), "log_group", b.group)
		}
		return
	}
	p.retried[reason].Add(1)
	p.s.Retry(one)
}

func (p *Pipeline) create(ctx context.Context, tg target) error {
	_, err := p.cfg.Client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(tg.group)})
	var exists *types.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return err
	}
	_, err = p.cfg.Client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(tg.group), LogStreamName: aws.String(tg.stream)})
	if err != nil && !errors.As(err, &exists) {
		return err
	}
	return nil
}

// rejectedCount counts the events CloudWatch Logs reported as rejected.
func rejectedCount(info *types.RejectedLogEventsInfo, n int) int {
	rej := 0
	if i := info.TooOldLogEventEndIndex; i != nil {
		rej = max(rej, int(*i))
	}
	if i := info.ExpiredLogEventEndIndex; i != nil {
		rej = max(rej, int(*i))
	}
	if i := info.TooNewLogEventStartIndex; i != nil {
		rej += n - int(*i)
	}
	return min(rej, n)
}
