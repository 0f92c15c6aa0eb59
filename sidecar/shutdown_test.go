package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/loadtest"
)

// The built sidecar, shared by the tests that run the binary.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func sidecarBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "sidelight-main-test"); binErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if binPath, binErr = loadtest.Build(ctx, binDir); binErr == nil {
			binErr = os.Chmod(binDir, 0o755) // readable by uid 65534 (the unprivileged runs)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// burst is what one repetition of TestSIGTERMDeliversBurst sends.
const (
	burstSegments = 3000
	burstEMFTCP   = 250 // lines on a connection the client keeps open
	burstEMFUDP   = 250 // one line per datagram
)

// TestSIGTERMDeliversBurst is the operator's check of the graceful stop:
// a burst of segments over UDP and EMF lines over TCP and UDP, SIGTERM
// right after the last datagram, and everything must reach the fake X-Ray
// and CloudWatch, with the counters accounting for every item. Each case
// runs 50 times against the built binary: with one socket (as root the
// receive buffer is granted), with the port spread over a SO_REUSEPORT
// group (unprivileged: uid 65534 when run as root, asking for twice
// net.core.rmem_max), and with a nearly full 1 MiB memory budget (X-Ray
// hangs until SIGTERM, so segments pile up; what does not fit must be
// counted as dropped, never lost). Before the receivers drained their
// sockets at shutdown, whatever the reader had not reached yet was lost
// without a count.
func TestSIGTERMDeliversBurst(t *testing.T) {
	bin := sidecarBin(t)
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	rmem, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	unprivileged := -1
	if os.Getuid() == 0 {
		unprivileged = 65534
	}
	reps := 50
	if v, err := strconv.Atoi(os.Getenv("SIDELIGHT_SIGTERM_REPS")); err == nil && v > 0 {
		reps = v // more (or fewer) repetitions by hand
	}
	for _, c := range []*struct {
		name      string
		uid       int
		args      []string
		hangXRay  bool
		wantGroup bool
		roomy     bool // the budget holds the burst: nothing may be dropped
		sockets   int
	}{
		{name: "one socket", uid: -1, roomy: true},
		{name: "socket group", uid: unprivileged, args: []string{"-udp-rcvbuf", strconv.Itoa(2 * rmem)}, wantGroup: true, roomy: true},
		{name: "full budget", uid: -1, args: []string{"-memory-budget-mib", "1"}, hangXRay: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var failed, delivered, dropped, lost, lostLines int
			var problems []string
			for rep := range reps {
				r := sigtermBurst(t, bin, c.uid, c.hangXRay, c.args)
				c.sockets = r.sockets
				if c.wantGroup && r.sockets < 2 {
					t.Fatalf("repetition %d: %d socket(s) on the X-Ray port", rep, r.sockets)
				}
				var why []string
				segDropped, metricsDropped := 0, uint64(0)
				for name, v := range r.counters {
					switch {
					case v == 0:
					case strings.Contains(name, ".dropped.udp_") || strings.HasSuffix(name, ".partial_line"):
						why = append(why, fmt.Sprintf("%s = %d", name, v)) // read nothing at all
					case strings.HasPrefix(name, "segments.dropped."):
						segDropped += int(v)
					case strings.HasPrefix(name, "metrics.dropped."):
						metricsDropped += v
					}
				}
				// Every datagram and line was read and accepted...
				lines := int(r.counters["emf.accepted"])
				if acc := int(r.counters["segments.accepted"]); acc != burstSegments || lines != burstEMFTCP+burstEMFUDP {
					why = append(why, fmt.Sprintf("accepted %d of %d segments, %d of %d EMF lines",
						acc, burstSegments, lines, burstEMFTCP+burstEMFUDP))
				}
				// ...and each segment was delivered or counted as dropped
				// (with room in the budget, none may be dropped).
				if r.segments+segDropped != burstSegments || (c.roomy && segDropped != 0) {
					why = append(why, fmt.Sprintf("%d segments delivered and %d counted as dropped, of %d sent",
						r.segments, segDropped, burstSegments))
				}
				if r.metricsDiff != "" && (c.roomy || metricsDropped == 0) {
					why = append(why, "metrics differ, and not by drops counted:\n"+r.metricsDiff)
				}
				if len(why) > 0 {
					failed++
					lost += burstSegments - r.segments - segDropped
					lostLines += burstEMFTCP + burstEMFUDP - lines
					if len(problems) < 3 {
						problems = append(problems, fmt.Sprintf("repetition %d: %s\ncounters %v", rep, strings.Join(why, "; "), r.counters))
					}
				}
				delivered += r.segments
				dropped += segDropped
			}
			t.Logf("%d repetitions (%d socket(s)): %d of %d segments delivered, %d counted as dropped; %d repetitions lost %d segments and %d EMF lines without a count",
				reps, c.sockets, delivered, reps*burstSegments, dropped, failed, lost, lostLines)
			if failed > 0 {
				t.Errorf("%d of %d repetitions lost data:\n%s", failed, reps, strings.Join(problems, "\n"))
			}
			if !c.roomy && dropped == 0 {
				t.Errorf("the budget never filled: no segment was dropped")
			}
		})
	}
}

