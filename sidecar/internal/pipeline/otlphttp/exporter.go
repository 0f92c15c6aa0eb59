package otlphttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/internal/sender"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// Errors of the Queue methods.
var (
	// ErrBudgetFull: the items do not fit in the memory budget without
	// dropping queued ones; nothing was queued.
	ErrBudgetFull = errors.New("otlphttp: memory budget full")
	// ErrStopped: Shutdown has begun; nothing was queued.
	ErrStopped = errors.New("otlphttp: exporter stopping")
)

// Drop reasons, counted as <Name>.dropped.<reason>.
const (
	DropBudgetFull = "budget_full" // AddSpans found the budget full
	DropShutdown   = "shutdown"    // left when Shutdown's context ended
	DropLimits     = "limits"      // broke the endpoint's Limits at intake
	DropRefused    = "refused"     // the endpoint answered a permanent error
)

// Exporter sends one signal to one OTLP/HTTP endpoint (see the package
// doc). Its methods are safe for concurrent use.
type Exporter struct {
	cfg    Config
	q      *queue.Queue[part]
	s      *sender.Sender[part]
	signer *v4.Signer

	received, sent, rejected *atomic.Uint64
	dropped                  map[string]*atomic.Uint64
	retried                  map[retry.Reason]*atomic.Uint64
	logEvery                 retry.Every
	rawSpans                 sync.Pool // *[]rawSpan for QueueTracesRaw, emptied
}

// New checks cfg and returns an unstarted Exporter.
func New(cfg Config) (*Exporter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, n := cfg.Counters, cfg.Name
	e := &Exporter{
		cfg:      cfg,
		received: c.Counter(n + ".received"),
		sent:     c.Counter(n + ".sent"),
		rejected: c.Counter(n + ".rejected_by_endpoint"),
		dropped:  status.Family(c, n+".dropped.", DropBudgetFull, DropShutdown, DropLimits, DropRefused),
		retried:  status.Family(c, n+".retried.", retry.Reasons...),
	}
	if cfg.Credentials != nil {
		e.signer = v4.NewSigner()
	}
	e.q = queue.New(cfg.Budget, func(en queue.Entry[part]) { e.dropped[DropBudgetFull].Add(uint64(en.Value.items)) })
	e.s = sender.New(e.q, sender.Config[part]{
		Name:    n,
		Workers: cfg.Workers, BatchSize: 64, FlushInterval: cfg.FlushInterval,
		RequestTimeout: cfg.RequestTimeout, Backoff: cfg.Backoff,
		NewSend: e.newSend,
		Left:    e.dropLeft,
	})
	return e, nil
}

// Start starts the workers. ctx is not retained.
func (e *Exporter) Start(context.Context) error { return e.s.Start() }

// Shutdown stops intake and sends what is queued until ctx ends. It is
// safe to call more than once; later calls return the first result.
func (e *Exporter) Shutdown(ctx context.Context) error { return e.s.Shutdown(ctx) }

// Queued returns the number of parts waiting.
func (e *Exporter) Queued() int { return e.q.Len() }

// QueueTraces queues the spans of req, all or none (for an OTLP client,
// which can be told to retry). Spans that break the Limits for good are
// left out and returned as rejected, with why. The error is ErrBudgetFull
// or ErrStopped, and then nothing was queued. req is encoded during the
// call and not kept.
func (e *Exporter) QueueTraces(req *coltracepb.ExportTraceServiceRequest) (rejected int64, why string, err error) {
	if e.cfg.Signal != Traces {
		return 0, "", fmt.Errorf("%s: exports %s, not traces", e.cfg.Name, e.cfg.Signal)
	}
	sp := e.splitter()
	sp.traces(req)
	return e.queueAll(sp)
}

// QueueTracesRaw is QueueTraces for the protobuf encoding of an
// ExportTraceServiceRequest: the requests it queues are built from req's
// own resource, scope and span bytes, not decoded and encoded again, and
// hold copies of them (req is not kept). A request that is not valid
// protobuf of that message (as proto.Unmarshal would refuse it) is
// refused whole with an error wrapping ErrMalformed.
func (e *Exporter) QueueTracesRaw(req []byte) (rejected int64, why string, err error) {
	if e.cfg.Signal != Traces {
		return 0, "", fmt.Errorf("%s: exports %s, not traces", e.cfg.Name, e.cfg.Signal)
	}
	sp := e.splitter()
	if p, ok := e.rawSpans.Get().(*[]rawSpan); ok {
		sp.rawSpans = *p
	}
	err = sp.rawTraces(req)
	if cap(sp.rawSpans) <= 8192 { // a large request's slice (over 384 KiB) is left to the GC
		e.rawSpans.Put(&sp.rawSpans)
	}
	if err != nil {
		return 0, "", err
	}
	return e.queueAll(sp)
}

