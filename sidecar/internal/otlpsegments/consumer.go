package otlpsegments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/internal/xrayotel"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/otlp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// Sink takes the X-Ray documents of one OTLP request.
type Sink interface {
	// AddSegments takes docs, where infos[i] is xraydoc.Check's result
	// for docs[i]; both are only valid during the call. It returns how
	// many documents it dropped for good (they are reported to the client
	// as rejected), or an error that refuses them all, with none kept:
	// one wrapping otlp.ErrBudgetFull or otlp.ErrShuttingDown. It must
	// not block on the network.
	AddSegments(docs [][]byte, infos []xraydoc.Info) (dropped int, err error)
}

// Reasons a span is not delivered, counted as otlp.untranslated.<reason>.
const (
	ReasonTraceID  = "bad_trace_id"  // xrayotel.ErrTraceID
	ReasonSpanID   = "bad_span_id"   // xrayotel.ErrSpanID
	ReasonParentID = "bad_parent_id" // xrayotel.ErrParentID
	ReasonTooLarge = "too_large"     // xrayotel.ErrTooLarge
	ReasonCheck    = "check_failed"  // the document would fail xraydoc.Check (see checkable)
	ReasonOther    = "other"         // any other translation error
)

// Reasons lists the otlp.untranslated reasons.
var Reasons = []string{ReasonTraceID, ReasonSpanID, ReasonParentID, ReasonTooLarge, ReasonCheck, ReasonOther}

// Messages for the signals this consumer does not take: the app routes
// OTLP metrics and logs to their own consumers (otlpmetrics, otlplogs) and
// leaves them here only in the modes that cannot send them.
const (
	MetricsUnsupported = "this sidecar takes OTLP metrics only when it sends metrics with PutMetricData (it runs with -emf-to-logs); send EMF (CloudWatch embedded metric format) to its EMF port (TCP or UDP 25888), or disable the metrics exporter"
	LogsUnsupported    = "this sidecar does not take OTLP logs in local mode; write logs to stdout, or disable the logs exporter"
)

// Config configures a Consumer.
type Config struct {
	// Translator turns spans into documents (default: xrayotel.New(nil)).
	Translator *xrayotel.Translator
	Sink       Sink
	Counters   *status.Counters
	Logger     *slog.Logger
}

// Consumer implements otlp.Consumer (see the package doc).
type Consumer struct {
	tr           *xrayotel.Translator
	sink         Sink
	log          *slog.Logger
	untranslated map[string]*atomic.Uint64
	dataPoints   *atomic.Uint64
	logRecords   *atomic.Uint64
	free         chan *scratch // see getScratch
	batches      chan *otlpspans.Batch
}

var (
	_ otlp.Consumer     = (*Consumer)(nil)
	_ otlp.SpanConsumer = (*Consumer)(nil)
)

