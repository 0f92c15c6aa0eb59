package metrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/internal/sender"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// PutMetricData limits.
const (
	MaxDatumsPerRequest = 1000
	MaxRequestBytes     = 900_000 // below the 1 MB limit, leaving room for estimate error
)

// Dimension is an extra dimension added to every metric (ECS metadata).
type Dimension struct{ Name, Value string }

// Config configures a Pipeline.
type Config struct {
	Client   API
	Budget   *queue.Budget
	Counters *status.Counters
	// FlushInterval for standard-resolution aggregates (default 60s).
	FlushInterval time.Duration
	// HighResFlushInterval for 1-second aggregates (default 1s).
	HighResFlushInterval time.Duration
	// MaxDistinctValues kept per aggregate before it becomes a statistic
	// set (default 1500, that is up to 10 datums of 150 values).
	MaxDistinctValues int
	// ExtraDimensions are added to every metric (when not already there).
	ExtraDimensions []Dimension
	Workers         int           // concurrent requests (default 2)
	RequestTimeout  time.Duration // default 10s
	Backoff         retry.Backoff // default retry.DefaultBackoff
	Logger          *slog.Logger
	// Now is the clock used to refuse timestamps CloudWatch would reject
	// (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	c.FlushInterval = cmp.Or(c.FlushInterval, 60*time.Second)
	c.HighResFlushInterval = cmp.Or(c.HighResFlushInterval, time.Second)
	c.MaxDistinctValues = cmp.Or(c.MaxDistinctValues, 1500)
	c.Workers = cmp.Or(c.Workers, 2)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, sender.DefaultRequestTimeout)
	c.Backoff = cmp.Or(c.Backoff, retry.DefaultBackoff)
	c.Logger = cmp.Or(c.Logger, sender.DiscardLogger)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	var errs []error
	if c.Client == nil || c.Budget == nil || c.Counters == nil {
		errs = append(errs, errors.New("metrics: Client, Budget and Counters are required"))
	}
	if c.FlushInterval <= 0 || c.HighResFlushInterval <= 0 || c.Workers < 1 || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("metrics: intervals, Workers and RequestTimeout must be positive"))
	}
	if c.MaxDistinctValues < 1 {
		errs = append(errs, errors.New("metrics: MaxDistinctValues must be positive"))
	}
	if len(c.ExtraDimensions) > emfdoc.MaxDimensions {
		errs = append(errs, fmt.Errorf("metrics: %d extra dimensions (at most %d)", len(c.ExtraDimensions), emfdoc.MaxDimensions))
	}
	for _, d := range c.ExtraDimensions {
		if !validDimensionName([]byte(d.Name)) || !validDimensionValue([]byte(d.Value)) {
			errs = append(errs, fmt.Errorf("metrics: extra dimension %q=%q breaks CloudWatch's rules (ASCII, not blank, no control characters, name not starting with ':')", d.Name, d.Value))
		}
	}
	return errors.Join(errs...)
}

type request struct {
	in     *cloudwatch.PutMetricDataInput
	datums int
}

// Pipeline aggregates EMF metrics and sends them to CloudWatch.
type Pipeline struct {
	cfg Config

	mu     sync.Mutex
	nowMs  int64 // the clock, read once per document under mu
	agg    map[string]*series
	keyBuf []byte
	dimIdx []int
	// ConsumePoints' buffers
	textBuf  []byte
	dimBuf   []emfdoc.Dim
	pointBuf emfdoc.Point

	q *queue.Queue[request]
	s *sender.Sender[request]

	docs, points, statSets, sentDatums, sentRequests, splits *atomic.Uint64
	pointsIn, refusedFull                                    *atomic.Uint64
	dropped                                                  map[string]*atomic.Uint64
	retried                                                  map[retry.Reason]*atomic.Uint64

	flushNow chan struct{}
	logEvery retry.Every // permanent-failure log lines, at most one per 10s
	dimLog   retry.Every // dimension drops, likewise
}

