package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
)

// Options describe one load run.
type Options struct {
	Bin      string // sidecar binary (see Build)
	Segments int    // segments to send
	Rate     int    // segments per second
	EMFDocs  int    // EMF documents to send over TCP after the segments (0: none)
	// Settle bounds the wait for the last deliveries (default 10s).
	Settle time.Duration
	Args   []string          // extra sidecar flags
	Env    map[string]string // extra environment of the measured process (GOMAXPROCS, ...)

	// Daemon, when set, is the path of an AWS X-Ray daemon binary
	// (github.com/aws/aws-xray-daemon, cmd/tracing) to measure instead of
	// the sidecar, under the same segment load: the peer for a side-by-side
	// ratio. Bin, Args and EMFDocs are then ignored; see runDaemon.
	Daemon string
	// DaemonBufferMB is the daemon's TotalBufferSizeMB (default 16, the
	// sidecar's default memory budget).
	DaemonBufferMB int
	// Emitter sends the segments through Sidelight's own exporter
	// (xray.Emitter, what the middleware uses) instead of one datagram per
	// segment the way the X-Ray SDKs send them. The emitter hands the
	// kernel runs of datagrams in one call (UDP segmentation offload),
	// which the sidecar reads as runs (UDP_GRO). The documents carry the
	// same fields as the datagram template.
	Emitter bool
	// Unprivileged runs the sidecar as uid and gid 65534, the way the
	// container image's nonroot user runs it: no CAP_NET_ADMIN, so its
	// receive buffer is capped at net.core.rmem_max. The binary's
	// directory must be readable by that user.
	Unprivileged bool
}

// Result is what a run measured.
type Result struct {
	Sent, Delivered  int
	LossPct          float64
	SendSeconds      float64 // time spent sending
	SentPerSec       float64 // achieved send rate
	DeliveredPerSec  float64 // delivered / (time from first send to last delivery)
	CPU              time.Duration
	CPUPerSegmentUs  float64
	HarnessCPU       time.Duration // load generator + fake AWS, same interval
	PeakRSSBytes     int64
	RcvBufBytes      int
	UDPSockets       int // sockets sharing the sidecar's X-Ray port (see udpsock.Open)
	EMFDatapoints    float64
	PutMetricData    int
	RequestsPer1M    float64
	EMFValuesCorrect bool
	Counters         map[string]uint64
	ExitCode         int

	// From the sidecar's /status, polled every 100 ms while the load runs:
	// the most of its memory budget in use, and of its Go heap (live and
	// not yet collected), at any poll; and the soft memory limit it chose.
	PeakBudgetBytes  int64
	PeakGoHeapBytes  int64
	BudgetBytes      int64
	MemoryLimitBytes int64
	MemoryLimitFrom  string

	// Daemon run only (Options.Daemon): the daemon has no status
	// endpoint, so how many datagrams it received is unknown; the kernel's
	// drop counter of its socket is read from /proc/net/udp instead.
	Daemon         bool
	DaemonBufferMB int
	KernelDrops    int64
}

// segmentTemplate is a realistic 420-byte datagram (387-byte document); segment patches its
// trace id and id.
var segmentTemplate = []byte(`{"format": "json", "version": 1}` + "\n" +
	`{"trace_id":"1-6553f100-000000000000000000000000","id":"0000000000000000","name":"checkout","start_time":1700000000.123,"end_time":1700000000.456,` +
	`"http":{"request":{"method":"GET","url":"http://checkout.local/cart/42","client_ip":"10.0.0.8"},"response":{"status":200,"content_length":512}},` +
	`"aws":{"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},"annotations":{"route":"/cart/{id}"}}`)

var (
	traceIDAt = bytes.Index(segmentTemplate, []byte(`1-6553f100-`)) + len(`1-6553f100-`)
	idAt      = bytes.Index(segmentTemplate, []byte(`"id":"`)) + len(`"id":"`)
)

