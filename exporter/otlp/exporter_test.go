package otlp

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

var _ xray.SegmentExporter = (*Exporter)(nil)

// collector is an OTLP/HTTP receiver for tests: it decodes every request
// with the generated OTLP types and answers with the statuses queued in
// answers (then 200).
type collector struct {
	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	headers  []http.Header
	answers  []answer
	reply    []byte // body of 200 answers
	got      chan struct{}
}

type answer struct {
	status     int
	retryAfter string
}

func newCollector(t testing.TB) *collector {
	c := &collector{t: t, got: make(chan struct{}, 1<<16)}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) url() string { return c.srv.URL + "/v1/traces" }

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		c.t.Errorf("request %s %s %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			c.t.Errorf("gzip: %v", err)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		c.t.Errorf("read: %v", err)
		return
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(raw, req); err != nil {
		c.t.Errorf("request does not decode: %v", err)
	}
	c.mu.Lock()
	var a answer
	if len(c.answers) > 0 {
		a, c.answers = c.answers[0], c.answers[1:]
	}
	if a.status == 0 || a.status == 200 {
		c.requests = append(c.requests, req)
		c.headers = append(c.headers, r.Header.Clone())
	}
	reply := c.reply
	c.mu.Unlock()
	select {
	case c.got <- struct{}{}:
	default:
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	if a.status != 0 && a.status != 200 {
		w.WriteHeader(a.status)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(reply)
}

func (c *collector) spans() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, r := range c.requests {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

// wait waits for the next request the collector receives.
func (c *collector) wait(t testing.TB) {
	t.Helper()
	select {
	case <-c.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no request within 10 s")
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// noEnv is an empty environment, so that tests do not depend on the
// process's OTEL_* variables.
func noEnv(string) (string, bool) { return "", false }

var fastRetry = RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond, MaxElapsedTime: 10 * time.Second}

func newTestExporter(t testing.TB, c *collector, opts ...Option) *Exporter {
	t.Helper()
	base := []Option{WithEnvironment(noEnv), WithEndpointURL(c.url()), WithRetry(fastRetry), WithBatchTimeout(time.Hour)}
	x, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Shutdown(context.Background()) })
	return x
}

func segmentN(i int) *xray.Segment {
	s := serverSegment()
	s.ID = [8]byte{1, byte(i >> 16), byte(i >> 8), byte(i), 1, 1, 1, 1}
	return s
}

func TestExportDelivers(t *testing.T) {
	for _, comp := range []Compression{NoCompression, GzipCompression} {
		c := newCollector(t)
		x := newTestExporter(t, c, WithCompression(comp), WithHeaders(map[string]string{"X-Api-Key": "k"}), WithResourceAttribute("deployment.environment", "test"))
		const n = 1200
		for i := range n {
			x.ExportSegment(segmentN(i))
		}
		if err := x.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		spans := c.spans()
		if len(spans) != n {
			t.Fatalf("compression %d: %d spans delivered, want %d", comp, len(spans), n)
		}
		seen := map[[8]byte]bool{}
		for _, s := range spans {
			seen[[8]byte(s.SpanId)] = true
		}
		if len(seen) != n {
			t.Fatalf("%d distinct spans", len(seen))
		}
		c.mu.Lock()
		for i, r := range c.requests {
			if len(r.ResourceSpans) != 1 {
				t.Errorf("request %d: %d ResourceSpans, want one (one resource)", i, len(r.ResourceSpans))
			}
			rs := r.ResourceSpans[0]
			if got := len(rs.ScopeSpans[0].Spans); got > DefaultMaxBatchSize {
				t.Errorf("request %d: %d spans, over the batch size", i, got)
			}
			if rs.ScopeSpans[0].Scope.GetName() != "github.com/seed-c77c9410/sidelight" {
				t.Errorf("scope %v", rs.ScopeSpans[0].Scope)
			}
			if len(rs.Resource.Attributes) != 2 || rs.Resource.Attributes[1].Key != "deployment.environment" {
				t.Errorf("resource %v", rs.Resource)
			}
			if c.headers[i].Get("X-Api-Key") != "k" {
				t.Errorf("headers %v", c.headers[i])
			}
		}
		c.mu.Unlock()
		if err := x.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		st := x.Stats()
		if st.Exported != n || st.Spans != n || st.Segments != n || st.Dropped() != 0 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestBatchSizeTriggersSend(t *testing.T) {
	c := newCollector(t)
	x := newTestExporter(t, c, WithMaxBatchSize(10))
	for i := range 10 {
		x.ExportSegment(segmentN(i))
	}
	// The batch timeout is an hour: only the full batch can send.
	c.wait(t)
	if c.count() != 1 || len(c.spans()) != 10 {
		t.Fatalf("%d requests, %d spans", c.count(), len(c.spans()))
	}
}

func TestBatchTimeoutSends(t *testing.T) {
	c := newCollector(t)
	x := newTestExporter(t, c, WithBatchTimeout(5*time.Millisecond))
	x.ExportSegment(segmentN(1))
	c.wait(t)
	if len(c.spans()) != 1 {
		t.Fatalf("%d spans", len(c.spans()))
	}
}

func TestRetriesRetryableAnswers(t *testing.T) {
	c := newCollector(t)
	c.answers = []answer{{status: 503}, {status: 429, retryAfter: "0"}, {status: 502}, {status: 504}}
	x := newTestExporter(t, c)
	x.ExportSegment(segmentN(1))
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := x.Stats()
	if len(c.spans()) != 1 || st.Retries != 4 || st.Requests != 5 || st.Exported != 1 || st.Dropped() != 0 {
		t.Fatalf("%d spans, stats %+v", len(c.spans()), st)
	}
}

func TestPermanentErrorDrops(t *testing.T) {
	c := newCollector(t)
	c.answers = []answer{{status: 400}}
	x := newTestExporter(t, c)
	x.ExportSegment(segmentN(1))
	if err := x.ForceFlush(context.Background()); err == nil {
		t.Fatal("ForceFlush reported no error")
	}
	x.ExportSegment(segmentN(2)) // the next batch is not affected
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := x.Stats()
	if st.DroppedSend != 1 || st.Exported != 1 || st.Retries != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetryGivesUp(t *testing.T) {
	c := newCollector(t)
	c.answers = []answer{{status: 503}, {status: 503}, {status: 503}}
	x := newTestExporter(t, c, WithRetry(RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxElapsedTime: time.Millisecond}))
	x.ExportSegment(segmentN(1))
	_ = x.ForceFlush(context.Background())
	if st := x.Stats(); st.DroppedSend != 1 || st.Exported != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPartialSuccessCounted(t *testing.T) {
	c := newCollector(t)
	c.reply, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 2, ErrorMessage: "bad"}})
	x := newTestExporter(t, c)
	for i := range 5 {
		x.ExportSegment(segmentN(i))
	}
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Rejected != 2 || st.Exported != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestQueueFullDrops(t *testing.T) {
	// The queue holds spans waiting for a request: with the collector
	// stalled, maxInFlight batches of 3 are in flight, 3 spans wait, and
	// the rest is dropped and counted.
	sc := newStalledCollector(t)
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(sc.srv.URL+"/v1/traces"), WithRetry(fastRetry), WithQueueSize(3, 0), WithMaxBatchSize(100))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3*maxInFlight + 5 {
		x.ExportSegment(segmentN(i))
	}
	close(sc.release)
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := x.Stats()
	if st.DroppedFull != 2 || st.Exported != 3*maxInFlight+3 || len(sc.ids) != 3*maxInFlight+3 {
		t.Fatalf("stats %+v", st)
	}
	c := newCollector(t)
	// Bytes bound too.
	y := newTestExporter(t, c, WithQueueSize(100, 2000))
	for i := range 100 {
		y.ExportSegment(segmentN(i))
	}
	if st := y.Stats(); st.DroppedFull == 0 || st.Spans == 0 || st.Spans+st.DroppedFull != 100 {
		t.Fatalf("bytes bound: stats %+v", st)
	}
}

func TestNoGoroutineBeforeFirstExport(t *testing.T) {
	c := newCollector(t)
	x := newTestExporter(t, c)
	x.mu.Lock()
	started := x.started
	x.mu.Unlock()
	if started {
		t.Fatal("sender started by New")
	}
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.count() != 0 {
		t.Fatal("requests without segments")
	}
}

func TestShutdownFlushesAndDropsAfter(t *testing.T) {
	c := newCollector(t)
	x := newTestExporter(t, c)
	seg := segmentN(1)
	x.ExportSegment(seg)
	seg.Reset() // the caller owns seg again once ExportSegment returns
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.spans()) != 1 || c.spans()[0].Name != "checkout" {
		t.Fatalf("spans %v", c.spans())
	}
	x.ExportSegment(segmentN(2))
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if st := x.Stats(); st.DroppedClosed != 1 || st.Exported != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestShutdownHonoursContext(t *testing.T) {
	c := newCollector(t)
	for range 100 {
		c.answers = append(c.answers, answer{status: 503})
	}
	x := newTestExporter(t, c, WithRetry(RetryConfig{Enabled: true, InitialInterval: time.Hour, MaxInterval: time.Hour, MaxElapsedTime: 24 * time.Hour}))
	x.ExportSegment(segmentN(1))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := x.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown = %v", err)
	}
	if st := x.Stats(); st.DroppedSend != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInvalidSegmentCounted(t *testing.T) {
	c := newCollector(t)
	x := newTestExporter(t, c)
	bad := segmentN(1)
	bad.TraceID = [16]byte{}
	x.ExportSegment(bad)
	x.ExportSegment(nil)
	x.ExportSegment(segmentN(2))
	_ = x.Shutdown(context.Background())
	if st := x.Stats(); st.DroppedInvalid != 1 || st.Exported != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConcurrentExport(t *testing.T) {
	c := newCollector(t)
	x := newTestExporter(t, c, WithBatchTimeout(time.Millisecond), WithQueueSize(1<<20, 1<<30))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seg := &xray.Segment{}
			for i := range 200 {
				seg.Reset()
				*seg = *segmentN(g<<10 | i)
				x.ExportSegment(seg)
				if i%50 == 0 {
					_ = x.ForceFlush(context.Background())
				}
			}
		}()
	}
	wg.Wait()
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(c.spans()); got != 1600 {
		t.Fatalf("%d spans delivered", got)
	}
}

func TestUnreachableCollectorRetriesThenDrops(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(url+"/v1/traces"),
		WithRetry(RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxElapsedTime: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	x.ExportSegment(segmentN(1))
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.DroppedSend != 1 || st.Retries == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBatchesSentConcurrently: when several batches wait, they are in
// flight together, so the sender's throughput is not one batch per round
// trip. The collector holds every request until four have arrived.
func TestBatchesSentConcurrently(t *testing.T) {
	const n = 4
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			http.Error(w, "requests were not concurrent", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(srv.URL+"/v1/traces"), WithMaxBatchSize(10), WithBatchTimeout(time.Hour), WithRetry(RetryConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	// Each full batch is sent as soon as it is sealed, without waiting
	// for the batches before it to be answered.
	for i := range n * 10 {
		x.ExportSegment(segmentN(i))
	}
	if err := x.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Exported != n*10 || st.Requests != n {
		t.Fatalf("stats %+v", st)
	}
}

func TestDropsLoggedOnce(t *testing.T) {
	c := newStalledCollector(t)
	var logs syncBuffer
	x, err := New(WithEnvironment(noEnv), WithEndpointURL(c.srv.URL+"/v1/traces"), WithQueueSize(1, 0),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Shutdown(context.Background()) })
	for i := range maxInFlight + 5 { // maxInFlight in flight, 1 waiting
		x.ExportSegment(segmentN(i))
	}
	if got := strings.Count(logs.String(), "segment dropped"); got != 1 {
		t.Fatalf("%d drop lines for 4 drops:\n%s", got, logs.String())
	}
	if st := x.Stats(); st.DroppedFull != 4 {
		t.Fatalf("stats %+v", st)
	}
	close(c.release)
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