// New checks cfg and returns an unstarted Pipeline.
func New(cfg Config) (*Pipeline, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Counters
	p := &Pipeline{
		cfg:          cfg,
		agg:          map[string]*series{},
		docs:         c.Counter("metrics.documents"),
		points:       c.Counter("metrics.values_received"),
		statSets:     c.Counter("metrics.statistic_sets"),
		sentDatums:   c.Counter("metrics.datums_sent"),
		sentRequests: c.Counter("metrics.requests_sent"),
		splits:       c.Counter("metrics.split_requests"),
		pointsIn:     c.Counter("metrics.points_taken"),
		refusedFull:  c.Counter("metrics.refused_budget_full"),
		dropped: status.Family(c, "metrics.dropped.", "budget_full", "shutdown", "out_of_range", "timestamp_out_of_range",
			"reserved_namespace", string(retry.ClientError), badDimensionName, badDimensionValue, duplicateDim,
			invalidDatum),
		retried:  status.Family(c, "metrics.retried.", retry.Reasons...),
		flushNow: make(chan struct{}, 1),
	}
	p.q = queue.New(cfg.Budget, func(e queue.Entry[request]) { p.dropped["budget_full"].Add(uint64(e.Value.datums)) })
	p.s = sender.New(p.q, sender.Config[request]{
		Name:    "metrics",
		Workers: cfg.Workers, BatchSize: 1, // each entry is a whole request
		RequestTimeout: cfg.RequestTimeout, Backoff: cfg.Backoff,
		NewSend: func() func([]queue.Entry[request]) { return p.send },
		Flusher: p.flusher,
		Seal:    p.seal,
		Left:    p.dropLeft,
	})
	return p, nil
}

// ConsumeEMF aggregates the points of one EMF document, parsed at intake
// (it does not parse the line again). Points CloudWatch would refuse are
// dropped and counted; so are all of them, as metrics.dropped.shutdown,
// once Shutdown has begun.
func (p *Pipeline) ConsumeEMF(doc *emfdoc.Document) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Checked under p.mu: seal takes p.mu after intake stopped, so points
	// taken here are flushed by it.
	if p.s.Stopped() {
		p.dropped["shutdown"].Add(1)
		return
	}
	p.nowMs = p.cfg.Now().UnixMilli()
	for i := range doc.Points {
		p.add(p.emfPoint(&doc.Points[i]), nil, nil, nil)
	}
	p.docs.Add(1)
}

func (p *Pipeline) requestFlush() {
	select {
	case p.flushNow <- struct{}{}:
	default:
	}
}

// Flush moves every aggregate into the send queue now.
func (p *Pipeline) Flush() { p.flush(func(*series) bool { return true }) }

// flush takes the aggregates selected by pick, turns them into requests
// and queues them.
func (p *Pipeline) flush(pick func(*series) bool) {
	p.mu.Lock()
	var taken []*series
	for k, s := range p.agg {
		if pick(s) {
			taken = append(taken, s)
			delete(p.agg, k)
		}
	}
	p.mu.Unlock()
	if len(taken) == 0 {
		return
	}
	sort.Slice(taken, func(i, j int) bool { return taken[i].ns < taken[j].ns })
	var datums []types.MetricDatum
	for i := 0; i < len(taken); {
		ns := taken[i].ns
		datums = datums[:0]
		for ; i < len(taken) && taken[i].ns == ns; i++ {
			datums = taken[i].datums(datums)
			p.q.Unhold(taken[i].size)
		}
		p.enqueue(ns, datums)
	}
}

func (p *Pipeline) enqueue(ns string, datums []types.MetricDatum) {
	for len(datums) > 0 {
		size, n := len(ns)+64, 0
		for n < len(datums) && n < MaxDatumsPerRequest {
			ds := datumSize(&datums[n])
			if n > 0 && size+ds > MaxRequestBytes {
				break
			}
			size += ds
			n++
		}
		batch := make([]types.MetricDatum, n)
		copy(batch, datums[:n])
		req := request{in: &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: batch}, datums: n}
		if !p.q.Push(req, int64(size)) {
			p.dropped["budget_full"].Add(uint64(n))
		}
		datums = datums[n:]
	}
}

// Start starts the flusher and the senders. ctx is not retained.
func (p *Pipeline) Start(context.Context) error { return p.s.Start() }

func (p *Pipeline) flusher(stop <-chan struct{}) {
	tick := time.NewTicker(p.cfg.HighResFlushInterval)
	defer tick.Stop()
	std := time.NewTicker(p.cfg.FlushInterval)
	defer std.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			p.flush(func(s *series) bool { return *s.datum.StorageResolution == 1 })
		case <-std.C:
			p.flush(func(s *series) bool { return *s.datum.StorageResolution != 1 })
		case <-p.flushNow:
			p.Flush()
		}
	}
}