// segment builds datagram i (unique trace id and id) into dst.
func segment(dst []byte, i int) []byte {
	dst = append(dst[:0], segmentTemplate...)
	putHex(dst[traceIDAt+8:traceIDAt+24], uint64(i))
	putHex(dst[idAt:idAt+16], uint64(i+1))
	return dst
}

func putHex(dst []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// Run starts the sidecar (or, with Options.Daemon, the X-Ray daemon)
// against a fake AWS, sends the load, waits for delivery, measures, and
// stops the process with SIGTERM.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Settle == 0 {
		o.Settle = 10 * time.Second
	}
	if o.Daemon != "" {
		return runDaemon(ctx, o)
	}
	if o.Bin == "" {
		return Result{}, fmt.Errorf("loadtest: Options.Bin is required")
	}
	var r Result
	fake := fakeaws.New(fakeaws.WithoutRetention())
	defer fake.Close()
	env := fake.Env()
	for k, v := range o.Env {
		env[k] = v
	}
	args := append([]string{"-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "off", "-emf-tcp-addr", "127.0.0.1:0",
		"-emf-udp-addr", "off", "-otlp-http-addr", "off", "-otlp-grpc-addr", "off",
		"-status-addr", "127.0.0.1:0", "-log-level", "warn"}, o.Args...)
	// -log-level warn would hide the start line; keep info for it.
	args[len(args)-len(o.Args)-1] = "info"
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	uid := -1
	if o.Unprivileged {
		uid = 65534
	}
	p, err := StartAs(sctx, o.Bin, uid, env, args...)
	if err != nil {
		return r, err
	}
	defer p.Kill()
	if v, ok := p.Info["xray_udp_rcvbuf_effective"].(float64); ok {
		r.RcvBufBytes = int(v)
	}
	if v, ok := p.Info["xray_udp_sockets"].(float64); ok {
		r.UDPSockets = int(v)
	}
	if v, ok := p.Info["memory_budget_bytes"].(float64); ok {
		r.BudgetBytes = int64(v)
	}
	if v, ok := p.Info["memory_limit_bytes"].(float64); ok {
		r.MemoryLimitBytes = int64(v)
	}
	r.MemoryLimitFrom, _ = p.Info["memory_limit_source"].(string)
	stopPoll := pollMemory(p.Addrs["status"], &r)
	defer stopPoll()
	if err := sendSegments(ctx, o, fake, p, &r); err != nil {
		return r, err
	}

	// EMF: official-format documents over TCP; aggregates are flushed at
	// SIGTERM, then compared with what was sent.
	var prod *emfgen.Producer
	if o.EMFDocs > 0 {
		prod = emfgen.NewProducer("load", 1)
		prod.TimestampMs = time.Now().UnixMilli() // CloudWatch takes only recent datapoints
		tcp, err := net.Dial("tcp", p.Addrs["emf_tcp"])
		if err != nil {
			return r, err
		}
		buf := make([]byte, 0, 1<<16)
		for i := range o.EMFDocs {
			buf = append(append(buf, prod.Doc(i)...), '\n')
			if len(buf) > 60000 || i == o.EMFDocs-1 {
				if _, err := tcp.Write(buf); err != nil {
					tcp.Close()
					return r, err
				}
				buf = buf[:0]
			}
		}
		tcp.Close()
		r.EMFDatapoints = prod.Want.Count()
		// Wait until the sidecar has read every line.
		for deadline := time.Now().Add(60 * time.Second); ; {
			c, err := counters(p.Addrs["status"])
			if err != nil {
				return r, err
			}
			if int(c["emf.lines"]) >= o.EMFDocs || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling the sidecar's status endpoint
		}
	}
	if rss, err := p.PeakRSS(); err == nil {
		r.PeakRSSBytes = rss
	}
	stopPoll()
	if r.Counters, err = counters(p.Addrs["status"]); err != nil {
		return r, err
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return r, err
	}
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if r.ExitCode, err = p.Wait(wctx); err != nil {
		return r, err
	}
	if prod != nil {
		r.PutMetricData = fake.Requests("PutMetricData")
		r.RequestsPer1M = float64(r.PutMetricData) / r.EMFDatapoints * 1e6
		got, stats := emfgen.Received(fake.Metrics())
		r.EMFValuesCorrect = len(stats) == 0 && emfgen.Diff(prod.Want, got) == ""
	}
	return r, nil
}

