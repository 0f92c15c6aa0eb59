package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/metrics"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type env struct {
	fake     *fakeaws.Server
	p        *metrics.Pipeline
	counters *status.Counters
	budget   *queue.Budget
}

func newEnv(t *testing.T, budget int64, mod func(*metrics.Config)) *env {
	t.Helper()
	fake := fakeaws.New()
	t.Cleanup(fake.Close)
	fake.SetEnv(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Retryer = aws.NopRetryer{} })
	e := &env{fake: fake, counters: status.NewCounters(), budget: queue.NewBudget(budget)}
	mc := metrics.Config{Client: client, Budget: e.budget, Counters: e.counters,
		FlushInterval: time.Hour, HighResFlushInterval: time.Hour, // flushed by the test
		Backoff: retry.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		Now:     func() time.Time { return time.UnixMilli(1700000000000 + 30*60*1000) }} // the documents' time, plus 30 min
	if mod != nil {
		mod(&mc)
	}
	e.p, err = metrics.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) shutdown(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.p.Shutdown(ctx); err != nil {
		t.Fatalf("%v; counters %v", err, e.counters.Snapshot())
	}
}

func checkDelivered(t *testing.T, e *env, want emfgen.Totals) {
	t.Helper()
	got, stats := emfgen.Received(e.fake.Metrics())
	if len(stats) != 0 {
		t.Fatalf("unexpected statistic sets %v", stats)
	}
	if d := emfgen.Diff(want, got); d != "" {
		t.Fatalf("delivered values differ:\n%s\ncounters %v", d, e.counters.Snapshot())
	}
	if e.fake.Invalid() != 0 || e.fake.Unsigned() != 0 {
		t.Fatalf("fake refused %d invalid, %d unsigned requests", e.fake.Invalid(), e.fake.Unsigned())
	}
}

// TestAggregatesOfficialFormat sends 20,000 documents in the official
// libraries' format and checks every value and count arrives, in a
// handful of requests.
func TestAggregatesOfficialFormat(t *testing.T) {
	e := newEnv(t, 16<<20, nil)
	prod := emfgen.NewProducer("checkout-svc", 1)
	for i := range 20000 {
		doc := prod.Doc(i)
		if i < 5 {
			if err := schematest.EMF(doc); err != nil {
				t.Fatalf("producer wrote an invalid document: %v\n%s", err, doc)
			}
		}
		e.p.ConsumeEMF(parsed(t, doc))
	}
	e.shutdown(t)
	checkDelivered(t, e, prod.Want)
	reqs := e.fake.Requests("PutMetricData")
	if reqs == 0 || reqs > 5 {
		t.Fatalf("%d PutMetricData requests for 20,000 documents", reqs)
	}
	for _, r := range e.fake.Metrics() {
		for _, d := range r.MetricData {
			if len(d.Values) > 150 || d.Timestamp.Unix()%int64(*d.StorageResolution) != 0 {
				t.Fatalf("datum %+v", d)
			}
		}
	}
	if e.budget.Used() != 0 {
		t.Fatalf("budget still holds %d bytes", e.budget.Used())
	}
}

func TestFaultsThenRecovery(t *testing.T) {
	e := newEnv(t, 16<<20, nil)
	e.fake.Fail(fakeaws.CloudWatch, 2, fakeaws.FaultThrottle)
	e.fake.Fail(fakeaws.CloudWatch, 2, fakeaws.Fault500)
	e.fake.Fail(fakeaws.CloudWatch, 2, fakeaws.Fault503)
	prod := emfgen.NewProducer("ns", 2)
	for i := range 3000 {
		e.p.ConsumeEMF(parsed(t, prod.Doc(i)))
	}
	e.p.Flush()
	for i := 3000; i < 6000; i++ {
		e.p.ConsumeEMF(parsed(t, prod.Doc(i)))
	}
	e.shutdown(t)
	checkDelivered(t, e, prod.Want)
	if e.counters.Get("metrics.retried.throttled") < 2 || e.counters.Get("metrics.retried.server_error") < 4 {
		t.Fatalf("retries not counted: %v", e.counters.Snapshot())
	}
}

