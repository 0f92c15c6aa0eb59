package segments_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/segments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func doc(i int) []byte {
	return fmt.Appendf(nil, `{"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"%016x","start_time":1.5,"end_time":2.5,"name":"svc"}`, i+1)
}

type env struct {
	fake     *fakeaws.Server
	p        *segments.Pipeline
	counters *status.Counters
	budget   *queue.Budget
}

func newEnv(t *testing.T, budget int64, mod func(*segments.Config)) *env {
	t.Helper()
	fake := fakeaws.New()
	t.Cleanup(fake.Close)
	fake.SetEnv(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := xray.NewFromConfig(cfg, func(o *xray.Options) { o.Retryer = aws.NopRetryer{} }, segments.AppendSerializer)
	e := &env{fake: fake, counters: status.NewCounters(), budget: queue.NewBudget(budget)}
	pc := segments.Config{Client: client, Budget: e.budget, Counters: e.counters,
		FlushInterval: 20 * time.Millisecond, Backoff: retry.Backoff{Base: time.Millisecond, Max: 20 * time.Millisecond}}
	if mod != nil {
		mod(&pc)
	}
	e.p, err = segments.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) push(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		d := doc(i)
		info, r := xraydoc.Check(d)
		if r != xraydoc.OK {
			t.Fatal(r)
		}
		e.p.ConsumeSegment(d, info)
	}
}

func (e *env) waitSegments(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.fake.WaitFor(ctx, func() bool { return e.fake.SegmentCount() >= n }); err != nil {
		t.Fatalf("%v: %d of %d segments arrived; counters %v", err, e.fake.SegmentCount(), n, e.counters.Snapshot())
	}
}

func (e *env) shutdown(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkExactly checks the fake holds each of docs 0..n-1 exactly once.
func checkExactly(t *testing.T, fake *fakeaws.Server, n int) {
	t.Helper()
	got := fake.Segments()
	sort.Strings(got)
	want := make([]string, n)
	for i := range n {
		want[i] = string(doc(i))
	}
	sort.Strings(want)
	if len(got) != n {
		t.Fatalf("got %d segments, want %d", len(got), n)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("segment %d: got %s want %s", i, got[i], want[i])
		}
	}
}

func TestDeliversAllInBatches(t *testing.T) {
	e := newEnv(t, 1<<20, nil)
	e.push(t, 0, 1234)
	e.waitSegments(t, 1234)
	e.shutdown(t)
	checkExactly(t, e.fake, 1234)
	if n := e.fake.Requests("PutTraceSegments"); n < 1234/50 {
		t.Fatalf("%d requests for 1234 segments", n)
	}
	if e.counters.Get("segments.sent") != 1234 || e.fake.Invalid() != 0 || e.budget.Used() != 0 {
		t.Fatalf("counters %v, budget used %d", e.counters.Snapshot(), e.budget.Used())
	}
}

func TestFaultsThenRecovery(t *testing.T) {
	e := newEnv(t, 1<<20, nil)
	e.fake.Fail(fakeaws.XRay, 3, fakeaws.Fault500)
	e.fake.Fail(fakeaws.XRay, 3, fakeaws.Fault503)
	e.fake.Fail(fakeaws.XRay, 4, fakeaws.FaultThrottle)
	e.push(t, 0, 500)
	e.waitSegments(t, 500)
	e.shutdown(t)
	checkExactly(t, e.fake, 500)
	if e.counters.Get("segments.retried.server_error") == 0 || e.counters.Get("segments.retried.throttled") == 0 {
		t.Fatalf("retries not counted: %v", e.counters.Snapshot())
	}
	if e.fake.Requests("PutTraceSegments") < 10+500/50 {
		t.Fatalf("only %d requests", e.fake.Requests("PutTraceSegments"))
	}
}

func TestUnprocessedSegments(t *testing.T) {
	e := newEnv(t, 1<<20, nil)
	e.fake.UnprocessSegments(7, "ThrottledException")
	e.push(t, 0, 100)
	e.waitSegments(t, 100)
	if got := e.counters.Get("segments.retried.unprocessed"); got != 7 {
		t.Fatalf("retried.unprocessed = %d", got)
	}
	e.fake.UnprocessSegments(3, "InvalidSegment")
	e.push(t, 100, 110)
	e.waitSegments(t, 107)
	e.shutdown(t) // waits for the workers, so the counters are final
	if e.counters.Get("segments.dropped.rejected_by_xray") != 3 || e.fake.SegmentCount() != 107 {
		t.Fatalf("counters %v, %d delivered", e.counters.Snapshot(), e.fake.SegmentCount())
	}
}

func TestPermanentErrorDrops(t *testing.T) {
	e := newEnv(t, 1<<20, func(c *segments.Config) { c.BatchSize = 10 })
	e.fake.Fail(fakeaws.XRay, 1, fakeaws.FaultBadRequest)
	e.push(t, 0, 10)
	e.push(t, 10, 20)
	e.waitSegments(t, 10)
	e.shutdown(t)
	if e.counters.Get("segments.dropped.client_error") != 10 || e.fake.SegmentCount() != 10 {
		t.Fatalf("counters %v", e.counters.Snapshot())
	}
}

