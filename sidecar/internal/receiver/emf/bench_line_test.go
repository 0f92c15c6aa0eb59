package emf

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/logs"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/metrics"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// The BenchmarkLineTo… benchmarks measure the CPU and allocations one EMF
// line costs from the receiver's line handling (the parse at intake)
// through its consumer: the metrics pipeline's aggregation, the logs
// pipeline's batching, or the local view's store (called synchronously
// here, as its inbox's goroutine would). See sidecar/BENCHMARKS.md.

func benchLines(b *testing.B, c Consumer) {
	r, err := New(Config{TCPAddr: "off", UDPAddr: "off", Consumer: c, Counters: status.NewCounters()})
	if err != nil {
		b.Fatal(err)
	}
	prod := emfgen.NewProducer("ns", 1)
	prod.TimestampMs = time.Now().UnixMilli()
	lines := make([][]byte, 64)
	size := 0
	for i := range lines {
		lines[i] = prod.Doc(i)
		size += len(lines[i])
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	// CPU time, not wall time: on a shared machine the benchmark's thread
	// waits for a core, and ns/op counts that wait.
	cpu0, n := cpuTime(), 0
	for i := 0; b.Loop(); i++ {
		r.line(lines[i%len(lines)])
		n++
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
	if got := r.accepted.Load(); got == 0 {
		b.Fatal("no line accepted")
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkLineToMetrics(b *testing.B) {
	p, err := metrics.New(metrics.Config{Client: &cloudwatch.Client{}, Budget: queue.NewBudget(1 << 30), Counters: status.NewCounters()})
	if err != nil {
		b.Fatal(err)
	}
	benchLines(b, p)
}

// okLogs accepts every PutLogEvents call.
type okLogs struct{}

func (okLogs) PutLogEvents(context.Context, *cloudwatchlogs.PutLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error) {
	return &cloudwatchlogs.PutLogEventsOutput{}, nil
}
func (okLogs) CreateLogGroup(context.Context, *cloudwatchlogs.CreateLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error) {
	return &cloudwatchlogs.CreateLogGroupOutput{}, nil
}
func (okLogs) CreateLogStream(context.Context, *cloudwatchlogs.CreateLogStreamInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error) {
	return &cloudwatchlogs.CreateLogStreamOutput{}, nil
}

func BenchmarkLineToLogs(b *testing.B) {
	p, err := logs.New(logs.Config{Client: okLogs{}, Budget: queue.NewBudget(64 << 20), Counters: status.NewCounters(),
		DefaultLogGroup: "g", DefaultLogStream: "s"})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	benchLines(b, p)
}

func BenchmarkLineToLocalView(b *testing.B) {
	s, err := localview.New(localview.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLines(b, storeConsumer{s})
}