// Shutdown stops accepting, flushes every aggregate and sends what is
// queued, or gives up when ctx ends (counting what was left).
func (p *Pipeline) Shutdown(ctx context.Context) error { return p.s.Shutdown(ctx) }

// seal queues every aggregate once Shutdown stopped intake and the flusher.
func (p *Pipeline) seal() {
	// Wait for ConsumeEMF calls in progress: they hold p.mu.
	p.mu.Lock()
	//nolint:staticcheck // empty critical section is the point
	p.mu.Unlock()
	p.Flush()
}

// dropLeft counts what Shutdown could not send.
func (p *Pipeline) dropLeft(left []queue.Entry[request]) {
	total := 0
	for _, e := range left {
		total += e.Value.datums
	}
	p.dropped["shutdown"].Add(uint64(total))
	p.cfg.Logger.Warn("metric datums dropped at shutdown", "datums", total)
}

func (p *Pipeline) send(batch []queue.Entry[request]) {
	req := batch[0].Value
	ctx, cancel := p.s.RequestContext()
	_, err := p.cfg.Client.PutMetricData(ctx, req.in)
	cancel()
	if err == nil {
		p.s.Succeeded()
		p.sentDatums.Add(uint64(req.datums))
		p.sentRequests.Add(1)
		p.q.Release(batch)
		return
	}
	retryable, reason := retry.Classify(err)
	if !retryable && refusedAsInvalid(err) {
		p.s.Succeeded() // CloudWatch answered: no backoff
		p.bisect(batch[0], err)
		return
	}
	if !retryable {
		p.dropped[string(retry.ClientError)].Add(uint64(req.datums))
		p.q.Release(batch)
		if p.logEvery.Allow(time.Now(), 10*time.Second) {
			p.cfg.Logger.Error("PutMetricData failed permanently; request dropped", "err", err, "datums", req.datums)
		}
		return
	}
	p.retried[reason].Add(1)
	p.s.Retry(batch)
}

// Drop reasons of a request CloudWatch refused as invalid (400
// InvalidParameterValue and the like: one bad datum fails all of them).
const (
	// invalidDatum: a datum CloudWatch refused on its own, isolated by
	// bisection.
	invalidDatum = "invalid_datum"
)

// refusedAsInvalid reports whether err is CloudWatch refusing the
// request's content, which splitting it can isolate.
func refusedAsInvalid(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "InvalidParameterValue", "InvalidParameterCombination", "MissingParameter",
		"InvalidParameterValueException", "InvalidParameterCombinationException", "MissingRequiredParameterException":
		return true
	}
	return false
}

// bisect handles a request CloudWatch refused as invalid: a single datum
// is dropped and counted; a larger request is split in two halves that go
// back to the head of the queue, each keeping part of the budget
// reservation. Good datums in the same request are thus always delivered,
// at a cost of about 2*ceil(log2 n) extra requests per refused datum and
// never more than 2(n-1) for a request of n datums: the cost stays linear
// in what was sent, and no good datum is given up to bound it.
func (p *Pipeline) bisect(e queue.Entry[request], err error) {
	req := e.Value
	n := len(req.in.MetricData)
	if n == 1 {
		p.dropped[invalidDatum].Add(uint64(req.datums))
		p.q.Release([]queue.Entry[request]{e})
		if p.logEvery.Allow(time.Now(), 10*time.Second) {
			p.cfg.Logger.Error("PutMetricData refused datums as invalid; dropped", "err", err, "datums", req.datums, "reason", invalidDatum)
		}
		return
	}
	p.splits.Add(2)
	half := n / 2
	size1 := e.Size * int64(half) / int64(n)
	part := func(data []types.MetricDatum, size int64) queue.Entry[request] {
		in := *req.in
		in.MetricData = data
		return queue.Entry[request]{Value: request{in: &in, datums: len(data)}, Size: size}
	}
	p.q.PushFront([]queue.Entry[request]{
		part(req.in.MetricData[:half:half], size1),
		part(req.in.MetricData[half:], e.Size-size1),
	})
}
