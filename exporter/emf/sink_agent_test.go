package emf

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// agent is a stand-in CloudWatch agent: a real TCP listener that reads
// newline-delimited documents.
type agent struct {
	ln    net.Listener
	lines chan string
	conns chan net.Conn
	done  chan struct{}
}

func startAgent(t *testing.T, addr string) *agent {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{ln: ln, lines: make(chan string, 100), conns: make(chan net.Conn, 10), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.conns <- c
			go func() {
				sc := bufio.NewScanner(c)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					a.lines <- sc.Text()
				}
			}()
		}
	}()
	return a
}

// stop closes the listener and every accepted connection: the agent is gone.
func (a *agent) stop() {
	a.ln.Close()
	<-a.done
	for {
		select {
		case c := <-a.conns:
			c.Close()
		default:
			return
		}
	}
}

func (a *agent) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-a.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("agent received nothing within 10s")
		return ""
	}
}

func waitState(t *testing.T, ch <-chan bool, want bool) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("connection state %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no connection state change to %v within 10s", want)
	}
}

func doc(i int) []byte { return fmt.Appendf(nil, `{"n":%d}`, i) }

// TestAgentSinkSurvivesRestart closes a real agent listener, writes while it
// is away (overflowing the buffer), reopens it on the same port and checks
// that the buffered documents arrive in order and the overflow is counted.
func TestAgentSinkSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	a := startAgent(t, "127.0.0.1:0")
	addr := a.ln.Addr().String()
	logs := &countingHandler{counts: map[string]int{}}
	s, err := NewAgentSink("tcp://"+addr, WithAgentBuffer(5, 1<<20), WithAgentBackoff(time.Millisecond, 20*time.Millisecond),
		WithAgentLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	state := make(chan bool, 10)
	s.mu.Lock()
	s.onState = func(up bool) { state <- up }
	s.mu.Unlock()

	if err := s.WriteDocument(ctx, doc(0)); err != nil {
		t.Fatal(err)
	}
	waitState(t, state, true)
	if got := a.next(t); got != `{"n":0}` {
		t.Fatalf("agent got %q", got)
	}
	if err := s.Flush(ctx); err != nil { // the writer has counted it as sent
		t.Fatal(err)
	}

	if !s.Stats().Connected {
		t.Error("Stats().Connected is false while connected")
	}
	a.stop()
	waitState(t, state, false)
	if s.Stats().Connected {
		t.Error("Stats().Connected is true after the agent closed the connection")
	}
	for i := 1; i <= 8; i++ { // 5 fit, 3 are dropped
		if err := s.WriteDocument(ctx, doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Dropped != 3 || st.Queued != 5 || st.Sent != 1 {
		t.Fatalf("while away: %+v, want Sent 1, Dropped 3, Queued 5", st)
	}

	a2 := startAgent(t, addr)
	defer a2.stop()
	waitState(t, state, true)
	for i := 1; i <= 5; i++ {
		if got, want := a2.next(t), fmt.Sprintf(`{"n":%d}`, i); got != want {
			t.Fatalf("after restart got %q, want %q", got, want)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	if st.Sent != 6 || st.Dropped != 3 || st.Queued != 0 || st.Reconnects != 1 {
		t.Errorf("after restart: %+v, want Sent 6, Dropped 3, Queued 0, Reconnects 1", st)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// One line per outage, not one per failed attempt or dropped document.
	logs.mu.Lock()
	for _, msg := range []string{"emf: agent unreachable, buffering documents", "emf: agent buffer full, dropping documents", "emf: agent reachable again"} {
		if logs.counts[msg] != 1 {
			t.Errorf("logged %q %d times, want once: %v", msg, logs.counts[msg], logs.counts)
		}
	}
	logs.mu.Unlock()
	if err := s.WriteDocument(ctx, doc(9)); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Shutdown: %v, want ErrClosed", err)
	}
}

// TestAgentSinkDeadlines checks Flush and Shutdown return when their
// context ends while no agent listens, and that Shutdown counts what it
// could not send.
func TestAgentSinkDeadlines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s, err := NewAgentSink("tcp://"+addr, WithAgentBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.WriteDocument(context.Background(), doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with no agent: %v, want DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := s.Shutdown(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with no agent: %v, want DeadlineExceeded", err)
	}
	st := s.Stats()
	// (Errors is not checked: how many dials fit in the deadline depends
	// on the machine.)
	if st.Dropped != 3 || st.Sent != 0 || st.Queued != 0 {
		t.Errorf("stats %+v, want Dropped 3, Sent 0, Queued 0", st)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestAgentSinkUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := NewAgentSink("udp://" + pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		if err := s.WriteDocument(ctx, doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, maxUDPDoc)
	if err := s.WriteDocument(ctx, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized UDP document: %v, want ErrTooLarge", err)
	}
	buf := make([]byte, 70000)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 3 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(buf[:n]), fmt.Sprintf("{\"n\":%d}\n", i); got != want {
			t.Errorf("datagram %d = %q, want %q", i, got, want)
		}
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sent != 3 || st.Dropped != 1 {
		t.Errorf("stats %+v, want Sent 3, Dropped 1", st)
	}
}

func TestAgentSinkByteLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := NewAgentSink("tcp://"+addr, WithAgentBuffer(100, 20), WithAgentBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // each is 8 bytes with its newline: two fit in 20
		_ = s.WriteDocument(context.Background(), doc(i))
	}
	if st := s.Stats(); st.Queued != 2 || st.Dropped != 2 {
		t.Errorf("stats %+v, want Queued 2, Dropped 2", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
	if st := s.Stats(); st.Dropped != 4 {
		t.Errorf("after Shutdown Dropped %d, want 4", st.Dropped)
	}
}

func TestAgentEndpoints(t *testing.T) {
	for _, ep := range []string{"", "127.0.0.1:25888", "http://127.0.0.1:25888", "tcp://127.0.0.1", "tcp://:25888/x", "udp://", "tcp://[::1"} {
		if s, err := NewAgentSink(ep); err == nil {
			_ = s.Shutdown(context.Background())
			t.Errorf("NewAgentSink(%q) accepted a bad endpoint", ep)
		}
	}
	if _, err := NewAgentSink("tcp://127.0.0.1:1", WithAgentBuffer(0, 1)); err == nil {
		t.Error("zero buffer accepted")
	}
}

// TestLoggerThroughAgent runs the Logger against a real listener with the
// configuration taken from the environment, and validates what arrives.
func TestLoggerThroughAgent(t *testing.T) {
	a := startAgent(t, "127.0.0.1:0")
	defer a.stop()
	env := map[string]string{
		"AWS_EMF_AGENT_ENDPOINT": "tcp://" + a.ln.Addr().String(),
		"AWS_EMF_SERVICE_NAME":   "orders",
		"AWS_EMF_NAMESPACE":      "Shop",
	}
	l, err := New(withGetenv(func(k string) string { return env[k] }))
	if err != nil {
		t.Fatal(err)
	}
	if l.Environment() != Agent {
		t.Fatalf("environment %s, want Agent", l.Environment())
	}
	for i := range 150 {
		if err := l.PutMetric("Latency", float64(i), Milliseconds); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		line := a.next(t)
		if err := schematest.EMF([]byte(line)); err != nil {
			t.Fatalf("%v\n%s", err, line)
		}
		if !strings.Contains(line, `"LogGroupName":"orders-metrics"`) || !strings.Contains(line, `"Namespace":"Shop"`) {
			t.Errorf("agent document lacks log group or namespace: %s", line)
		}
	}
	if err := l.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// FuzzAgentEndpoint parses arbitrary endpoints: a bad one is an error, a
// good one a working sink, never a panic.
func FuzzAgentEndpoint(f *testing.F) {
	for _, s := range []string{"tcp://127.0.0.1:25888", "udp://[::1]:25888", "tcp://cwagent:25888/", "http://x:1", "tcp://%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ep string) {
		s, err := NewAgentSink(ep, WithAgentBackoff(time.Hour, time.Hour))
		if err != nil {
			return
		}
		if s.network != "tcp" && s.network != "udp" {
			t.Fatalf("%q accepted with network %q", ep, s.network)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.Shutdown(ctx)
	})
}

// TestAgentSinkWriteAllocs checks that queueing a document does not
// allocate once the sink's buffers are warm.
func TestAgentSinkWriteAllocs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// No agent and a backoff of an hour: the writer stays asleep, so only
	// WriteDocument runs. The buffer drops beyond 10 documents.
	s, err := NewAgentSink("tcp://"+addr, WithAgentBuffer(10, 1<<20), WithAgentBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.Shutdown(ctx)
	}()
	d := doc(1)
	ctx := context.Background()
	for range 20 {
		_ = s.WriteDocument(ctx, d)
	}
	if a := testing.AllocsPerRun(100, func() { _ = s.WriteDocument(ctx, d) }); a != 0 {
		t.Errorf("WriteDocument allocates %v times when the buffer is full", a)
	}
}

// TestLoggerSplitsForUDP checks the Logger splits documents to fit one UDP
// datagram each when it writes to a UDP agent.
func TestLoggerSplitsForUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// Room for every datagram: UDP on loopback drops what the socket
	// buffer cannot hold.
	if err := pc.(*net.UDPConn).SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	s, err := NewAgentSink("udp://" + pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(WithSink(s), WithEnvironment(Agent), WithLogGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	// About 100 KB: more than one datagram, less than a default socket
	// buffer (212992 bytes), so the receiver needs no goroutine.
	for m := range 40 {
		for v := range 100 {
			_ = l.PutMetric(fmt.Sprintf("Metric%03d", m), -1.2345678901234567e-300*float64(v+1), None)
		}
	}
	ctx := context.Background()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Dropped != 0 || st.Sent < 2 {
		t.Fatalf("stats %+v: want nothing dropped, several datagrams", st)
	}
	buf := make([]byte, 70000)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	values := 0
	for range st.Sent {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := schematest.EMF(buf[:n-1]); err != nil {
			t.Fatal(err)
		}
		values += strings.Count(string(buf[:n]), "e-")
	}
	if values != 40*100 {
		t.Errorf("%d values arrived, want 4000", values)
	}
}

// TestAgentSinkConcurrentWriters writes from several goroutines to a live
// agent: every document arrives, whole.
func TestAgentSinkConcurrentWriters(t *testing.T) {
	a := startAgent(t, "127.0.0.1:0")
	defer a.stop()
	s, err := NewAgentSink("tcp://" + a.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 500
	got := make(chan map[string]bool)
	go func() {
		seen := map[string]bool{}
		for range writers * each {
			seen[<-a.lines] = true
		}
		got <- seen
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_ = s.WriteDocument(context.Background(), doc(w*each+i))
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case seen := <-got:
		for i := range writers * each {
			if !seen[string(doc(i))] {
				t.Fatalf("document %d missing", i)
			}
		}
	case <-ctx.Done():
		t.Fatal("not every document arrived")
	}
	if st := s.Stats(); st.Sent != writers*each || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// countingHandler counts log messages.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