// sendSegments sends o.Segments datagrams to p's xray_udp address at
// o.Rate, waits for their delivery at fake, and fills r's segment fields:
// sent, delivered, loss, rates, and the CPU of p and of this process over
// that interval.
func sendSegments(ctx context.Context, o Options, fake *fakeaws.Server, p *Process, r *Result) error {
	cpu0, err := p.CPU()
	if err != nil {
		return err
	}
	self0 := SelfCPU()

	start := time.Now()
	if o.Emitter {
		if err := emitSegments(ctx, o, p.Addrs["xray_udp"], start); err != nil {
			return err
		}
	} else if err := SendDatagrams(p.Addrs["xray_udp"], o.Segments, o.Rate, start); err != nil {
		return err
	}
	r.Sent = o.Segments
	r.SendSeconds = time.Since(start).Seconds()
	r.SentPerSec = float64(r.Sent) / r.SendSeconds

	// Wait for delivery: until everything arrived or nothing new arrived
	// for Settle.
	last, lastChange := -1, time.Now()
	for {
		n := fake.SegmentCount()
		if n != last {
			last, lastChange = n, time.Now()
		}
		if n >= r.Sent || time.Since(lastChange) > o.Settle {
			break
		}
		select {
		case <-fake.Changed():
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.Delivered = fake.SegmentCount()
	r.DeliveredPerSec = float64(r.Delivered) / lastChange.Sub(start).Seconds()
	r.LossPct = 100 * float64(r.Sent-r.Delivered) / float64(r.Sent)
	cpu1, err := p.CPU()
	if err != nil {
		return err
	}
	r.CPU = cpu1 - cpu0
	r.HarnessCPU = SelfCPU() - self0
	if r.Delivered > 0 {
		r.CPUPerSegmentUs = float64(r.CPU.Microseconds()) / float64(r.Delivered)
	}
	return nil
}

// runDaemon is Run for Options.Daemon: the segment load only (the daemon
// takes no EMF and has no status endpoint). The daemon gets a config file
// in a temporary directory: local mode (no EC2 metadata), region
// us-east-1, the fake as its X-Ray endpoint, UDP and TCP (its proxy) on
// free loopback ports, o.DaemonBufferMB of segment buffers, and log level
// warn, so that it does not log a line per batch sent (its default, prod,
// does). It keeps the kernel's default SO_RCVBUF (it sets none), which is
// reported as RcvBufBytes.
func runDaemon(ctx context.Context, o Options) (Result, error) {
	if o.DaemonBufferMB == 0 {
		o.DaemonBufferMB = 16
	}
	r := Result{Daemon: true, DaemonBufferMB: o.DaemonBufferMB, KernelDrops: -1}
	fake := fakeaws.New(fakeaws.WithoutRetention())
	defer fake.Close()
	env := fake.Env()
	for k, v := range o.Env {
		env[k] = v
	}
	dir, err := os.MkdirTemp("", "sidelight-daemon")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	udpAddr, err := freeAddr("udp")
	if err != nil {
		return r, err
	}
	tcpAddr, err := freeAddr("tcp")
	if err != nil {
		return r, err
	}
	cfg := fmt.Sprintf(`Version: 2
TotalBufferSizeMB: %d
Region: "us-east-1"
Endpoint: %q
LocalMode: true
Socket:
  UDPAddress: %q
  TCPAddress: %q
Logging:
  LogLevel: "warn"
`, o.DaemonBufferMB, fake.URL(), udpAddr, tcpAddr)
	cfgPath := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return r, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := StartDaemon(sctx, o.Daemon, env, udpAddr, "-c", cfgPath)
	if err != nil {
		return r, err
	}
	defer p.Kill()
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_default"); err == nil {
		r.RcvBufBytes, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if err := sendSegments(ctx, o, fake, p, &r); err != nil {
		return r, err
	}
	if rss, err := p.PeakRSS(); err == nil {
		r.PeakRSSBytes = rss
	}
	_, portStr, _ := net.SplitHostPort(udpAddr)
	port, _ := strconv.Atoi(portStr)
	if d, err := p.UDPDrops(port); err == nil {
		r.KernelDrops = d
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return r, err
	}
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if r.ExitCode, err = p.Wait(wctx); err != nil {
		return r, fmt.Errorf("%w\n%s", err, p.Stderr())
	}
	return r, nil
}

// freeAddr returns a loopback address with a port that was free a moment
// ago (bound to port 0, then closed), for a process that cannot report
// the port it picked.
func freeAddr(network string) (string, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.LocalAddr().String(), nil
	default:
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer l.Close()
		return l.Addr().String(), nil
	}
}

// pollMemory reads the sidecar's /status every 100 ms and keeps the
// highest budget use and Go heap in r, until the returned function is
// called (it waits for the poller to finish).
func pollMemory(addr string, r *Result) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			resp, err := http.Get("http://" + addr + "/status")
			if err != nil {
				continue
			}
			var s struct{ Info map[string]any }
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if err != nil {
				continue
			}
			if v, ok := s.Info["memory_budget_used"].(float64); ok {
				r.PeakBudgetBytes = max(r.PeakBudgetBytes, int64(v))
			}
			if v, ok := s.Info["go_heap_alloc_bytes"].(float64); ok {
				r.PeakGoHeapBytes = max(r.PeakGoHeapBytes, int64(v))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

func counters(addr string) (map[string]uint64, error) {
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s struct{ Counters map[string]uint64 }
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s.Counters, err
}

// String formats a result for BENCHMARKS.md.
func (r Result) String() string {
	if r.Daemon {
		return r.daemonString()
	}
	s := fmt.Sprintf("segments: sent %d at %.0f/s, delivered %d (%.0f/s), loss %.3f %%, sidecar CPU %.2f µs/segment, peak RSS %.1f MB, SO_RCVBUF %d\nharness (load generator + fake AWS) CPU: %.2f µs/segment",
		r.Sent, r.SentPerSec, r.Delivered, r.DeliveredPerSec, r.LossPct, r.CPUPerSegmentUs, float64(r.PeakRSSBytes)/1e6, r.RcvBufBytes,
		float64(r.HarnessCPU.Microseconds())/float64(max(r.Delivered, 1)))
	if r.EMFDatapoints > 0 {
		s += fmt.Sprintf("\nemf: %s datapoints, %d PutMetricData requests (%.1f per 1M datapoints), values and counts exact: %v",
			strconv.FormatFloat(r.EMFDatapoints, 'f', 0, 64), r.PutMetricData, r.RequestsPer1M, r.EMFValuesCorrect)
	}
	s += fmt.Sprintf("\nlost in the kernel (sent - received by the sidecar): %d; dropped by the sidecar for lack of budget: %d",
		r.Sent-int(r.Counters["segments.received"]), r.Counters["segments.dropped.budget_full"])
	s += fmt.Sprintf("\nmemory: budget %.1f MB, at most %.1f MB of it used; Go heap at most %.1f MB; soft memory limit %.1f MB (%s); peak RSS %.1f MB",
		float64(r.BudgetBytes)/1e6, float64(r.PeakBudgetBytes)/1e6, float64(r.PeakGoHeapBytes)/1e6,
		float64(r.MemoryLimitBytes)/1e6, cmp.Or(r.MemoryLimitFrom, "unknown"), float64(r.PeakRSSBytes)/1e6)
	return s + fmt.Sprintf("\nexit code after SIGTERM: %d", r.ExitCode)
}

func (r Result) daemonString() string {
	s := fmt.Sprintf("segments: sent %d at %.0f/s, delivered %d (%.0f/s), loss %.3f %%, daemon CPU %.2f µs/segment, peak RSS %.1f MB, SO_RCVBUF %d (kernel default), buffer memory %d MB\nharness (load generator + fake AWS) CPU: %.2f µs/segment",
		r.Sent, r.SentPerSec, r.Delivered, r.DeliveredPerSec, r.LossPct, r.CPUPerSegmentUs, float64(r.PeakRSSBytes)/1e6, r.RcvBufBytes, r.DaemonBufferMB,
		float64(r.HarnessCPU.Microseconds())/float64(max(r.Delivered, 1)))
	if r.KernelDrops >= 0 {
		s += fmt.Sprintf("\nlost in the kernel (drops of the daemon's socket in /proc/net/udp): %d; lost in the daemon (sent - kernel drops - delivered): %d",
			r.KernelDrops, int64(r.Sent-r.Delivered)-r.KernelDrops)
	} else {
		s += "\nlost in the kernel: unknown (daemon's socket not found in /proc/net/udp)"
	}
	return s + fmt.Sprintf("\nexit code after SIGTERM: %d", r.ExitCode)
}

// SelfCPU returns this process's user+system CPU time.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SendDatagrams sends n X-Ray daemon datagrams of 420 bytes (header line
// and a 387-byte segment, each with its own trace and segment id) to addr at
// rate per second from start, 64 per sendmmsg(2), one segment per
// datagram as the X-Ray SDKs send.
func SendDatagrams(addr string, n, rate int, start time.Time) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn.(*net.UDPConn))
	const batch = 64
	msgs := make([]ipv4.Message, batch)
	bufs := make([][]byte, batch)
	for sent := 0; sent < n; {
		n := min(batch, n-sent)
		for j := range n {
			bufs[j] = segment(bufs[j][:0], sent+j)
			msgs[j].Buffers = [][]byte{bufs[j]}
		}
		for off := 0; off < n; {
			k, err := pc.WriteBatch(msgs[off:n], 0)
			if err != nil {
				if err == syscall.ENOBUFS || err == syscall.EAGAIN {
					continue
				}
				return fmt.Errorf("send: %w", err)
			}
			off += k
		}
		sent += n
		if due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due)) // pacing the load generator
		}
	}
	return nil
}

