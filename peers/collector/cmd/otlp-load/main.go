// Command otlp-load measures the sidecar and the peer OpenTelemetry
// Collector (package collector) side by side under the same OTLP/HTTP
// load: it builds both, runs each as a process of its own against its own
// internal/fakeaws, posts protobuf ExportTraceServiceRequests of -batch
// spans at -rate spans per second until -n spans were sent, waits for the
// X-Ray documents to arrive, and prints delivered, loss, CPU per span
// (utime+stime of the process from /proc, over the interval from the first
// request to the last delivery) and peak RSS (VmHWM).
//
//	go run ./collector/cmd/otlp-load -n 1000000 -rate 100000 -batch 512 -runs 3
//
// (from peers/). Each span is a SERVER span of a small HTTP service, with
// a unique trace ID; the request bodies are encoded before the clock
// starts, so the load generator's own CPU is mostly the HTTP client's.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	collpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

type options struct {
	n, rate, batch, senders int
	settle                  time.Duration
	sidecarArgs             []string
	sidecarEnv              map[string]string
}

type result struct {
	name                 string
	sent, delivered      int
	refused, failed      int
	sendSeconds          float64
	cpu                  time.Duration
	peakRSS              int64
	harnessCPU           time.Duration
	counters             map[string]uint64
	cpuPerSpanUs, lossPc float64
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1_000_000, "spans to send")
	flag.IntVar(&o.rate, "rate", 100_000, "spans per second")
	flag.IntVar(&o.batch, "batch", 512, "spans per request")
	flag.IntVar(&o.senders, "senders", 8, "concurrent HTTP requests at most")
	flag.DurationVar(&o.settle, "settle", 15*time.Second, "stop waiting for deliveries after this long without one")
	runs := flag.Int("runs", 1, "side-by-side runs (collector, then sidecar, each run)")
	only := flag.String("only", "", `"sidecar" or "collector": measure only that one`)
	sargs := flag.String("sidecar-args", "", "extra sidecar flags, space-separated (e.g. -cpuprofile /tmp/cpu.out)")
	senv := flag.String("sidecar-env", "", "extra sidecar environment, K=V pairs separated by commas")
	flag.Parse()
	o.sidecarArgs = strings.Fields(*sargs)
	o.sidecarEnv = map[string]string{}
	for _, kv := range strings.Split(*senv, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			o.sidecarEnv[k] = v
		}
	}
	if err := run(o, *runs, *only); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(o options, runs int, only string) error {
	dir, err := os.MkdirTemp("", "otlp-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sidecar, collector := filepath.Join(dir, "sidecar"), filepath.Join(dir, "peer-otelcol")
	if err := build(filepath.Join("..", ""), "./sidecar", sidecar); err != nil {
		return err
	}
	if err := build(".", "./collector/cmd/peer-otelcol", collector); err != nil {
		return err
	}
	bodies, err := encode(o)
	if err != nil {
		return err
	}
	fmt.Printf("%d spans at %d/s in requests of %d spans (%d bytes each, protobuf), %d runs\n", o.n, o.rate, o.batch, len(bodies.template), runs)
	for i := 1; i <= runs; i++ {
		var c, s result
		if only != "sidecar" {
			if c, err = measure(o, bodies, "collector", collector); err != nil {
				return fmt.Errorf("collector: %w", err)
			}
			fmt.Printf("run %d %s\n", i, c)
		}
		if only != "collector" {
			if s, err = measure(o, bodies, "sidecar", sidecar); err != nil {
				return fmt.Errorf("sidecar: %w", err)
			}
			fmt.Printf("run %d %s\n", i, s)
			fmt.Printf("run %d sidecar counters: %v\n", i, s.counters)
		}
		if only == "" {
			fmt.Printf("run %d sidecar/collector: CPU per span %.3f, peak RSS %.3f\n", i, s.cpuPerSpanUs/c.cpuPerSpanUs, float64(s.peakRSS)/float64(c.peakRSS))
		}
	}
	return nil
}

func (r result) String() string {
	return fmt.Sprintf("%s: sent %d in %.1f s, delivered %d, loss %.3f %%, refused requests %d (retried), failed %d, CPU %.2f µs/span, peak RSS %.1f MB, harness CPU %.2f µs/span",
		r.name, r.sent, r.sendSeconds, r.delivered, r.lossPc, r.refused, r.failed, r.cpuPerSpanUs, float64(r.peakRSS)/1e6,
		float64(r.harnessCPU.Microseconds())/float64(max(r.delivered, 1)))
}

func build(dir, pkg, out string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// bodies is one encoded request and where each span's trace ID counter
// sits in it, so that every request sent gets new trace IDs by patching.
type bodies struct {
	template []byte
	at       []int // offsets of the 8 counter bytes of each trace ID
}

var marker = []byte{0xd1, 0xe2, 0xf3, 0x04, 0x15, 0x26}

func encode(o options) (*bodies, error) {
	now := time.Now()
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("service.name", "checkout"), str("service.version", "1.4.2"),
		str("telemetry.sdk.name", "opentelemetry"), str("telemetry.sdk.language", "go"), str("telemetry.sdk.version", "1.47.0"),
	}}
	spans := make([]*tracepb.Span, o.batch)
	for i := range spans {
		tid := make([]byte, 16)
		binary.BigEndian.PutUint32(tid, uint32(now.Unix()))
		copy(tid[4:], marker)
		binary.BigEndian.PutUint16(tid[10:], uint16(i))
		sid := make([]byte, 8)
		binary.BigEndian.PutUint64(sid, uint64(i+1))
		spans[i] = &tracepb.Span{
			TraceId: tid, SpanId: sid, Name: "GET /cart/{id}", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(333 * time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{
				str("http.request.method", "GET"), str("url.full", "http://checkout.local/cart/42"),
				str("http.route", "/cart/{id}"), str("client.address", "10.0.0.8"),
				{Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}},
			},
			Status: &tracepb.Status{},
		}
	}
	req := &collpb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   res,
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "net/http"}, Spans: spans}},
	}}}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	out := &bodies{template: b}
	for off := 0; ; {
		i := bytes.Index(b[off:], marker)
		if i < 0 {
			break
		}
		out.at = append(out.at, off+i)
		off += i + len(marker)
	}
	if len(out.at) != o.batch {
		return nil, fmt.Errorf("found %d trace IDs in the request, want %d", len(out.at), o.batch)
	}
	return out, nil
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// body returns request number seq: the template with the trace IDs'
// middle 6 bytes set to seq (spans differ by their last bytes already).
func (b *bodies) body(seq uint64) []byte {
	out := bytes.Clone(b.template)
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], seq)
	for _, at := range b.at {
		copy(out[at:at+6], c[2:])
	}
	return out
}