// New checks cfg and returns a Consumer.
func New(cfg Config) (*Consumer, error) {
	if cfg.Sink == nil || cfg.Counters == nil {
		return nil, errors.New("otlpsegments: Sink and Counters are required")
	}
	if cfg.Translator == nil {
		tr, err := xrayotel.New(nil)
		if err != nil {
			return nil, err
		}
		cfg.Translator = tr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{
		tr: cfg.Translator, sink: cfg.Sink, log: cfg.Logger,
		untranslated: status.Family(cfg.Counters, "otlp.untranslated.", Reasons...),
		dataPoints:   cfg.Counters.Counter("otlp.unsupported.data_points"),
		logRecords:   cfg.Counters.Counter("otlp.unsupported.log_records"),
		free:         make(chan *scratch, freeScratch),
		batches:      make(chan *otlpspans.Batch, freeScratch),
	}, nil
}

// errNoStart: see checkable.
var errNoStart = errors.New("span has no start time (under 1 µs after 1970), which X-Ray refuses")

// checkable refuses the spans whose document xraydoc.Check, and X-Ray,
// would refuse although the translator writes it: those starting within
// the first microsecond of 1970 (start_time 0; an end before the start
// is written as the start). FuzzTranslationPassesCheck finds any other.
func checkable(sp *otlpspans.Span) error {
	if sp.StartTimeUnixNano < 1000 {
		return errNoStart
	}
	return nil
}

func reason(err error) string {
	switch {
	case errors.Is(err, errNoStart):
		return ReasonCheck
	case errors.Is(err, xrayotel.ErrTraceID):
		return ReasonTraceID
	case errors.Is(err, xrayotel.ErrSpanID):
		return ReasonSpanID
	case errors.Is(err, xrayotel.ErrParentID):
		return ReasonParentID
	case errors.Is(err, xrayotel.ErrTooLarge):
		return ReasonTooLarge
	}
	return ReasonOther
}

// scratch holds one request's documents while they are checked and
// handed to the Sink, which copies what it keeps (Sink.AddSegments); it is
// reused from request to request, so that a steady stream of requests
// does not allocate, grow and free a buffer the size of each request's
// documents (under load that was the sidecar's largest CPU cost, with the
// runtime handing the freed blocks back to the OS).
type scratch struct {
	buf   []byte
	ends  []int
	lays  []xrayotel.Layout
	docs  [][]byte
	infos []xraydoc.Info
}

// Reused scratch space: at most freeScratch buffers are kept between
// requests, none larger than maxScratchBytes (a 512-span request, the
// OpenTelemetry SDKs' default batch, needs 0.2–1 MB), so what the sidecar
// holds idle stays small and known; a request that finds none free, or
// outgrows the bound, uses its own buffer.
const (
	freeScratch     = 4
	maxScratchBytes = 1 << 20
)

func (c *Consumer) getScratch() *scratch {
	select {
	case s := <-c.free:
		return s
	default:
		return new(scratch)
	}
}

// getBatch and putBatch keep ConsumeTraces' Batches like scratch space.
func (c *Consumer) getBatch() *otlpspans.Batch {
	select {
	case b := <-c.batches:
		return b
	default:
		return new(otlpspans.Batch)
	}
}

func (c *Consumer) putBatch(b *otlpspans.Batch) {
	b.Reset()
	if b.Bytes() > maxScratchBytes {
		return
	}
	select {
	case c.batches <- b:
	default:
	}
}

func (c *Consumer) putScratch(s *scratch) {
	if cap(s.buf) > maxScratchBytes {
		return
	}
	clear(s.docs)
	clear(s.infos)
	s.buf, s.ends, s.lays, s.docs, s.infos = s.buf[:0], s.ends[:0], s.lays[:0], s.docs[:0], s.infos[:0]
	select {
	case c.free <- s:
	default:
	}
}

// ConsumeTraces is ConsumeSpans for a request in the generated types.
func (c *Consumer) ConsumeTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (int64, string, error) {
	b := c.getBatch()
	defer c.putBatch(b)
	b.FromProto(req.GetResourceSpans())
	return c.ConsumeSpans(ctx, b)
}

// ConsumeSpans translates every span and hands the documents to the
// Sink together (otlp.SpanConsumer). The documents are not parsed again:
// the translator says where their parts are (xrayotel.Layout), which
// gives the xraydoc.Info the UDP receiver's check would
// (FuzzTranslationPassesCheck holds the two together).
func (c *Consumer) ConsumeSpans(_ context.Context, b *otlpspans.Batch) (int64, string, error) {
	s := c.getScratch()
	defer c.putScratch(s)
	buf, ends, lays := s.buf, s.ends, s.lays
	var rejected int64
	total := int64(len(b.Spans))
	var first error
	for i := range b.Spans {
		start := len(buf)
		out, lay, err := buf, xrayotel.Layout{}, checkable(&b.Spans[i])
		if err == nil {
			out, lay, err = c.tr.AppendSpan(buf, b, i)
		}
		if err != nil {
			c.untranslated[reason(err)].Add(1)
			rejected++
			first = cmp.Or(first, err)
			buf = buf[:start]
			continue
		}
		buf = out
		ends, lays = append(ends, len(buf)), append(lays, lay)
	}
	s.buf, s.ends, s.lays = buf, ends, lays
	docs, infos := s.docs, s.infos
	start := 0
	for i, end := range ends {
		doc := buf[start:end:end]
		start = end
		docs, infos = append(docs, doc), append(infos, layoutInfo(doc, lays[i]))
	}
	s.docs, s.infos = docs, infos
	var msg string
	if rejected > 0 {
		msg = fmt.Sprintf("%d of %d spans could not be turned into X-Ray segments; first: %v", rejected, total, first)
		c.log.Debug("OTLP spans rejected", "rejected", rejected, "spans", total, "first", first)
	}
	if len(docs) == 0 {
		return rejected, msg, nil
	}
	dropped, err := c.sink.AddSegments(docs, infos)
	if err != nil {
		return 0, "", err
	}
	if dropped > 0 {
		rejected += int64(dropped)
		d := fmt.Sprintf("%d spans dropped: the sidecar's view of them is full", dropped)
		if msg == "" {
			msg = d
		} else {
			msg += "; " + d
		}
	}
	return rejected, msg, nil
}

// ConsumeMetrics refuses metrics as invalid (see MetricsUnsupported).
func (c *Consumer) ConsumeMetrics(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (int64, string, error) {
	var n uint64
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				n += uint64(dataPoints(m))
			}
		}
	}
	c.dataPoints.Add(n)
	return 0, "", otlp.Invalid(errors.New(MetricsUnsupported))
}

// ConsumeLogs refuses logs as invalid (see LogsUnsupported).
func (c *Consumer) ConsumeLogs(_ context.Context, req *collogspb.ExportLogsServiceRequest) (int64, string, error) {
	var n uint64
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += uint64(len(sl.GetLogRecords()))
		}
	}
	c.logRecords.Add(n)
	return 0, "", otlp.Invalid(errors.New(LogsUnsupported))
}

func dataPoints(m *metricspb.Metric) int {
	return len(m.GetGauge().GetDataPoints()) + len(m.GetSum().GetDataPoints()) +
		len(m.GetHistogram().GetDataPoints()) + len(m.GetExponentialHistogram().GetDataPoints()) +
		len(m.GetSummary().GetDataPoints())
}

// queuedPerWireByte is how many bytes of queued documents (as the
// segments pipeline counts them: document, allocator rounding and queue
// slot) a span takes per byte of its protobuf: 3.5 for the load test's
// spans (121,017 bytes of protobuf for 512 spans become 330 KB of
// documents, 425 KB counted), rounded up.
const queuedPerWireByte = 4

// QueuedEstimate estimates the bytes the documents of an OTLP traces
// request of wireBytes bytes of protobuf (decompressed) take once queued,
// for deciding before decoding whether there is room for them.
func QueuedEstimate(wireBytes int64) int64 { return queuedPerWireByte * wireBytes }

// layoutInfo is xraydoc.Check's Info for a document the translator wrote,
// from where it says the parts are.
func layoutInfo(doc []byte, lay xrayotel.Layout) xraydoc.Info {
	info := xraydoc.Info{Subsegment: lay.Subsegment, ID: doc[lay.ID : lay.ID+16 : lay.ID+16]}
	if lay.AWS[1] > 0 {
		info.AWS = doc[lay.AWS[0]:lay.AWS[1]:lay.AWS[1]]
	}
	if lay.ECS[1] > 0 {
		info.HasECS = true
		info.ECS = doc[lay.ECS[0]:lay.ECS[1]:lay.ECS[1]]
	}
	return info
}
