package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// Log record batching: a request goes out when this many records wait or
// logFlushEvery after the first of them, as an SDK's batch processor does.
const (
	logBatch      = 100
	logFlushEvery = 500 * time.Millisecond
	logQueue      = 2048 // records waiting at most; more are dropped and counted
)

// logSender sends the demo services' log records to an OTLP/HTTP endpoint
// as protobuf (POST /v1/logs), one resource per service, each record
// carrying the trace and span of the request that wrote it. Emitting never
// waits on the network: records go through a bounded queue to one
// goroutine, which close stops after sending what is queued.
type logSender struct {
	url    string
	client *http.Client
	log    *slog.Logger

	queue   chan pendingLog
	done    chan struct{}
	once    sync.Once
	mu      sync.RWMutex // held for reading while queueing, for writing to close
	closed  bool
	dropped atomic.Uint64
	failed  atomic.Bool // a request failed (logged once)
}

type pendingLog struct {
	service string
	rec     *logspb.LogRecord
}

// newLogSender starts a sender to endpoint, the base URL an SDK's
// OTEL_EXPORTER_OTLP_ENDPOINT names (http://127.0.0.1:4318).
func newLogSender(endpoint string, log *slog.Logger) *logSender {
	l := &logSender{
		url:    endpoint + "/v1/logs",
		client: &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second},
		log:    log,
		queue:  make(chan pendingLog, logQueue),
		done:   make(chan struct{}),
	}
	go l.run()
	return l
}

// emit queues one record of service, in the trace and span of ctx (the
// request's, as the middleware put it there). A nil sender does nothing.
func (l *logSender) emit(ctx context.Context, service string, sev logspb.SeverityNumber, body string, attrs ...*commonpb.KeyValue) {
	if l == nil {
		return
	}
	now := uint64(time.Now().UnixNano())
	rec := &logspb.LogRecord{TimeUnixNano: now, ObservedTimeUnixNano: now, SeverityNumber: sev, SeverityText: severityText(sev),
		Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}}, Attributes: attrs}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		tid, sid := sc.TraceID(), sc.SpanID()
		rec.TraceId, rec.SpanId, rec.Flags = tid[:], sid[:], uint32(sc.TraceFlags())
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.queue <- pendingLog{service: service, rec: rec}:
	default:
		l.dropped.Add(1)
	}
}

func severityText(sev logspb.SeverityNumber) string {
	switch {
	case sev >= logspb.SeverityNumber_SEVERITY_NUMBER_ERROR:
		return "ERROR"
	case sev >= logspb.SeverityNumber_SEVERITY_NUMBER_WARN:
		return "WARN"
	case sev >= logspb.SeverityNumber_SEVERITY_NUMBER_INFO:
		return "INFO"
	}
	return "DEBUG"
}

func (l *logSender) run() {
	defer close(l.done)
	var batch []pendingLog
	tick := time.NewTicker(logFlushEvery)
	defer tick.Stop()
	for {
		select {
		case p, ok := <-l.queue:
			if !ok {
				l.send(batch)
				return
			}
			if batch = append(batch, p); len(batch) >= logBatch {
				l.send(batch)
				batch = nil
			}
		case <-tick.C:
			l.send(batch)
			batch = nil
		}
	}
}

// send posts one batch, a resource per service in the order they first
// appear.
func (l *logSender) send(batch []pendingLog) {
	if len(batch) == 0 {
		return
	}
	req := &collogspb.ExportLogsServiceRequest{}
	byService := map[string]*logspb.ScopeLogs{}
	for _, p := range batch {
		sl := byService[p.service]
		if sl == nil {
			sl = &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: "sidelight/demo"}}
			byService[p.service] = sl
			req.ResourceLogs = append(req.ResourceLogs, &logspb.ResourceLogs{
				Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", p.service)}},
				ScopeLogs: []*logspb.ScopeLogs{sl}})
		}
		sl.LogRecords = append(sl.LogRecords, p.rec)
	}
	body, err := proto.Marshal(req)
	if err == nil {
		err = l.post(body)
	}
	if err != nil && !l.failed.Swap(true) {
		l.log.Warn("demo log records not delivered (logged once)", "url", l.url, "err", err)
	}
}

func (l *logSender) post(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", l.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// close stops taking records, sends what is queued and waits for that.
// It returns how many records were dropped over the sender's life.
func (l *logSender) close() uint64 {
	if l == nil {
		return 0
	}
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.queue)
		l.mu.Unlock()
	})
	<-l.done
	l.client.CloseIdleConnections()
	return l.dropped.Load()
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func num(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}