// QueueLogs is QueueTraces for log records.
func (e *Exporter) QueueLogs(req *collogspb.ExportLogsServiceRequest) (rejected int64, why string, err error) {
	if e.cfg.Signal != Logs {
		return 0, "", fmt.Errorf("%s: exports %s, not logs", e.cfg.Name, e.cfg.Signal)
	}
	sp := e.splitter()
	sp.logs(req)
	return e.queueAll(sp)
}

// QueueMetrics is QueueTraces for metrics (each metric is kept whole).
func (e *Exporter) QueueMetrics(req *colmetricpb.ExportMetricsServiceRequest) (rejected int64, why string, err error) {
	if e.cfg.Signal != Metrics {
		return 0, "", fmt.Errorf("%s: exports %s, not metrics", e.cfg.Name, e.cfg.Signal)
	}
	sp := e.splitter()
	sp.metrics(req)
	return e.queueAll(sp)
}

// AddSpans queues spans of one resource from a sender that cannot be
// told to retry (X-Ray UDP): when the budget is full the oldest queued
// parts make room, or these are dropped, counted either way.
func (e *Exporter) AddSpans(res *resourcepb.Resource, spans []*tracepb.Span) {
	sp := e.splitter()
	sp.spans(res, "", &tracepb.ScopeSpans{Spans: spans})
	e.received.Add(uint64(sp.items) + uint64(sp.rejected))
	e.dropped[DropLimits].Add(uint64(sp.rejected))
	if !e.s.Enter() {
		e.dropped[DropShutdown].Add(uint64(sp.items))
		return
	}
	defer e.s.Exit()
	for _, p := range sp.parts {
		if !e.q.Push(p.Value, p.Size) {
			e.dropped[DropBudgetFull].Add(uint64(p.Value.items))
		}
	}
}

func (e *Exporter) splitter() *splitter {
	return &splitter{lim: e.cfg.Limits, now: e.cfg.Now()}
}

func (e *Exporter) queueAll(sp *splitter) (int64, string, error) {
	if !e.s.Enter() {
		return 0, "", ErrStopped
	}
	defer e.s.Exit()
	if len(sp.parts) > 0 && !e.q.PushAllOrNone(sp.parts) {
		return 0, "", ErrBudgetFull
	}
	e.received.Add(uint64(sp.items) + uint64(sp.rejected))
	e.dropped[DropLimits].Add(uint64(sp.rejected))
	return sp.rejected, sp.why, nil
}

// dropLeft counts what Shutdown could not send.
func (e *Exporter) dropLeft(left []queue.Entry[part]) {
	n := 0
	for _, p := range left {
		n += p.Value.items
	}
	e.dropped[DropShutdown].Add(uint64(n))
	e.cfg.Logger.Warn("OTLP items dropped at shutdown", "exporter", e.cfg.Name, "count", n)
}

// worker holds one worker's buffers.
type worker struct {
	raw bytes.Buffer
	gz  bytes.Buffer
	zw  *gzip.Writer
}

func (e *Exporter) newSend() func([]queue.Entry[part]) {
	w := &worker{}
	w.zw, _ = gzip.NewWriterLevel(&w.gz, gzip.BestSpeed) // a valid level: cannot fail
	return func(batch []queue.Entry[part]) { e.send(w, batch) }
}

// fit returns how many parts from the head of batch make one request
// within the limits (at least one).
func (e *Exporter) fit(batch []queue.Entry[part]) int {
	lim := e.cfg.Limits
	size, items := 0, 0
	var minT, maxT uint64
	for i, en := range batch {
		p := en.Value
		lo, hi := minT, maxT
		if p.minT != 0 {
			if lo == 0 || p.minT < lo {
				lo = p.minT
			}
			hi = max(hi, p.maxT)
		}
		if i > 0 && (size+framed(len(p.b)) > lim.MaxRequestBytes || items+p.items > lim.MaxItems ||
			(lim.MaxGap > 0 && lo != 0 && time.Duration(hi-lo) > lim.MaxGap)) {
			return i
		}
		size += framed(len(p.b))
		items += p.items
		minT, maxT = lo, hi
	}
	return len(batch)
}

