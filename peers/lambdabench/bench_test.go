package lambdabench

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsxray "github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"
	"golang.org/x/net/ipv4"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
)

const traceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

// udpSink counts datagrams on a loopback port, reading many per system
// call so that it takes little of the CPU the measured code shares.
type udpSink struct {
	conn  *net.UDPConn
	count atomic.Int64
	done  chan struct{}
}

func newSink(tb testing.TB) *udpSink {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	_ = conn.SetReadBuffer(16 << 20)
	s := &udpSink{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		pc := ipv4.NewPacketConn(conn)
		msgs := make([]ipv4.Message, 64)
		for i := range msgs {
			msgs[i].Buffers = [][]byte{make([]byte, 1<<16)}
		}
		for {
			n, err := pc.ReadBatch(msgs, 0)
			if err != nil {
				return
			}
			s.count.Add(int64(n))
		}
	}()
	tb.Cleanup(func() { conn.Close(); <-s.done })
	return s
}

func (s *udpSink) addr() string { return s.conn.LocalAddr().String() }

// waitAtLeast waits until n datagrams arrived, so a variant that sent
// nothing cannot pass for a fast one.
func (s *udpSink) waitAtLeast(tb testing.TB, n int64) {
	deadline := time.Now().Add(5 * time.Second)
	for s.count.Load() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("sink got %d datagrams, want at least %d", s.count.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func app(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: "ok"}, nil
}

func event() events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{Path: "/orders", HTTPMethod: "POST", Headers: map[string]string{"User-Agent": "bench"}}
	ev.RequestContext.DomainName = "abc.execute-api.eu-west-1.amazonaws.com"
	ev.RequestContext.Path = "/prod/orders"
	ev.RequestContext.Identity.SourceIP = "203.0.113.9"
	return ev
}

// invocationContext is what aws-lambda-go's invoke loop gives a handler.
func invocationContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	tb.Cleanup(cancel)
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "bench"})
	//nolint:staticcheck // aws-lambda-go's plain string key
	return context.WithValue(ctx, "x-amzn-trace-id", traceHeader)
}

// xraySDK wraps h the way aws-xray-sdk-go users trace in Lambda: a
// subsegment under the facade segment the SDK builds from the trace
// header, with the same annotations Sidelight writes, closed (and sent)
// before returning.
func xraySDK(h func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	cold := true
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		ctx, seg := awsxray.BeginSubsegment(ctx, "## orders")
		_ = seg.AddAnnotation("ColdStart", cold)
		_ = seg.AddAnnotation("Service", "orders")
		cold = false
		resp, err := h(ctx, ev)
		seg.Close(err)
		return resp, err
	}
}

func BenchmarkInvocation(b *testing.B) {
	sink := newSink(b)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	ctx := invocationContext(b)
	ev := event()

	run := func(b *testing.B, h func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), sends bool) {
		before := sink.count.Load()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		if sends {
			sink.waitAtLeast(b, before+1)
		}
	}

	b.Run("bare", func(b *testing.B) { run(b, app, false) })

	b.Run("sidelight", func(b *testing.B) {
		emitter, err := xray.NewEmitter(xray.WithDaemonAddress(sink.addr()))
		if err != nil {
			b.Fatal(err)
		}
		defer emitter.Shutdown(context.Background())
		h := middleware.Lambda(app, middleware.WithSegmentExporter(emitter), middleware.WithServiceName("orders"),
			middleware.WithMetricsSink(emf.NewWriterSink(devnull)))
		run(b, h, true)
	})

	b.Run("sidelight-no-emf", func(b *testing.B) {
		emitter, err := xray.NewEmitter(xray.WithDaemonAddress(sink.addr()))
		if err != nil {
			b.Fatal(err)
		}
		defer emitter.Shutdown(context.Background())
		h := middleware.Lambda(app, middleware.WithSegmentExporter(emitter), middleware.WithServiceName("orders"), middleware.WithoutMetrics())
		run(b, h, true)
	})

	b.Run("xray-sdk", func(b *testing.B) {
		b.Setenv("LAMBDA_TASK_ROOT", "/var/task")
		if err := awsxray.Configure(awsxray.Config{DaemonAddr: sink.addr(), ServiceVersion: "bench"}); err != nil {
			b.Fatal(err)
		}
		awsxray.SetLogger(xraylog.NullLogger)
		run(b, xraySDK(app), true)
	})
}
