package middleware

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// processCPU returns the CPU time this process has used, all threads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// daemonProcessEnv, set to 1, makes the test binary a daemon stand-in:
// it prints the UDP address it reads, counts datagrams, answers each line
// on standard input with the count so far, and ends when standard input
// closes.
const daemonProcessEnv = "SIDELIGHT_BENCH_DAEMON"

func runDaemonProcess() {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	_ = conn.SetReadBuffer(8 << 20)
	fmt.Println(conn.LocalAddr())
	var count atomic.Int64
	go func() {
		buf := make([]byte, 1<<16)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
			count.Add(1)
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		time.Sleep(100 * time.Millisecond) // let the last datagrams in
		fmt.Println(count.Load())
	}
}

// daemonProcess starts the daemon stand-in in a process of its own, as the
// X-Ray daemon is outside a Lambda function's process: its reading does
// not count in the CPU time measured here.
func daemonProcess(b *testing.B) (addr string, count func() int64) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), daemonProcessEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		b.Fatalf("daemon stand-in: %q %v", line, err)
	}
	return strings.TrimSpace(line), func() int64 {
		if _, err := io.WriteString(stdin, "count\n"); err != nil {
			b.Fatal(err)
		}
		line, err := out.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		return n
	}
}

// BenchmarkLambda measures one invocation of an API Gateway handler, bare
// and wrapped. The wrapped runs include everything an invocation pays:
// the subsegment sent to a UDP daemon stand-in (in another process, as
// Lambda's is) and flushed, the EMF document written to /dev/null and
// flushed. cpu-ns/op is this process's CPU time (getrusage), every
// goroutine included (the stand-in's reading is another process's); it
// does include this process's write system calls, in which the kernel
// delivers the datagram and wakes the stand-in. writes-only makes those
// two writes bare, the floor under the traced run.
func BenchmarkLambda(b *testing.B) {
	daemonAddr, received := daemonProcess(b)
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(daemonAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer emitter.Shutdown(context.Background())
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	app := func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "ok"}, nil
	}
	ev := restEvent("/orders", "")
	base, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	base = lambdacontext.NewContext(base, &lambdacontext.LambdaContext{AwsRequestID: "bench"})

	run := func(b *testing.B, h func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), header string) {
		//nolint:staticcheck
		ctx := context.WithValue(base, "x-amzn-trace-id", header)
		b.ReportAllocs()
		cpu0, n := processCPU(), 0
		for b.Loop() {
			if _, err := h(ctx, ev); err != nil {
				b.Fatal(err)
			}
			n++
		}
		// Process CPU per invocation, every goroutine included (the
		// emitter's and the daemon stand-in's reader too): the load of
		// other processes does not inflate it as it inflates wall time.
		b.ReportMetric(float64(processCPU()-cpu0)/float64(n), "cpu-ns/op")
	}
	opts := []Option{WithSegmentExporter(emitter), WithServiceName("orders"), WithMetricsSink(emf.NewWriterSink(devnull)), WithTimeoutMargin(time.Second)}
	b.Run("bare", func(b *testing.B) { run(b, app, facadeHeader) })
	b.Run("traced", func(b *testing.B) { run(b, Lambda(app, opts...), facadeHeader) })
	b.Run("not-sampled", func(b *testing.B) {
		run(b, Lambda(app, opts...), "Root="+facadeTrace+";Parent="+facadeParent+";Sampled=0")
	})
	b.Run("traced-no-emf", func(b *testing.B) { run(b, Lambda(app, append(opts, WithoutMetrics())...), facadeHeader) })
	b.Run("writes-only", func(b *testing.B) {
		writesOnly(b, Lambda(app, opts...), ctxWith(base, facadeHeader), ev, daemonAddr, devnull)
	})
	st := emitter.Stats()
	if st.Segments == 0 || st.Dropped() != 0 {
		b.Fatalf("emitter stats %+v: want segments sent and none dropped", st)
	}
	if got := received(); got != int64(st.Datagrams) {
		b.Logf("the daemon stand-in received %d of %d datagrams (its socket buffer overflowed)", got, st.Datagrams)
	}
}

