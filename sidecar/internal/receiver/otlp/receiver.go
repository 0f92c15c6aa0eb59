package otlp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// Reason is why a request was refused: the last element of its counter,
// otlp.refused.<reason>.
type Reason string

// Reasons for refusing a request.
const (
	ReasonBadHost       Reason = "bad_host"          // HTTP 403: Host header not allowed
	ReasonNotFound      Reason = "not_found"         // HTTP 404: not an OTLP path
	ReasonBadMethod     Reason = "bad_method"        // HTTP 405: not POST
	ReasonMediaType     Reason = "unsupported_media" // HTTP 415: content type or encoding
	ReasonTooLarge      Reason = "too_large"         // HTTP 413: body over MaxRequestBytes
	ReasonMalformed     Reason = "malformed"         // 400 / INVALID_ARGUMENT: cannot be decoded
	ReasonReadError     Reason = "read_error"        // the client stopped sending the body
	ReasonDecodeMemory  Reason = "decode_memory"     // 429 / RESOURCE_EXHAUSTED: DecodeMemory full
	ReasonBudgetFull    Reason = "budget_full"       // 429 / RESOURCE_EXHAUSTED: Consumer's budget full, or Config.Budget's
	ReasonShuttingDown  Reason = "shutting_down"     // 503 / UNAVAILABLE
	ReasonInvalid       Reason = "invalid"           // 400 / INVALID_ARGUMENT from the Consumer
	ReasonConsumerError Reason = "consumer_error"    // 503 / UNAVAILABLE: unclassified Consumer error
)

// Reasons lists every Reason, for counter families.
var Reasons = []Reason{ReasonBadHost, ReasonNotFound, ReasonBadMethod, ReasonMediaType,
	ReasonTooLarge, ReasonMalformed, ReasonReadError, ReasonDecodeMemory, ReasonBudgetFull,
	ReasonShuttingDown, ReasonInvalid, ReasonConsumerError}

// Receiver receives OTLP over HTTP and gRPC (see the package contract).
type Receiver struct {
	cfg   Config
	dec   decoder
	spans SpanConsumer // Consumer as a SpanConsumer, or nil
	// batches are reused otlpspans Batches (see getBatch).
	batches chan *otlpspans.Batch
	// bodies are reused request bodies (Config.ReuseTraceBodies; see
	// getBody).
	bodies chan []byte
	budget *queue.Budget
	// noMemory is the reason counted when budget is full: decode_memory
	// for the receiver's own, budget_full for Config.Budget (the
	// sidecar's, full of its queues).
	noMemory Reason
	// estimates carries each gRPC request's decoded-size estimate from
	// the codec to the handler.
	estimates sync.Map

	httpLn, grpcLn net.Listener
	httpSrv        *http.Server
	grpcSrv        *grpc.Server
	baseCtx        context.Context // parent of HTTP request contexts
	cancelBase     context.CancelFunc
	wg             sync.WaitGroup // Serve loops

	// HTTP handlers in flight: net/http's Close does not wait for them.
	handlersMu   sync.Mutex
	handlersOff  bool
	handlers     sync.WaitGroup
	started      atomic.Bool
	closing      atomic.Bool
	shutdownOnce sync.Once
	shutdownErr  error

	requests map[string]*atomic.Uint64 // by transport: http, grpc
	refused  map[Reason]*atomic.Uint64
	received [3]*atomic.Uint64 // items handed to the Consumer, by signal
	accepted [3]*atomic.Uint64 // items acknowledged
	rejected [3]*atomic.Uint64 // items the Consumer rejected (partial success)
}

// New applies defaults, checks cfg and returns an unstarted Receiver.
func New(cfg Config) (*Receiver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Counters
	noMemory := ReasonBudgetFull
	if cfg.Budget == nil {
		noMemory = ReasonDecodeMemory
		cfg.Budget = queue.NewBudget(cfg.DecodeMemory)
	} else {
		cfg.DecodeMemory = min(cfg.DecodeMemory, cfg.Budget.Limit())
	}
	r := &Receiver{
		cfg:      cfg,
		dec:      newDecoder(cfg.RecursionLimit),
		budget:   cfg.Budget,
		noMemory: noMemory,
		batches:  make(chan *otlpspans.Batch, freeBatches),
		bodies:   make(chan []byte, freeBatches),
		requests: status.Family(c, "otlp.requests.", "http", "grpc"),
		refused:  status.Family(c, "otlp.refused.", Reasons...),
	}
	for s := sigTraces; s <= sigLogs; s++ {
		r.received[s] = c.Counter("otlp.received." + s.items())
		r.accepted[s] = c.Counter("otlp.accepted." + s.items())
		r.rejected[s] = c.Counter("otlp.rejected." + s.items())
	}
	r.spans, _ = cfg.Consumer.(SpanConsumer)
	r.baseCtx, r.cancelBase = context.WithCancel(context.Background())
	return r, nil
}