func TestManyDistinctValuesBecomeStatisticSet(t *testing.T) {
	e := newEnv(t, 16<<20, func(c *metrics.Config) { c.MaxDistinctValues = 300 })
	doc := func(v int) []byte {
		return fmt.Appendf(nil, `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":%d}`, v)
	}
	for v := range 200 { // 200 distinct: two datums of values
		e.p.ConsumeEMF(parsed(t, doc(v)))
	}
	e.p.Flush()
	for v := range 1000 { // 1000 distinct: statistic set
		e.p.ConsumeEMF(parsed(t, doc(v)))
	}
	e.shutdown(t)
	got, stats := emfgen.Received(e.fake.Metrics())
	id := emfgen.ID("n", "m", "None", 60, nil)
	if len(got[id]) != 200 || got.Count() != 200 {
		t.Fatalf("values: %d distinct, %v total", len(got[id]), got.Count())
	}
	if s := stats[id]; s != [4]float64{1000, 999 * 1000 / 2, 0, 999} {
		t.Fatalf("statistic set %v", s)
	}
}

func TestExtraDimensionsAndRange(t *testing.T) {
	e := newEnv(t, 16<<20, func(c *metrics.Config) {
		c.ExtraDimensions = []metrics.Dimension{{Name: "ClusterName", Value: "prod"}, {Name: "Svc", Value: "ignored"}}
	})
	e.p.ConsumeEMF(parsed(t, []byte(`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Svc"]],"Metrics":[{"Name":"m"}]}]},"Svc":"api","m":1}`)))
	e.p.ConsumeEMF(parsed(t, []byte(`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Svc"]],"Metrics":[{"Name":"m"}]}]},"Svc":"api","m":1e300}`)))
	// Three weeks old and three hours ahead: CloudWatch would refuse them.
	e.p.ConsumeEMF(parsed(t, []byte(`{"_aws":{"Timestamp":1698185600000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Svc"]],"Metrics":[{"Name":"m"}]}]},"Svc":"api","m":1}`)))
	e.p.ConsumeEMF(parsed(t, []byte(`{"_aws":{"Timestamp":1700012600000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Svc"]],"Metrics":[{"Name":"m"}]}]},"Svc":"api","m":1}`)))
	e.p.ConsumeEMF(parsed(t, []byte(`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"AWS/EC2","Dimensions":[["Svc"]],"Metrics":[{"Name":"m"}]}]},"Svc":"api","m":1}`)))
	e.shutdown(t)
	got, _ := emfgen.Received(e.fake.Metrics())
	want := emfgen.Totals{}
	want.Add(emfgen.ID("n", "m", "None", 60, map[string]string{"Svc": "api", "ClusterName": "prod"}), 1, 1)
	if d := emfgen.Diff(want, got); d != "" {
		t.Fatal(d)
	}
	if e.counters.Get("metrics.dropped.out_of_range") != 1 || e.counters.Get("metrics.documents") != 5 ||
		e.counters.Get("metrics.dropped.timestamp_out_of_range") != 2 || e.counters.Get("metrics.dropped.reserved_namespace") != 1 {
		t.Fatalf("counters %v", e.counters.Snapshot())
	}
}

// TestSplitsLargeFlush: 5000 series in one namespace need at least five
// requests of at most 1000 datums, all under 1 MB (the fake checks).
func TestSplitsLargeFlush(t *testing.T) {
	e := newEnv(t, 64<<20, nil)
	want := emfgen.Totals{}
	long := strings.Repeat("v", 200)
	for i := range 5000 {
		e.p.ConsumeEMF(parsed(t, fmt.Appendf(nil, `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["A","B"]],"Metrics":[{"Name":"m"}]}]},"A":"%d","B":"%s","m":[1,2,3,4,5,6,7,8,9,10]}`, i, long)))
		for v := 1; v <= 10; v++ {
			want.Add(emfgen.ID("n", "m", "None", 60, map[string]string{"A": fmt.Sprint(i), "B": long}), float64(v), 1)
		}
	}
	e.shutdown(t)
	checkDelivered(t, e, want)
	if n := e.fake.Requests("PutMetricData"); n < 5 {
		t.Fatalf("%d requests", n)
	}
}

