package logs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/logs"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newPipeline(t *testing.T, fake *fakeaws.Server, mod func(*logs.Config)) (*logs.Pipeline, *status.Counters) {
	t.Helper()
	fake.SetEnv(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.Retryer = aws.NopRetryer{} })
	counters := status.NewCounters()
	lc := logs.Config{Client: client, Budget: queue.NewBudget(64 << 20), Counters: counters,
		DefaultLogGroup: "/sidelight/default", DefaultLogStream: "task-1", FlushInterval: time.Hour,
		Backoff: retry.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond}}
	if mod != nil {
		mod(&lc)
	}
	p, err := logs.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p, counters
}

func shutdown(t *testing.T, p *logs.Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestForwardsEveryDocument: 12,500 documents to two groups (one named in
// _aws, one default) arrive unchanged, created on demand, in requests
// within the PutLogEvents limits (the fake checks them), through faults.
func TestForwardsEveryDocument(t *testing.T) {
	fake := fakeaws.New(fakeaws.WithLogStreamsRequired())
	defer fake.Close()
	p, counters := newPipeline(t, fake, nil)
	fake.Fail(fakeaws.Logs, 2, fakeaws.FaultThrottle)
	fake.Fail(fakeaws.Logs, 1, fakeaws.Fault500)
	prod := emfgen.NewProducer("ns", 1)
	want := map[string]string{}
	for i := range 12500 {
		doc := prod.Doc(i)
		if i%5 == 0 {
			doc = []byte(`{"_aws":{"Timestamp":1700000000001,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":` + fmt.Sprint(i) + `}`)
			want[string(doc)] = "/sidelight/default|task-1"
		} else {
			want[string(doc)] = "/ecs/checkout|task-1"
		}
		p.ConsumeEMF(parsed(t, doc))
	}
	shutdown(t, p)
	got := 0
	for _, r := range fake.LogRequests() {
		for _, e := range r.LogEvents {
			if w, ok := want[e.Message]; !ok || w != r.LogGroupName+"|"+r.LogStreamName {
				t.Fatalf("event %q in %s/%s", e.Message, r.LogGroupName, r.LogStreamName)
			}
			got++
		}
	}
	if got != 12500 || counters.Get("logs.events_sent") != 12500 || fake.Invalid() != 0 {
		t.Fatalf("%d events delivered; counters %v; invalid %d", got, counters.Snapshot(), fake.Invalid())
	}
	if fake.Requests("PutLogEvents") < 5 || counters.Get("logs.streams_created") < 2 || counters.Get("logs.events_received") != 12500 {
		t.Fatalf("requests %d, counters %v", fake.Requests("PutLogEvents"), counters.Snapshot())
	}
}

func TestHangingLogsShutdownDeadline(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	p, counters := newPipeline(t, fake, func(c *logs.Config) { c.RequestTimeout = 50 * time.Millisecond })
	fake.Hang(fakeaws.Logs, true)
	prod := emfgen.NewProducer("ns", 2)
	for i := range 100 {
		p.ConsumeEMF(parsed(t, prod.Doc(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown succeeded with a hanging backend")
	}
	if counters.Get("logs.dropped.shutdown") != 100 {
		t.Fatalf("counters %v", counters.Snapshot())
	}
}

// parsed is line as the EMF receiver hands it on.
func parsed(t testing.TB, line []byte) *emfdoc.Document {
	t.Helper()
	var p emfdoc.Parser
	d := new(emfdoc.Document)
	if r := p.Decode(line, d, false); r != emfdoc.OK {
		t.Fatalf("line refused (%s): %.200s", r, line)
	}
	return d
}

func ExampleNew() {
	_, err := logs.New(logs.Config{})
	fmt.Println(err != nil)
	// Output: true
}

// TestQueueEventsAllOrNone: QueueEvents delivers to the named group and
// stream (or the defaults), leaves out an event over the size limit,
// refuses a set that does not fit in the budget whole, and refuses after
// Shutdown.
func TestQueueEventsAllOrNone(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	p, counters := newPipeline(t, fake, func(c *logs.Config) { c.Budget = queue.NewBudget(1 << 20) })
	big := string(make([]byte, logs.MaxBatchBytes))
	tooLarge, err := p.QueueEvents("app", "", []logs.Event{{TimestampMs: 2, Message: "b"}, {TimestampMs: 1, Message: "a"}, {TimestampMs: 3, Message: big}})
	if err != nil || tooLarge != 1 {
		t.Fatal(tooLarge, err)
	}
	if _, err := p.QueueEvents("", "", []logs.Event{{TimestampMs: 1, Message: big[:600_000]}, {TimestampMs: 1, Message: big[:600_000]}}); err != logs.ErrBudgetFull {
		t.Fatalf("over the budget: %v", err)
	}
	shutdown(t, p)
	got := fake.LogRequests()
	if len(got) != 1 || got[0].LogGroupName != "app" || got[0].LogStreamName != "task-1" || len(got[0].LogEvents) != 2 ||
		got[0].LogEvents[0].Message != "a" || counters.Counter("logs.dropped.too_large").Load() != 1 {
		t.Fatalf("got %+v, counters %v", got, counters.Snapshot())
	}
	if _, err := p.QueueEvents("", "", []logs.Event{{Message: "late"}}); err != logs.ErrStopped {
		t.Fatalf("after shutdown: %v", err)
	}
}