// Reused Batches: at most freeBatches are kept between requests, none
// holding more than maxBatchBytes (a 512-span request with five
// attributes a span needs about 0.25 MB), so that a steady stream of
// requests decodes without allocating and what stays held idle, outside
// the budget, is small (4 MiB at most).
const (
	freeBatches   = 4
	maxBatchBytes = 1 << 20
)

func (r *Receiver) getBatch() *otlpspans.Batch {
	select {
	case b := <-r.batches:
		return b
	default:
		return new(otlpspans.Batch)
	}
}

func (r *Receiver) putBatch(b *otlpspans.Batch) {
	b.Reset()
	if b.Bytes() > maxBatchBytes {
		return
	}
	select {
	case r.batches <- b:
	default:
	}
}

// maxBodyBytes is the largest request body kept for reuse: the load
// test's 512-span requests take 121 KB, and at most freeBatches bodies
// (1 MiB) stay held idle, outside the budget.
const maxBodyBytes = 256 << 10

// getBody returns a body buffer to read a traces request into, or nil.
func (r *Receiver) getBody() []byte {
	select {
	case b := <-r.bodies:
		return b
	default:
		return nil
	}
}

// putBody keeps the buffer a request was read into (body, which is start
// or grew out of it; nil after an error) for the next request. Only call
// it once nothing points into body any more.
func (r *Receiver) putBody(body, start []byte) {
	b := body
	if cap(body) == 0 || (cap(start) > 0 && &body[:1][0] == &start[:1][0]) {
		b = start // read into start: keep its whole capacity
	}
	if cap(b) == 0 || cap(b) > maxBodyBytes {
		return
	}
	select {
	case r.bodies <- b[:0]:
	default:
	}
}

// Start binds the enabled listeners and starts serving them. It returns
// an error, with nothing left running, when a listener cannot be bound.
// Start may be called once.
func (r *Receiver) Start(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("otlp receiver: already started")
	}
	if r.closing.Load() {
		return errors.New("otlp receiver: shut down")
	}
	lc := net.ListenConfig{}
	if r.cfg.HTTPAddr != "off" {
		ln, err := lc.Listen(ctx, "tcp", r.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("otlp receiver: http: %w", err)
		}
		r.httpLn = ln
	}
	if r.cfg.GRPCAddr != "off" {
		ln, err := lc.Listen(ctx, "tcp", r.cfg.GRPCAddr)
		if err != nil {
			if r.httpLn != nil {
				_ = r.httpLn.Close()
				r.httpLn = nil
			}
			return fmt.Errorf("otlp receiver: grpc: %w", err)
		}
		r.grpcLn = ln
	}
	if r.httpLn != nil {
		r.httpSrv = r.newHTTPServer()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := r.httpSrv.Serve(r.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.cfg.Logger.Error("otlp http receiver stopped", "err", err)
			}
		}()
	}
	if r.grpcLn != nil {
		r.grpcSrv = r.newGRPCServer()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := r.grpcSrv.Serve(r.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				r.cfg.Logger.Error("otlp grpc receiver stopped", "err", err)
			}
		}()
	}
	return nil
}

// HTTPAddr returns the bound OTLP/HTTP address, or nil when disabled or
// not started.
func (r *Receiver) HTTPAddr() net.Addr {
	if r.httpLn == nil {
		return nil
	}
	return r.httpLn.Addr()
}

// GRPCAddr returns the bound OTLP/gRPC address, or nil when disabled or
// not started.
func (r *Receiver) GRPCAddr() net.Addr {
	if r.grpcLn == nil {
		return nil
	}
	return r.grpcLn.Addr()
}