//nolint:staticcheck // the plain string key aws-lambda-go uses
func ctxWith(base context.Context, header string) context.Context {
	return context.WithValue(base, "x-amzn-trace-id", header)
}

// writesOnly is the floor of a traced invocation: the two system calls it
// cannot do without, made bare, per op. One traced invocation's documents
// are captured first; then each op writes the EMF document to /dev/null
// and the segment's datagram to the daemon stand-in, on a socket of its
// own as the emitter's synchronous path does. The difference between the
// traced run and this one is what the middleware itself costs.
func writesOnly(b *testing.B, h func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), ctx context.Context, ev events.APIGatewayProxyRequest, daemonAddr string, devnull *os.File) {
	// The documents of one traced invocation, as written.
	rec := &captureExporter{}
	out := &lastWrite{}
	capture := Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "ok"}, nil
	}, WithSegmentExporter(rec), WithServiceName("orders"), WithMetricsSink(emf.NewWriterSink(out)), WithTimeoutMargin(time.Second))
	if _, err := capture(ctx, ev); err != nil {
		b.Fatal(err)
	}
	if _, err := h(ctx, ev); err != nil { // warm, like the traced run
		b.Fatal(err)
	}
	if _, err := capture(ctx, ev); err != nil { // a warm document
		b.Fatal(err)
	}
	if len(rec.datagram) == 0 || len(out.p) == 0 {
		b.Fatal("no documents captured")
	}
	raddr, err := net.ResolveUDPAddr("udp", daemonAddr)
	if err != nil {
		b.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(fd)
	sa := &syscall.SockaddrInet4{Port: raddr.Port}
	copy(sa.Addr[:], raddr.IP.To4())
	if err := syscall.Connect(fd, sa); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0, n := processCPU(), 0
	for b.Loop() {
		if _, err := devnull.Write(out.p); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Sendto(fd, rec.datagram, syscall.MSG_DONTWAIT, nil); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(len(rec.datagram)), "datagram-bytes")
	b.ReportMetric(float64(len(out.p)), "emf-bytes")
}

// captureExporter keeps the datagram of the last segment exported.
type captureExporter struct{ datagram []byte }

func (c *captureExporter) ExportSegment(s *xray.Segment) {
	c.datagram = xray.AppendDocument([]byte(xray.DaemonHeader), s)
}
func (c *captureExporter) ForceFlush(context.Context) error { return nil }
func (c *captureExporter) Shutdown(context.Context) error   { return nil }

// lastWrite keeps the last write.
type lastWrite struct{ p []byte }

func (w *lastWrite) Write(p []byte) (int, error) {
	w.p = append(w.p[:0], p...)
	return len(p), nil
}

// BenchmarkLambdaSetup measures what wrapping costs at cold start, before
// the first invocation: the configuration, the EMF loggers and (in the
// "own-emitter" case) the emitter with its socket and sender goroutine.
func BenchmarkLambdaSetup(b *testing.B) {
	app := func(ctx context.Context, s string) (string, error) { return s, nil }
	sink := emf.NewWriterSink(io.Discard)
	b.Run("shared-emitter", func(b *testing.B) {
		emitter, err := xray.NewEmitter(xray.WithDaemonAddress("127.0.0.1:2000"))
		if err != nil {
			b.Fatal(err)
		}
		defer emitter.Shutdown(context.Background())
		b.ReportAllocs()
		for b.Loop() {
			_ = Lambda(app, WithSegmentExporter(emitter), WithMetricsSink(sink))
		}
	})
	b.Run("own-emitter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			emitter, err := xray.NewEmitter(xray.WithDaemonAddress("127.0.0.1:2000"))
			if err != nil {
				b.Fatal(err)
			}
			_ = Lambda(app, WithSegmentExporter(emitter), WithMetricsSink(sink))
			b.StopTimer()
			_ = emitter.Shutdown(context.Background())
			b.StartTimer()
		}
	})
}
