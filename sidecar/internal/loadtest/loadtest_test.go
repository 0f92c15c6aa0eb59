package loadtest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/loadtest"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sidelight-loadtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err = loadtest.Build(ctx, dir)
	cancel()
	if err == nil {
		err = os.Chmod(dir, 0o755) // for TestLoadSmallUnprivileged's uid 65534
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestLoadSmall is the normal-run variant of the load benchmark: 12,000
// segments at 3,000/s and 5,000 EMF documents through the real binary;
// nothing may be lost and the metric values must be exact. The rate is
// modest so that it also holds without root, where the kernel caps the
// receive buffer at net.core.rmem_max (often 208 KB).
func TestLoadSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := loadtest.Run(ctx, loadtest.Options{Bin: bin, Segments: 12000, Rate: 3000, EMFDocs: 5000})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.Delivered != r.Sent || r.LossPct != 0 {
		t.Fatalf("lost segments: %s\ncounters %v", r, r.Counters)
	}
	if !r.EMFValuesCorrect || r.ExitCode != 0 {
		t.Fatalf("EMF values wrong or bad exit: %s", r)
	}
	if r.PeakRSSBytes == 0 || r.CPU <= 0 || r.RcvBufBytes <= 0 {
		t.Fatalf("measurements missing: %+v", r)
	}
}

// TestLoadSmallUnprivileged runs the small load with a sidecar that has
// no CAP_NET_ADMIN (as uid 65534, the image's nonroot user, when the test
// runs as root; as the test's own user otherwise) asking for twice the
// receive buffer net.core.rmem_max allows: it must spread its port over
// several sockets and still lose nothing.
func TestLoadSmallUnprivileged(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	rmem, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := loadtest.Run(ctx, loadtest.Options{Bin: bin, Segments: 12000, Rate: 3000,
		Args: []string{"-udp-rcvbuf", strconv.Itoa(2 * rmem)}, Unprivileged: os.Getuid() == 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r, "sockets:", r.UDPSockets)
	if r.UDPSockets < 2 {
		t.Fatalf("%d socket(s) on the port for a buffer twice rmem_max (%d bytes effective)", r.UDPSockets, r.RcvBufBytes)
	}
	if r.Delivered != r.Sent || r.Counters["segments.accepted"] != uint64(r.Sent) {
		t.Fatalf("lost or rejected segments: %s\ncounters %v", r, r.Counters)
	}
}

// TestLoadSmallFromEmitter sends the small load through Sidelight's own
// emitter (runs of datagrams in one system call): nothing may be lost,
// and the sidecar must have read runs kept together by the kernel rather
// than one datagram at a time.
func TestLoadSmallFromEmitter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := loadtest.Run(ctx, loadtest.Options{Bin: bin, Segments: 12000, Rate: 3000, Emitter: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.Delivered != r.Sent || r.Counters["segments.accepted"] != uint64(r.Sent) {
		t.Fatalf("lost or rejected segments: %s\ncounters %v", r, r.Counters)
	}
	if r.Counters["segments.udp_gro_runs"] == 0 {
		t.Fatalf("no runs read together: counters %v", r.Counters)
	}
}

// TestSIGTERMFlushesEverything: X-Ray and CloudWatch are failing when
// SIGTERM arrives with segments queued and metrics aggregated; the sidecar
// keeps retrying within its deadline, delivers everything, exits 0, and
// the health subcommand reports healthy before and unhealthy after.
func TestSIGTERMFlushesEverything(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := loadtest.Start(ctx, bin, fake.Env(), "-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "127.0.0.1:0",
		"-emf-tcp-addr", "127.0.0.1:0", "-emf-udp-addr", "127.0.0.1:0", "-status-addr", "127.0.0.1:0", "-shutdown-timeout", "30s",
		"-otlp-http-addr", "off", "-otlp-grpc-addr", "off")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if code := health(t, p.Addrs["status"]); code != 0 {
		t.Fatalf("health before SIGTERM: exit %d", code)
	}
	fake.Fail(fakeaws.XRay, 1000, fakeaws.Fault503) // X-Ray is down
	fake.Fail(fakeaws.CloudWatch, 3, fakeaws.FaultThrottle)
	conn, err := net.Dial("udp", p.Addrs["xray_udp"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 500 {
		fmt.Fprintf(conn, "{\"format\": \"json\", \"version\": 1}\n{\"trace_id\":\"1-6553f100-%024x\",\"id\":\"%016x\",\"start_time\":1.5,\"end_time\":2,\"name\":\"svc\"}", i, i+1)
	}
	prod := emfgen.NewProducer("term", 3)
	prod.TimestampMs = time.Now().UnixMilli() // CloudWatch takes only recent datapoints
	tcp, err := net.Dial("tcp", p.Addrs["emf_tcp"])
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		fmt.Fprintf(tcp, "%s\n", prod.Doc(i))
	}
	tcp.Close()
	// Wait until X-Ray has refused at least one batch, so data is queued.
	if err := fake.WaitFor(ctx, func() bool { return fake.Requests("PutTraceSegments") > 0 }); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// X-Ray comes back while the sidecar is draining.
	fake.ClearFaults()
	code, err := p.Wait(ctx)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, p.Stderr())
	}
	if n := fake.SegmentCount(); n != 500 {
		t.Fatalf("%d of 500 segments delivered\n%s", n, p.Stderr())
	}
	got, _ := emfgen.Received(fake.Metrics())
	if d := emfgen.Diff(prod.Want, got); d != "" {
		t.Fatalf("metrics differ after SIGTERM:\n%s", d)
	}
	if code := health(t, p.Addrs["status"]); code != 1 {
		t.Fatalf("health after exit: %d", code)
	}
}

func health(t *testing.T, addr string) int {
	t.Helper()
	cmd := exec.Command(bin, "health", "-status-addr", addr, "-timeout", "5s")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("health: %v %s", err, out)
	}
	return 0
}