// TestHangBoundedByBudget: the backend hangs; segments keep coming. The
// queue stays within the budget by dropping the oldest, requests are
// bounded by the worker count, and after recovery everything still queued
// is delivered: delivered + dropped = sent.
func TestHangBoundedByBudget(t *testing.T) {
	const budget = 100 * (160 + 160/8 + 96) // room for about 100 segments (the charge is n + n/8 + 96)
	e := newEnv(t, budget, func(c *segments.Config) { c.RequestTimeout = 50 * time.Millisecond; c.Workers = 2 })
	e.fake.Hang(fakeaws.XRay, true)
	e.push(t, 0, 1000)
	if e.budget.Used() > budget {
		t.Fatalf("budget exceeded: %d", e.budget.Used())
	}
	if e.fake.Hanging() > 2 {
		t.Fatalf("%d requests hanging with 2 workers", e.fake.Hanging())
	}
	dropped := e.counters.Get("segments.dropped.budget_full")
	if dropped < 800 {
		t.Fatalf("only %d dropped with a budget for ~100", dropped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.fake.WaitFor(ctx, func() bool { return e.counters.Get("segments.retried.timeout") > 0 }); err != nil {
		t.Fatal("hanging requests did not time out")
	}
	e.fake.Hang(fakeaws.XRay, false)
	e.shutdown(t)
	// A request that timed out may still have been processed (the fake,
	// like X-Ray, can finish it after the client gave up), so count
	// distinct documents: timeouts give at-least-once delivery.
	distinct := map[string]bool{}
	for _, s := range e.fake.Segments() {
		distinct[s] = true
	}
	delivered := uint64(len(distinct))
	if delivered+e.counters.Get("segments.dropped.budget_full") != 1000 || delivered == 0 {
		t.Fatalf("delivered %d + dropped %d != 1000", delivered, e.counters.Get("segments.dropped.budget_full"))
	}
	// The newest segment is never the one dropped.
	last := string(doc(999))
	found := false
	for _, s := range e.fake.Segments() {
		found = found || s == last
	}
	if !found {
		t.Fatal("newest segment dropped instead of the oldest")
	}
}

// TestShutdownDeadlineWithHangingBackend: Shutdown returns at its
// deadline, counts what it could not send, and leaves no goroutines.
func TestShutdownDeadlineWithHangingBackend(t *testing.T) {
	e := newEnv(t, 1<<20, nil)
	e.fake.Hang(fakeaws.XRay, true)
	e.push(t, 0, 120)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.p.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown succeeded with a hanging backend")
	}
	if got := e.counters.Get("segments.dropped.shutdown"); got != 120 {
		t.Fatalf("dropped.shutdown = %d, want 120", got)
	}
	e.p.ConsumeSegment(doc(1), xraydoc.Info{})
	if e.counters.Get("segments.dropped.shutdown") != 121 {
		t.Fatal("segment after shutdown not counted")
	}
}

// TestAppendSerializerRoundTrip: documents with escapes, non-ASCII text,
// U+2028 and invalid UTF-8 reach X-Ray as encoding/json would have sent
// them, and other operations still use the SDK's serializer.
func TestAppendSerializerRoundTrip(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.SetEnv(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := xray.NewFromConfig(cfg, segments.AppendSerializer)
	docs := []string{`{"a":"quote \" backslash \\ tab \t"}`, "{\"name\":\"caf\u00e9 \u2028 \u65e5\u672c\"}", "{\"x\":\"\xff\"}", `{"html":"<a href='x'>&</a>"}`}
	if _, err := client.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs}); err != nil {
		t.Fatal(err)
	}
	got := fake.Segments()
	want := append([]string(nil), docs...)
	want[2] = "{\"x\":\"\ufffd\"}" // invalid UTF-8 becomes U+FFFD, as with encoding/json
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("doc %d: got %q want %q", i, got[i], want[i])
		}
	}
	if _, err := client.GetSamplingRules(context.Background(), &xray.GetSamplingRulesInput{}); err != nil {
		t.Fatalf("other operations broken: %v", err)
	}
}