type burstResult struct {
	segments    int               // delivered to the fake X-Ray
	metricsDiff string            // what the fake CloudWatch lacks ("" when exact)
	counters    map[string]uint64 // from the "sidecar stopped" log line
	sockets     int
}

// sigtermBurst runs the sidecar, sends the burst, sends SIGTERM right
// after the last datagram and waits for the exit.
func sigtermBurst(t *testing.T, bin string, uid int, hangXRay bool, args []string) burstResult {
	t.Helper()
	fake := fakeaws.New(fakeaws.WithoutRetention())
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append([]string{"-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "off", "-emf-tcp-addr", "127.0.0.1:0",
		"-emf-udp-addr", "127.0.0.1:0", "-status-addr", "127.0.0.1:0", "-shutdown-timeout", "20s",
		"-otlp-http-addr", "127.0.0.1:0", "-otlp-grpc-addr", "127.0.0.1:0"}, args...)
	p, err := loadtest.StartAs(ctx, bin, uid, fake.Env(), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	var r burstResult
	if v, ok := p.Info["xray_udp_sockets"].(float64); ok {
		r.sockets = int(v)
	}
	if hangXRay {
		fake.Hang(fakeaws.XRay, true)
	}
	dial := func(network, name string) net.Conn {
		c, err := net.Dial(network, p.Addrs[name])
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tcp, emfUDP, xrayUDP := dial("tcp", "emf_tcp"), dial("udp", "emf_udp"), dial("udp", "xray_udp")
	defer tcp.Close() // kept open across SIGTERM, as a running application would
	defer emfUDP.Close()
	defer xrayUDP.Close()

	prod := emfgen.NewProducer("burst", 7)
	prod.TimestampMs = time.Now().UnixMilli() // CloudWatch takes only recent datapoints
	w := bufio.NewWriterSize(tcp, 64<<10)
	for i := range burstEMFTCP {
		w.Write(prod.Doc(i))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range burstEMFUDP {
		if _, err := emfUDP.Write(append(prod.Doc(burstEMFTCP+i), '\n')); err != nil {
			t.Fatal(err)
		}
	}
	// 3,000 segments of about 560 bytes: 1.6 MB, more than a 1 MiB budget.
	pad := strings.Repeat("p", 400)
	for i := range burstSegments {
		fmt.Fprintf(xrayUDP, "{\"format\": \"json\", \"version\": 1}\n{\"trace_id\":\"1-6553f100-%024x\",\"id\":\"%016x\",\"start_time\":1.5,\"end_time\":2,\"name\":\"svc\",\"annotations\":{\"pad\":%q}}", i, i+1, pad)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if hangXRay {
		fake.Hang(fakeaws.XRay, false) // X-Ray answers again while the sidecar drains
	}
	code, err := p.Wait(ctx)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, p.Stderr())
	}
	r.segments = fake.SegmentCount()
	got, stats := emfgen.Received(fake.Metrics())
	if r.metricsDiff = emfgen.Diff(prod.Want, got); r.metricsDiff != "" {
		r.metricsDiff = statisticSetsDiff(prod.Want, got, stats)
	}
	for _, line := range strings.Split(p.Stderr(), "\n") {
		var rec struct {
			Msg      string            `json:"msg"`
			Counters map[string]uint64 `json:"counters"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "sidecar stopped" {
			r.counters = rec.Counters
		}
	}
	if r.counters == nil {
		t.Fatalf("no counters logged at exit\n%s", p.Stderr())
	}
	return r
}

// statisticSetsDiff compares want with what CloudWatch received when some
// values arrived as statistic sets (which the metrics pipeline sends when
// a datum has too many values, or to save memory when the budget is
// full): per metric, the sample counts and sums must match. It returns
// "" when they do.
func statisticSetsDiff(want, got emfgen.Totals, stats map[string][4]float64) string {
	var out []string
	for id, values := range want {
		var wc, ws, gc, gs float64
		for v, c := range values {
			wc, ws = wc+c, ws+v*c
		}
		for v, c := range got[id] {
			gc, gs = gc+c, gs+v*c
		}
		gc, gs = gc+stats[id][0], gs+stats[id][1]
		if wc != gc || math.Abs(ws-gs) > 1e-9*math.Max(1, math.Abs(ws)) {
			out = append(out, fmt.Sprintf("%s: want %v samples summing to %v, got %v summing to %v", id, wc, ws, gc, gs))
		}
	}
	return strings.Join(out, "\n")
}