// proc is a measured process.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
	exited chan struct{}
}

func start(bin string, env map[string]string, args []string, ready func(line []byte) bool) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	pr, pw := io.Pipe()
	cmd.Stderr, cmd.Stdout = pw, pw
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	up := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.Write(sc.Bytes())
			p.log.WriteByte('\n')
			p.mu.Unlock()
			if ready(sc.Bytes()) {
				once.Do(func() { close(up) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() { _ = cmd.Wait(); pw.Close(); close(p.exited) }()
	select {
	case <-up:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited at start:\n%s", bin, p.logs())
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, fmt.Errorf("%s did not start:\n%s", bin, p.logs())
	}
}

func (p *proc) logs() string { p.mu.Lock(); defer p.mu.Unlock(); return p.log.String() }

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(60 * time.Second):
		p.kill()
		return errors.New("did not stop within 60 s of SIGTERM")
	}
}

// cpu is utime+stime of the process (/proc/<pid>/stat, fields 14 and 15).
func (p *proc) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat")
	}
	return time.Duration(ut+st) * time.Second / 100, nil
}

// peakRSS is VmHWM in bytes.
func (p *proc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func measure(o options, b *bodies, name, bin string) (result, error) {
	r := result{name: name}
	fake := fakeaws.New(fakeaws.WithoutRetention())
	defer fake.Close()
	env := fake.Env()
	var (
		p    *proc
		err  error
		addr string
		stat string
	)
	if name == "sidecar" {
		for k, v := range o.sidecarEnv {
			env[k] = v
		}
		addrs := make(chan map[string]any, 1)
		p, err = start(bin, env, append([]string{"-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "off", "-emf-tcp-addr", "off",
			"-emf-udp-addr", "off", "-otlp-http-addr", "127.0.0.1:0", "-otlp-grpc-addr", "off", "-status-addr", "127.0.0.1:0"}, o.sidecarArgs...),
			func(line []byte) bool {
				var rec struct {
					Msg  string         `json:"msg"`
					Info map[string]any `json:"info"`
				}
				if json.Unmarshal(line, &rec) == nil && rec.Msg == "sidecar started" {
					addrs <- rec.Info
					return true
				}
				return false
			})
		if err != nil {
			return r, err
		}
		info := <-addrs
		addr, _ = info["addr_otlp_http"].(string)
		stat, _ = info["addr_status"].(string)
	} else {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return r, err
		}
		addr = l.Addr().String()
		l.Close()
		p, err = start(bin, env, []string{"-otlp-http-addr", addr, "-xray-endpoint", fake.URL()},
			func(line []byte) bool { return bytes.Contains(line, []byte(`"collector started"`)) })
		if err != nil {
			return r, err
		}
	}
	defer p.kill()

	cpu0, err := p.cpu()
	if err != nil {
		return r, err
	}
	self0 := selfCPU()
	start := time.Now()
	r.refused, r.failed = send(o, b, "http://"+addr+"/v1/traces", start)
	r.sent = (o.n + o.batch - 1) / o.batch * o.batch
	r.sendSeconds = time.Since(start).Seconds()
	last, lastChange := -1, time.Now()
	for {
		n := fake.SegmentCount()
		if n != last {
			last, lastChange = n, time.Now()
		}
		if n >= r.sent || time.Since(lastChange) > o.settle {
			break
		}
		select {
		case <-fake.Changed():
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.delivered = fake.SegmentCount()
	cpu1, err := p.cpu()
	if err != nil {
		return r, err
	}
	r.cpu = cpu1 - cpu0
	r.harnessCPU = selfCPU() - self0
	if r.peakRSS, err = p.peakRSS(); err != nil {
		return r, err
	}
	r.lossPc = 100 * float64(r.sent-r.delivered) / float64(r.sent)
	r.cpuPerSpanUs = float64(r.cpu.Microseconds()) / float64(max(r.delivered, 1))
	if stat != "" {
		if resp, err := http.Get("http://" + stat + "/status"); err == nil {
			var s struct{ Counters map[string]uint64 }
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			r.counters = s.Counters
		}
	}
	if err := p.stop(); err != nil {
		return r, fmt.Errorf("%w\n%s", err, p.logs())
	}
	return r, nil
}

// send posts o.n/o.batch requests (rounded up) at o.rate spans per second from
// start, with at most o.senders in flight. A refused request (429 or 503)
// is retried after its Retry-After (else 1 s), as the OpenTelemetry SDKs'
// exporters do, up to 20 times; refused counts the refusals, failed the
// requests given up on.
func send(o options, b *bodies, url string, start time.Time) (refused, failed int) {
	tr := &http.Transport{MaxIdleConnsPerHost: o.senders, MaxConnsPerHost: o.senders}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var nRefused, nFailed atomic.Int64
	work := make(chan uint64, o.senders)
	var wg sync.WaitGroup
	for range o.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range work {
				body := b.body(seq)
				for try := 0; ; try++ {
					wait := time.Second
					resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(body))
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
						nRefused.Add(1)
						if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
							wait = time.Duration(s) * time.Second
						}
					}
					if try == 20 {
						nFailed.Add(1)
						break
					}
					time.Sleep(wait) // as the OpenTelemetry SDKs' exporters do: Retry-After, else a pause
				}
			}
		}()
	}
	reqs := (o.n + o.batch - 1) / o.batch
	for i := 0; i < reqs; i++ {
		due := start.Add(time.Duration(float64((i+1)*o.batch) / float64(o.rate) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d) // pacing the load
		}
		work <- uint64(i + 1)
	}
	close(work)
	wg.Wait()
	return int(nRefused.Load()), int(nFailed.Load())
}