// TestHangBoundedAndShutdownDeadline: a hanging backend never holds more
// than the worker count of requests, the budget bounds the queue, and
// Shutdown returns at its deadline counting what it could not send.
func TestHangBoundedAndShutdownDeadline(t *testing.T) {
	const budget = 64 << 10
	e := newEnv(t, budget, func(c *metrics.Config) { c.RequestTimeout = 50 * time.Millisecond })
	e.fake.Hang(fakeaws.CloudWatch, true)
	for round := range 20 {
		for i := range 100 {
			e.p.ConsumeEMF(parsed(t, fmt.Appendf(nil, `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["A"]],"Metrics":[{"Name":"m"}]}]},"A":"%d-%d","m":1}`, round, i)))
		}
		e.p.Flush()
		if e.budget.Used() > budget {
			t.Fatalf("budget exceeded: %d", e.budget.Used())
		}
		if e.fake.Hanging() > 2 {
			t.Fatalf("%d hanging requests with 2 workers", e.fake.Hanging())
		}
	}
	if e.counters.Get("metrics.dropped.budget_full") == 0 {
		t.Fatalf("nothing dropped: %v", e.counters.Snapshot())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.p.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown succeeded against a hanging backend")
	}
	if e.counters.Get("metrics.dropped.shutdown") == 0 {
		t.Fatalf("shutdown drops not counted: %v", e.counters.Snapshot())
	}
}

// seriesDoc is one value of metric m for dimension A=i.
func seriesDoc(i int) []byte {
	return fmt.Appendf(nil, `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["A"]],"Metrics":[{"Name":"m"}]}]},"A":"%d","m":1}`, i)
}

func seriesWant(ids ...int) emfgen.Totals {
	want := emfgen.Totals{}
	for _, i := range ids {
		want.Add(emfgen.ID("n", "m", "None", 60, map[string]string{"A": fmt.Sprint(i)}), 1, 1)
	}
	return want
}

// TestBadDimensionsDroppedAtIntake: points whose dimensions CloudWatch
// would refuse (non-ASCII, blank, leading colon, duplicate names) are
// dropped and counted at intake, so the 200 good series sent with them
// all arrive and CloudWatch (the fake, enforcing the documented rules)
// refuses nothing. A document's good dimension sets still count.
func TestBadDimensionsDroppedAtIntake(t *testing.T) {
	e := newEnv(t, 16<<20, nil)
	var ids []int
	for i := range 200 {
		e.p.ConsumeEMF(parsed(t, seriesDoc(i)))
		ids = append(ids, i)
	}
	for _, doc := range []string{
		`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["user"]],"Metrics":[{"Name":"m"}]}]},"user":"José","m":1}`,
		`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["user"]],"Metrics":[{"Name":"m"}]}]},"user":"   ","m":1}`,
		`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[":user"]],"Metrics":[{"Name":"m"}]}]},":user":"x","m":1}`,
		`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["A","A"]],"Metrics":[{"Name":"m"}]}]},"A":"x","m":1}`,
		// One good set (A=200) and one bad one in the same document.
		`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["A"],["A","user"]],"Metrics":[{"Name":"m"}]}]},"A":"200","user":"Zoë","m":1}`,
	} {
		e.p.ConsumeEMF(parsed(t, []byte(doc)))
	}
	ids = append(ids, 200)
	e.shutdown(t)
	checkDelivered(t, e, seriesWant(ids...))
	for name, want := range map[string]uint64{
		"metrics.dropped.bad_dimension_value": 3, "metrics.dropped.bad_dimension_name": 1,
		"metrics.dropped.duplicate_dimension": 1, "metrics.dropped.invalid_datum": 0, "metrics.split_requests": 0,
	} {
		if got := e.counters.Get(name); got != want {
			t.Errorf("%s = %d, want %d; counters %v", name, got, want, e.counters.Snapshot())
		}
	}
}