// Shutdown stops accepting connections and requests, waits for requests
// in flight to be answered (each was delivered to the Consumer, or is
// answered with a retryable error), and returns when no goroutine of the
// receiver is left. When ctx ends first, remaining connections are closed
// (their clients retry: an unanswered request is never acknowledged) and
// the context's error is returned, after the handlers have returned.
// Later calls return the first call's result.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.shutdownOnce.Do(func() { r.shutdownErr = r.shutdown(ctx) })
	return r.shutdownErr
}

func (r *Receiver) shutdown(ctx context.Context) error {
	r.closing.Store(true)
	var errs [2]error
	var stops sync.WaitGroup
	if r.grpcSrv != nil {
		stops.Go(func() {
			done := make(chan struct{})
			go func() { r.grpcSrv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				r.grpcSrv.Stop() // cancels the calls' contexts; waits for handlers
				<-done
				errs[0] = fmt.Errorf("otlp receiver: grpc shutdown: %w", ctx.Err())
			}
		})
	}
	if r.httpSrv != nil {
		stops.Go(func() {
			if err := r.httpSrv.Shutdown(ctx); err != nil {
				r.cancelBase()
				_ = r.httpSrv.Close()
				errs[1] = fmt.Errorf("otlp receiver: http shutdown: %w", err)
			}
		})
	}
	stops.Wait()
	r.cancelBase()
	r.wg.Wait()
	r.handlersMu.Lock()
	r.handlersOff = true
	r.handlersMu.Unlock()
	r.handlers.Wait()
	return errors.Join(errs[:]...)
}

// deliver hands a decoded request to the Consumer and counts the outcome.
// It returns the items the Consumer rejected and its message, or the
// outcome and reason of a refusal.
func (r *Receiver) deliver(ctx context.Context, s signal, req proto.Message) (rejected int64, msg string, refused bool, out outcome, reason Reason) {
	return r.deliverTo(ctx, s, countItems(req), func() (int64, string, error) {
		switch s {
		case sigTraces:
			return r.cfg.Consumer.ConsumeTraces(ctx, req.(*coltracepb.ExportTraceServiceRequest))
		case sigMetrics:
			return r.cfg.Consumer.ConsumeMetrics(ctx, req.(*colmetricpb.ExportMetricsServiceRequest))
		default:
			return r.cfg.Consumer.ConsumeLogs(ctx, req.(*collogspb.ExportLogsServiceRequest))
		}
	})
}

// deliverSpans is deliver for a Batch and a SpanConsumer.
func (r *Receiver) deliverSpans(ctx context.Context, sc SpanConsumer, b *otlpspans.Batch) (rejected int64, msg string, refused bool, out outcome, reason Reason) {
	return r.deliverTo(ctx, sigTraces, int64(len(b.Spans)), func() (int64, string, error) { return sc.ConsumeSpans(ctx, b) })
}

// deliverTo is deliver for n items that consume hands to the Consumer.
func (r *Receiver) deliverTo(ctx context.Context, s signal, n int64, consume func() (int64, string, error)) (rejected int64, msg string, refused bool, out outcome, reason Reason) {
	if n == 0 {
		return 0, "", false, 0, "" // an empty request succeeds (OTLP)
	}
	if ctx.Err() != nil {
		// The client hung up, or Shutdown ran out of time: nothing is
		// delivered and, if anyone still listens, the answer is retryable.
		reason = ReasonReadError
		if r.closing.Load() {
			reason = ReasonShuttingDown
		}
		r.refused[reason].Add(1)
		return 0, "request cancelled before delivery", true, outUnavailable, reason
	}
	r.received[s].Add(uint64(n))
	rejected, msg, err := consume()
	if err != nil {
		out, reason = classify(err)
		r.refused[reason].Add(1)
		return 0, err.Error(), true, out, reason
	}
	rejected = min(max(rejected, 0), n)
	r.rejected[s].Add(uint64(rejected))
	r.accepted[s].Add(uint64(n - rejected))
	return rejected, msg, false, 0, ""
}

// retryAfterSeconds is RetryAfter for HTTP's Retry-After header.
func (r *Receiver) retryAfterSeconds() int64 {
	return int64((r.cfg.RetryAfter + time.Second - 1) / time.Second)
}
