package otlp

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// stalledCollector decodes every request with the generated OTLP types
// and counts the spans by their IDs; until release is closed it holds
// every request, as a collector in a GC pause or restarting does.
type stalledCollector struct {
	srv     *httptest.Server
	release chan struct{}
	mu      sync.Mutex
	ids     map[[8]byte]int
	reqs    int
	bad     int
}

func newStalledCollector(t *testing.T) *stalledCollector {
	c := &stalledCollector{release: make(chan struct{}), ids: make(map[[8]byte]int)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-c.release
		raw, err := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(raw, req)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.reqs++
		if err != nil {
			c.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					c.ids[[8]byte(sp.SpanId)]++
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(func() {
		select {
		case <-c.release:
		default:
			close(c.release)
		}
		c.srv.Close()
	})
	return c
}

// realisticSegment is what the middleware sends for the request issue 14
// benchmarks: an ALB-traced GET with X-Forwarded-For, a browser's user
// agent and a route annotation.
func realisticSegment(i int) *xray.Segment {
	s := serverSegment()
	s.ID = [8]byte{2, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 1, 1, 1}
	s.HTTP.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	s.Annotations = append(s.Annotations, xray.StringAttr("service", "shop"), xray.BoolAttr("cors_allowed", true))
	return s
}

// TestBurstFullyDelivered: a burst of 12,000 realistic segments, exported
// in a tight loop while the collector holds every request, is delivered
// whole with the default settings once the collector answers: the queue
// is bounded by memory (32 MiB) rather than by 8,192 spans, and nothing
// on the request path waits. Every span arrives once.
func TestBurstFullyDelivered(t *testing.T) {
	const n = 12000
	c := newStalledCollector(t)
	// However slow the burst (a loaded machine, the race detector), the
	// held requests must not time out: that would be a drop.
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(c.srv.URL+"/v1/traces"), WithTimeout(5*time.Minute), WithRetry(RetryConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Shutdown(context.Background()) })
	for i := range n {
		x.ExportSegment(realisticSegment(i))
	}
	if st := x.Stats(); st.Dropped() != 0 || st.Spans != n {
		t.Fatalf("during the stall: stats %+v", st)
	}
	close(c.release)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := x.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	got, bad, reqs := len(c.ids), c.bad, c.reqs
	dup := 0
	for _, k := range c.ids {
		dup += k - 1
	}
	c.mu.Unlock()
	if got != n || dup != 0 || bad != 0 {
		t.Fatalf("delivered %d distinct spans of %d (%d twice, %d bad requests)", got, n, dup, bad)
	}
	st := x.Stats()
	if st.Exported != n || st.Dropped() != 0 || int(st.Requests) != reqs || reqs < n/DefaultMaxBatchSize {
		t.Fatalf("stats %+v, %d requests received", st, reqs)
	}
}

// TestEndpointDownDropsCounted: with nothing listening, every span of a
// burst is counted as dropped once its retries are given up, a flush
// reports the failure, and the drop is logged; nothing is lost
// silently. The request path never waited for the network meanwhile.
func TestEndpointDownDropsCounted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/v1/traces"
	srv.Close() // nothing listens there now
	var logs syncBuffer
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(url), WithMaxBatchSize(100),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithRetry(RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxElapsedTime: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		x.ExportSegment(realisticSegment(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := x.ForceFlush(ctx); err == nil {
		t.Fatal("ForceFlush reported no error with the collector down")
	}
	if err := x.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := x.Stats()
	if st.Spans != n || st.DroppedSend != n || st.Exported != 0 || st.Retries == 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "spans dropped") {
		t.Fatalf("no drop logged:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInFlightBounded: however many batches wait, no more than
// maxInFlight requests are in flight at once.
func TestInFlightBounded(t *testing.T) {
	c := newStalledCollector(t)
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(c.srv.URL+"/v1/traces"), WithMaxBatchSize(10), WithRetry(RetryConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Shutdown(context.Background()) })
	for i := range 10 * (maxInFlight + 5) {
		x.ExportSegment(realisticSegment(i))
	}
	x.mu.Lock()
	inFlight, ready := len(x.inFlight), len(x.ready)
	x.mu.Unlock()
	if inFlight != maxInFlight || ready != 5 {
		t.Fatalf("%d in flight and %d waiting, want %d and 5", inFlight, ready, maxInFlight)
	}
	close(c.release)
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Exported != 10*(maxInFlight+5) || st.Requests != maxInFlight+5 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBatchProcessorEnvironment: OTEL_BSP_* set the batching unless an
// option did; bad values are errors; a batch larger than the queue is cut
// to it.
func TestBatchProcessorEnvironment(t *testing.T) {
	env := map[string]string{
		"OTEL_BSP_SCHEDULE_DELAY":        "250",
		"OTEL_BSP_EXPORT_TIMEOUT":        "7000",
		"OTEL_BSP_MAX_QUEUE_SIZE":        "4096",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "128",
	}
	c, err := newConfig([]Option{envMap(env)})
	if err != nil {
		t.Fatal(err)
	}
	if c.batchTimeout != 250*time.Millisecond || c.exportTimeout != 7*time.Second || c.queueSize != 4096 || c.maxBatch != 128 || c.queueBytes != DefaultQueueBytes {
		t.Fatalf("config %+v", c)
	}
	c, err = newConfig([]Option{envMap(env), WithBatchTimeout(time.Second), WithMaxBatchSize(64), WithQueueSize(1000, 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	if c.batchTimeout != time.Second || c.maxBatch != 64 || c.queueSize != 1000 || c.queueBytes != 1<<20 {
		t.Fatalf("options should win: %+v", c)
	}
	c, err = newConfig([]Option{envMap(map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512"})})
	if err != nil || c.maxBatch != 100 {
		t.Fatalf("batch over queue: %d, %v", c.maxBatch, err)
	}
	c, err = newConfig(nil)
	if err != nil || c.queueSize != 0 || c.queueBytes != 32<<20 || c.maxBatch != 512 || c.batchTimeout != time.Second {
		t.Fatalf("defaults %+v %v", c, err)
	}
	for _, bad := range []string{"0", "-5", "1s", "lots", "9999999999999"} {
		if _, err := newConfig([]Option{envMap(map[string]string{"OTEL_BSP_SCHEDULE_DELAY": bad})}); err == nil || !strings.Contains(err.Error(), "OTEL_BSP_SCHEDULE_DELAY") {
			t.Errorf("OTEL_BSP_SCHEDULE_DELAY=%q: %v", bad, err)
		}
	}
}

// TestExportTimeoutBoundsRetries: OTEL_BSP_EXPORT_TIMEOUT gives up a
// batch's retries sooner than the retry policy would.
func TestExportTimeoutBoundsRetries(t *testing.T) {
	c := newCollector(t)
	for range 1000 {
		c.answers = append(c.answers, answer{status: 503})
	}
	x := newTestExporter(t, c, envMap(map[string]string{"OTEL_BSP_EXPORT_TIMEOUT": "30"}),
		WithRetry(RetryConfig{Enabled: true, InitialInterval: 5 * time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxElapsedTime: time.Hour}))
	x.ExportSegment(segmentN(1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := x.ForceFlush(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("ForceFlush = %v (ctx %v): want the batch given up before the test's deadline", err, ctx.Err())
	}
	if st := x.Stats(); st.DroppedSend != 1 || st.Retries == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestYieldsWhileBatchesWait: a caller yields its processor once for each
// batch it seals while every request slot is busy (the senders are short
// of a processor: with GOMAXPROCS 1, peers/httpbench's OTLP variants
// dropped 1–11 % of their spans before, the queue filling while the
// caller ran), and never while a slot is free.
func TestYieldsWhileBatchesWait(t *testing.T) {
	var yields atomic.Int64
	old := yield
	yield = func() { yields.Add(1) }
	t.Cleanup(func() { yield = old })

	const batch = 10
	c := newStalledCollector(t)
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(c.srv.URL+"/v1/traces"), WithMaxBatchSize(batch),
		WithTimeout(5*time.Minute), WithRetry(RetryConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Shutdown(context.Background()) })
	var release sync.Once
	free := func() { release.Do(func() { close(c.release) }) }
	t.Cleanup(free) // runs before Shutdown, so that a failure does not hang it
	export := func(from, to int) {
		for i := from; i < to; i++ {
			x.ExportSegment(realisticSegment(i))
		}
	}
	// Until maxInFlight batches are out, a free slot takes each one.
	export(0, batch)
	for x.Stats().Spans < uint64(maxInFlight*batch) {
		export(int(x.Stats().Segments), int(x.Stats().Segments)+1)
	}
	if n := yields.Load(); n != 0 {
		t.Fatalf("%d yields while request slots were free", n)
	}
	// Every slot is held by the stalled collector: each batch sealed now waits.
	before := x.Stats().Spans
	for x.Stats().Spans < before+5*batch {
		export(int(x.Stats().Segments), int(x.Stats().Segments)+1)
	}
	if n := yields.Load(); n < 4 || n > 6 {
		t.Fatalf("%d yields for 5 batches sealed while every slot was busy, want one each", n)
	}
	free()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := x.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Dropped() != 0 || st.Exported != st.Spans {
		t.Fatalf("stats %+v", st)
	}
}