// TestRefusedDatumsIsolated: CloudWatch refuses a request of 1000 datums
// for 3 of them (a rule the sidecar does not know); the request is
// bisected, the 997 good datums arrive, the 3 are counted, and the extra
// requests stay within 2*ceil(log2 1000) per refused datum.
func TestRefusedDatumsIsolated(t *testing.T) {
	e := newEnv(t, 16<<20, nil)
	refused := map[string]bool{"13": true, "500": true, "998": true}
	e.fake.RefuseMetrics(func(d fakeaws.MetricDatum) bool {
		return len(d.Dimensions) > 0 && refused[d.Dimensions[0].Value]
	})
	var ids []int
	for i := range 1000 {
		e.p.ConsumeEMF(parsed(t, seriesDoc(i)))
		if !refused[fmt.Sprint(i)] {
			ids = append(ids, i)
		}
	}
	e.shutdown(t)
	got, _ := emfgen.Received(e.fake.Metrics())
	if d := emfgen.Diff(seriesWant(ids...), got); d != "" {
		t.Fatalf("delivered values differ:\n%s\ncounters %v", d, e.counters.Snapshot())
	}
	splits := e.counters.Get("metrics.split_requests")
	t.Logf("3 refused datums in 1000: %d extra requests", splits)
	if e.counters.Get("metrics.dropped.invalid_datum") != 3 || splits == 0 || splits > 3*2*10 ||
		e.counters.Get("metrics.dropped.client_error") != 0 {
		t.Fatalf("counters %v", e.counters.Snapshot())
	}
	if n := e.fake.Requests("PutMetricData"); uint64(n) != 1+splits {
		t.Fatalf("%d requests for %d splits", n, splits)
	}
}

// TestBisectionKeepsEveryGoodDatum: with 100 of 1000 datums refused, every
// good datum is still delivered and each refused one counted, within the
// full bisection tree's 2(n-1) extra requests.
func TestBisectionKeepsEveryGoodDatum(t *testing.T) {
	e := newEnv(t, 16<<20, nil)
	e.fake.RefuseMetrics(func(d fakeaws.MetricDatum) bool {
		return len(d.Dimensions) > 0 && strings.HasSuffix(d.Dimensions[0].Value, "7")
	})
	for i := range 1000 {
		e.p.ConsumeEMF(parsed(t, seriesDoc(i)))
	}
	e.shutdown(t)
	got, _ := emfgen.Received(e.fake.Metrics())
	splits := e.counters.Get("metrics.split_requests")
	invalid := e.counters.Get("metrics.dropped.invalid_datum")
	t.Logf("100 refused datums in 1000: %d extra requests, %v delivered, %d isolated", splits, got.Count(), invalid)
	// Every good datum arrives however many are refused; the cost is
	// bounded by the full bisection tree, linear in the request.
	if got.Count() != 900 || invalid != 100 || splits > 2*(1000-1) {
		t.Fatalf("delivered %v, counters %v", got.Count(), e.counters.Snapshot())
	}
	if n := e.fake.Requests("PutMetricData"); uint64(n) != 1+splits {
		t.Fatalf("%d requests for %d splits", n, splits)
	}
}

func TestValidateExtraDimensions(t *testing.T) {
	_, err := metrics.New(metrics.Config{Client: &cloudwatch.Client{}, Budget: queue.NewBudget(1), Counters: status.NewCounters(),
		ExtraDimensions: []metrics.Dimension{{Name: ":Cluster", Value: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "extra dimension") {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkConsumeEMF(b *testing.B) {
	p, err := metrics.New(metrics.Config{Client: &cloudwatch.Client{}, Budget: queue.NewBudget(1 << 30), Counters: status.NewCounters(),
		Now: func() time.Time { return time.UnixMilli(1700000000000) }})
	if err != nil {
		b.Fatal(err)
	}
	prod := emfgen.NewProducer("ns", 3)
	docs := make([]*emfdoc.Document, 64)
	for i := range docs {
		docs[i] = parsed(b, prod.Doc(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.ConsumeEMF(docs[i%len(docs)])
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
	_, err := metrics.New(metrics.Config{})
	fmt.Println(err != nil)
	// Output: true
}