func TestValidate(t *testing.T) {
	if _, err := segments.New(segments.Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
	if _, err := segments.New(segments.Config{Client: &xray.Client{}, Budget: queue.NewBudget(1), Counters: status.NewCounters(), BatchSize: 51}); err == nil {
		t.Fatal("batch of 51 accepted")
	}
}

func BenchmarkConsume(b *testing.B) {
	p, err := segments.New(segments.Config{Client: &xray.Client{}, Budget: queue.NewBudget(1 << 40), Counters: status.NewCounters()})
	if err != nil {
		b.Fatal(err)
	}
	d := doc(1)
	info, _ := xraydoc.Check(d)
	b.ReportAllocs()
	for b.Loop() {
		p.ConsumeSegment(d, info)
	}
}

// stubXRay accepts every request at once, without a network round trip,
// so a benchmark measures the pipeline itself.
type stubXRay struct {
	out            xray.PutTraceSegmentsOutput
	docs, requests atomic.Int64
}

func (s *stubXRay) PutTraceSegments(_ context.Context, in *xray.PutTraceSegmentsInput, _ ...func(*xray.Options)) (*xray.PutTraceSegmentsOutput, error) {
	s.docs.Add(int64(len(in.TraceSegmentDocuments)))
	s.requests.Add(1)
	return &s.out, nil
}

// BenchmarkConsumeAndSend: segments through the whole pipeline (queue,
// workers, batches, Shutdown's drain) to a client that answers at once.
// allocs/request counts every allocation, the copy of each document
// included.
func BenchmarkConsumeAndSend(b *testing.B) {
	stub := &stubXRay{}
	counters := status.NewCounters()
	p, err := segments.New(segments.Config{Client: stub, Budget: queue.NewBudget(1 << 40), Counters: counters})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	d := doc(1)
	info, _ := xraydoc.Check(d)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.ConsumeSegment(d, info)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(stub.requests.Load()), "allocs/request")
	if got := counters.Get("segments.sent"); got != uint64(b.N) || stub.docs.Load() != int64(b.N) {
		b.Fatalf("sent %d (client got %d) of %d", got, stub.docs.Load(), b.N)
	}
}

func ExampleNew() {
	_, err := segments.New(segments.Config{BatchSize: 60})
	fmt.Println(err != nil)
	// Output: true
}

// TestQueueSegmentsAllOrNone: with X-Ray hanging and the budget full,
// QueueSegments refuses a group with ErrBudgetFull and drops nothing
// queued (ConsumeSegment would drop the oldest); after X-Ray recovers the
// group fits, every queued document arrives once, and after Shutdown it
// reports ErrStopped.
func TestQueueSegmentsAllOrNone(t *testing.T) {
	const budget = 20 * (160 + 160/8 + 96) // room for about 20 segments
	e := newEnv(t, budget, func(c *segments.Config) { c.RequestTimeout = time.Hour; c.Workers = 1; c.BatchSize = 5 })
	e.fake.Hang(fakeaws.XRay, true)
	group := func(from, to int) ([][]byte, []xraydoc.Info) {
		var docs [][]byte
		var infos []xraydoc.Info
		for i := from; i < to; i++ {
			d := doc(i)
			info, r := xraydoc.Check(d)
			if r != xraydoc.OK {
				t.Fatal(r)
			}
			docs, infos = append(docs, d), append(infos, info)
		}
		return docs, infos
	}
	queued := 0
	var err error
	for err == nil && queued < 1000 {
		err = e.p.QueueSegments(group(queued, queued+4))
		if err == nil {
			queued += 4
		}
	}
	if !errors.Is(err, segments.ErrBudgetFull) {
		t.Fatalf("after %d segments queued: err %v, want ErrBudgetFull", queued, err)
	}
	if e.counters.Get("segments.dropped.budget_full") != 0 || e.counters.Get("segments.received") != uint64(queued) {
		t.Fatalf("%d queued: counters %v", queued, e.counters.Snapshot())
	}
	e.fake.Hang(fakeaws.XRay, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if err = e.p.QueueSegments(group(queued, queued+4)); err == nil {
			queued += 4
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group still refused after X-Ray recovered: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	e.shutdown(t)
	checkExactly(t, e.fake, queued)
	if err := e.p.QueueSegments(group(0, 1)); !errors.Is(err, segments.ErrStopped) {
		t.Fatalf("after Shutdown: %v, want ErrStopped", err)
	}
}

// TestHasRoom: HasRoom says yes while documents of the asked size would
// be queued and no once QueueSegments refuses them, so the OTLP receiver
// can refuse a request before decoding it; an estimate larger than the
// budget is counted as a quarter of it, so it cannot be refused for ever.
func TestHasRoom(t *testing.T) {
	const budget = 20 * (160 + 160/8 + 96) // room for about 20 segments
	e := newEnv(t, budget, func(c *segments.Config) { c.RequestTimeout = time.Hour; c.Workers = 1; c.BatchSize = 5 })
	e.fake.Hang(fakeaws.XRay, true)
	four := int64(4 * (len(doc(0)) + len(doc(0))/8 + 96))
	if !e.p.HasRoom(four) || !e.p.HasRoom(100*budget) {
		t.Fatal("empty budget: HasRoom says no")
	}
	queued := 0
	for ; queued < 1000; queued += 4 {
		var docs [][]byte
		var infos []xraydoc.Info
		for i := queued; i < queued+4; i++ {
			info, r := xraydoc.Check(doc(i))
			if r != xraydoc.OK {
				t.Fatal(r)
			}
			docs, infos = append(docs, doc(i)), append(infos, info)
		}
		room := e.p.HasRoom(four)
		err := e.p.QueueSegments(docs, infos)
		if room != (err == nil) {
			t.Fatalf("after %d queued: HasRoom %v, QueueSegments %v", queued, room, err)
		}
		if err != nil {
			break
		}
	}
	if queued == 0 || queued >= 1000 {
		t.Fatalf("%d queued", queued)
	}
	e.fake.Hang(fakeaws.XRay, false)
	e.shutdown(t)
	checkExactly(t, e.fake, queued)
}