// emitSegments sends o.Segments segments to addr at o.Rate from start
// through Sidelight's xray.Emitter, 64 at a time between pauses, and
// waits until the emitter has sent them all.
func emitSegments(ctx context.Context, o Options, addr string, start time.Time) error {
	em, err := xray.NewEmitter(xray.WithDaemonAddress(addr))
	if err != nil {
		return err
	}
	base := time.Now()
	route := []xray.Annotation{xray.StringAttr("route", "/cart/{id}")}
	const batch = 64
	seg := new(xray.Segment) // ExportSegment reads it during the call only
	for sent := 0; sent < o.Segments; {
		n := min(batch, o.Segments-sent)
		for range n {
			seg.Reset()
			seg.Name = "checkout"
			seg.TraceID, seg.ID = xray.NewTraceID(base), xray.NewSpanID()
			seg.Start, seg.End = base, base.Add(333*time.Millisecond)
			seg.HTTP = xray.HTTP{Method: "GET", URL: "http://checkout.local/cart/42", ClientIP: "10.0.0.8", Status: 200, ContentLength: 512}
			seg.Annotations = append(seg.Annotations, route...)
			em.ExportSegment(seg)
		}
		sent += n
		if due := start.Add(time.Duration(float64(sent) / float64(o.Rate) * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due)) // pacing the load generator
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return em.Shutdown(sctx)
}