// send sends the parts at the head of batch that fit in one request and
// puts the others back.
func (e *Exporter) send(w *worker, batch []queue.Entry[part]) {
	n := e.fit(batch)
	if n < len(batch) {
		e.q.PushFront(batch[n:])
		batch = batch[:n]
	}
	items := 0
	w.raw.Reset()
	for _, en := range batch {
		b := protowire.AppendTag(w.raw.AvailableBuffer(), 1, protowire.BytesType)
		b = protowire.AppendBytes(b, en.Value.b)
		w.raw.Write(b)
		items += en.Value.items
	}
	w.gz.Reset()
	w.zw.Reset(&w.gz)
	_, _ = w.zw.Write(w.raw.Bytes()) // writes to a bytes.Buffer cannot fail
	_ = w.zw.Close()

	ctx, cancel := e.s.RequestContext()
	defer cancel()
	status, body, retryAfter, err := e.post(ctx, w.gz.Bytes())
	switch {
	case err != nil:
		reason := retry.Network
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			reason = retry.Timeout
		case errors.Is(err, context.Canceled):
			reason = retry.Canceled
		}
		e.retried[reason].Add(uint64(items))
		e.logFailure("OTLP export failed; retrying", err, status, items)
		e.s.Retry(batch)
	case status >= 200 && status < 300:
		e.s.Succeeded()
		rejected, msg := partialSuccess(e.cfg.Signal, body)
		rejected = min(rejected, int64(items))
		e.rejected.Add(uint64(rejected))
		e.sent.Add(uint64(int64(items) - rejected))
		if rejected > 0 && e.logEvery.Allow(time.Now(), 10*time.Second) {
			e.cfg.Logger.Warn("OTLP endpoint rejected items", "exporter", e.cfg.Name, "rejected", rejected, "message", msg)
		}
		e.q.Release(batch)
	case retryableStatus(status):
		reason := retry.ServerError
		if status == http.StatusTooManyRequests {
			reason = retry.Throttled
		}
		e.retried[reason].Add(uint64(items))
		e.s.RetryAfter(batch, retryAfter)
	default:
		e.dropped[DropRefused].Add(uint64(items))
		e.logFailure("OTLP endpoint refused a request; dropped", errors.New(errorMessage(body)), status, items)
		e.q.Release(batch)
		e.s.Succeeded() // the endpoint answered: no reason to back off
	}
}

func (e *Exporter) logFailure(msg string, err error, status, items int) {
	if e.logEvery.Allow(time.Now(), 10*time.Second) {
		e.cfg.Logger.Error(msg, "exporter", e.cfg.Name, "endpoint", e.cfg.Endpoint, "status", status, "err", err, "items", items)
	}
}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 64 << 10

// post sends one gzip-compressed request and reads the answer.
func (e *Exporter) post(ctx context.Context, body []byte) (status int, answer []byte, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	for k, v := range e.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	if e.signer != nil {
		creds, err := e.cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("retrieving AWS credentials: %w", err)
		}
		sum := sha256.Sum256(body)
		if err := e.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), e.cfg.SigningName, e.cfg.Region, time.Now()); err != nil {
			return 0, nil, 0, err
		}
	}
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil, 0, err // the answer was cut: resend rather than guess
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer)) // let the connection be reused
	return resp.StatusCode, answer, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), nil
}

// retryableStatus: the OTLP/HTTP specification's retryable answers.
func retryableStatus(code int) bool {
	return slices.Contains([]int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}, code)
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent
// or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// partialSuccess reads the rejected count of a success answer (protobuf).
func partialSuccess(sig Signal, body []byte) (int64, string) {
	if len(body) == 0 {
		return 0, ""
	}
	switch sig {
	case Traces:
		var r coltracepb.ExportTraceServiceResponse
		if proto.Unmarshal(body, &r) == nil {
			return r.GetPartialSuccess().GetRejectedSpans(), r.GetPartialSuccess().GetErrorMessage()
		}
	case Logs:
		var r collogspb.ExportLogsServiceResponse
		if proto.Unmarshal(body, &r) == nil {
			return r.GetPartialSuccess().GetRejectedLogRecords(), r.GetPartialSuccess().GetErrorMessage()
		}
	case Metrics:
		var r colmetricpb.ExportMetricsServiceResponse
		if proto.Unmarshal(body, &r) == nil {
			return r.GetPartialSuccess().GetRejectedDataPoints(), r.GetPartialSuccess().GetErrorMessage()
		}
	}
	return 0, ""
}

// errorMessage is the message of a google.rpc.Status answer, or the
// answer's start.
func errorMessage(body []byte) string {
	var st spb.Status
	if proto.Unmarshal(body, &st) == nil && st.GetMessage() != "" {
		return st.GetMessage()
	}
	return string(body[:min(len(body), 256)])
}
