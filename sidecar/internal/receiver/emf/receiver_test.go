package emf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/emf"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type collector struct {
	mu   sync.Mutex
	docs []string
	ch   chan struct{}
}

func (c *collector) ConsumeEMF(doc *emfdoc.Document) {
	c.mu.Lock()
	c.docs = append(c.docs, string(doc.Raw))
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *collector) waitFor(t *testing.T, n int) []string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		got := append([]string(nil), c.docs...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.ch:
		case <-timeout:
			t.Fatalf("%d of %d documents arrived", len(got), n)
		}
	}
}

func start(t *testing.T) (*emf.Receiver, *collector, *status.Counters) {
	t.Helper()
	c := &collector{ch: make(chan struct{}, 1)}
	counters := status.NewCounters()
	r, err := emf.New(emf.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "127.0.0.1:0", Consumer: c, Counters: counters, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r, c, counters
}

const good = `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`

// TestTCPHostileLines: malformed, truncated, oversize and hostile lines
// on one connection are counted by reason; the good lines around them
// arrive intact and in order.
func TestTCPHostileLines(t *testing.T) {
	r, c, counters := start(t)
	conn, err := net.Dial("tcp", r.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var buf bytes.Buffer
	buf.WriteString(good + "\n")
	buf.WriteString(good[:30] + "\n")                                    // truncated
	buf.WriteString("\x00\x01\x02garbage\n")                             // binary
	buf.WriteString(`{"a":` + strings.Repeat("[", 100000) + "\n")        // hostile nesting
	buf.WriteString(`{"x":"` + strings.Repeat("a", 2<<20) + `"}` + "\n") // over 1 MB
	buf.WriteString(`{"_aws":{"Timestamp":1}}` + "\n")                   // no directives
	buf.WriteString("\r\n\n")                                            // blank lines are ignored
	buf.WriteString(strings.Replace(good, `"m":1`, `"m":2`, 1) + "\r\n")
	if _, err := conn.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	got := c.waitFor(t, 2)
	if got[0] != good || got[1] != strings.Replace(good, `"m":1`, `"m":2`, 1) {
		t.Fatalf("got %q", got)
	}
	for reason, want := range map[emfdoc.Reason]uint64{emfdoc.NotJSON: 3, emfdoc.TooLarge: 1, emfdoc.BadDirective: 1} {
		if n := counters.Get("emf.rejected." + string(reason)); n != want {
			t.Errorf("rejected %s = %d, want %d (%v)", reason, n, want, counters.Snapshot())
		}
	}
}

func TestUDPMultiLineDatagrams(t *testing.T) {
	r, c, counters := start(t)
	conn, err := net.Dial("udp", r.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prod := emfgen.NewProducer("n", 1)
	var want []string
	for i := 0; i < 30; i += 3 {
		var pkt []byte
		for j := i; j < i+3; j++ {
			d := prod.Doc(j)
			want = append(want, string(d))
			pkt = append(append(pkt, d...), '\n')
		}
		if _, err := conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Write([]byte("nonsense")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(good)); err != nil {
		t.Fatal(err)
	}
	// Order is kept within a datagram; across datagrams it is not when
	// the address is served by several sockets (udpsock.Open), as it is
	// for an unprivileged process: compare as sets, and each datagram's
	// three lines as a run.
	got := c.waitFor(t, 31)
	pos := map[string]int{}
	for i, g := range got {
		pos[g] = i
	}
	for i, w := range want {
		p, ok := pos[w]
		if !ok {
			t.Fatalf("doc %d never arrived: %s", i, w)
		}
		if i%3 > 0 && p != pos[want[i-1]]+1 {
			t.Fatalf("doc %d not right after doc %d from the same datagram", i, i-1)
		}
	}
	if counters.Get("emf.rejected.not_json") != 1 {
		t.Fatalf("counters %v", counters.Snapshot())
	}
}

// TestConnectionLimitEvictsLongestIdle: at MaxConns a new connection is
// served, and the connection idle the longest is closed instead (after
// what it sent is read) and counted; idle connections never lock an
// active client out. (Before, the new connection was refused.)
func TestConnectionLimitEvictsLongestIdle(t *testing.T) {
	c := &collector{ch: make(chan struct{}, 1)}
	counters := status.NewCounters()
	r, err := emf.New(emf.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "off", Consumer: c, Counters: counters, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	doc := func(i int) string { return strings.Replace(good, `"m":1`, fmt.Sprintf(`"m":%d`, i), 1) }
	var conns []net.Conn
	for i := range 2 {
		conn, err := net.Dial("tcp", r.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
		fmt.Fprintf(conn, "%s\n", doc(i))
		c.waitFor(t, i+1)
	}
	time.Sleep(5 * time.Millisecond) // so that conns[1]'s next line is later than conns[0]'s
	fmt.Fprintf(conns[1], "%s\n", doc(2))
	c.waitFor(t, 3) // conns[0] is now the longest idle
	extra, err := net.Dial("tcp", r.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprintf(extra, "%s\n", doc(3))
	got := c.waitFor(t, 4)
	if got[3] != doc(3) {
		t.Fatalf("fourth document %q", got[3])
	}
	one := make([]byte, 1)
	_ = conns[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conns[0].Read(one); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("longest-idle connection not closed: %v", err)
	}
	if counters.Get("emf.evicted_connections") != 1 {
		t.Fatalf("counters %v", counters.Snapshot())
	}
	fmt.Fprintf(conns[1], "%s\n", doc(4)) // the others carry on
	fmt.Fprintf(extra, "%s\n", doc(5))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	n := len(c.docs)
	c.mu.Unlock()
	if n != 6 {
		t.Fatalf("%d documents after shutdown, want 6", n)
	}
}

// TestIdleConnectionClosed: a connection that sends nothing for
// IdleTimeout is closed and counted; its lines were delivered.
func TestIdleConnectionClosed(t *testing.T) {
	c := &collector{ch: make(chan struct{}, 1)}
	counters := status.NewCounters()
	r, err := emf.New(emf.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "off", Consumer: c, Counters: counters,
		IdleTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(context.Background())
	conn, err := net.Dial("tcp", r.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s\n", good)
	c.waitFor(t, 1)
	one := make([]byte, 1)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(one); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle connection not closed: %v", err)
	}
	if counters.Get("emf.idle_closed_connections") != 1 || counters.Get("emf.read_errors") != 0 {
		t.Fatalf("counters %v", counters.Snapshot())
	}
}

// TestShutdownReadsToLastCompleteLine: connections kept open by their
// clients, with lines sent just before Shutdown: every complete line is
// delivered, and an incomplete last line is counted as
// emf.dropped.partial_line rather than lost without a trace.
func TestShutdownReadsToLastCompleteLine(t *testing.T) {
	c := &collector{ch: make(chan struct{}, 1)}
	counters := status.NewCounters()
	r, err := emf.New(emf.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "off", Consumer: c, Counters: counters})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const conns, lines = 3, 200
	var batch strings.Builder
	for range lines {
		batch.WriteString(good + "\n")
	}
	for i := range conns {
		conn, err := net.Dial("tcp", r.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tail := ""
		if i == 0 {
			tail = good[:40] // a line cut short
		}
		if _, err := conn.Write([]byte(batch.String() + tail)); err != nil {
			t.Fatal(err)
		}
	}
	for counters.Get("emf.lines") == 0 {
		time.Sleep(time.Millisecond) // until the connections are served
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	n := len(c.docs)
	c.mu.Unlock()
	if n != conns*lines || counters.Get("emf.dropped.partial_line") != 1 {
		t.Fatalf("%d of %d documents; counters %v", n, conns*lines, counters.Snapshot())
	}
}

// TestShutdownDeliversQueuedDatagrams sends a burst of EMF datagrams and
// shuts down right after the last one, ten times: every line queued on
// the UDP socket is delivered.
func TestShutdownDeliversQueuedDatagrams(t *testing.T) {
	const reps, burst = 10, 300
	for rep := range reps {
		c := &collector{ch: make(chan struct{}, 1)}
		counters := status.NewCounters()
		r, err := emf.New(emf.Config{TCPAddr: "off", UDPAddr: "127.0.0.1:0", Consumer: c, Counters: counters})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		out, err := net.Dial("udp", r.UDPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		for range burst {
			if _, err := out.Write([]byte(good + "\n")); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = r.Shutdown(ctx)
		cancel()
		out.Close()
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		n := len(c.docs)
		c.mu.Unlock()
		if n != burst {
			t.Fatalf("repetition %d: %d of %d lines delivered; counters %v", rep, n, burst, counters.Snapshot())
		}
	}
}

func ExampleNew() {
	_, err := emf.New(emf.Config{TCPAddr: "127.0.0.1:25888", UDPAddr: "off", Counters: status.NewCounters()})
	fmt.Println(err)
	// Output: emf receiver: Consumer and Counters are required
}

// TestLongLineMemoryBound: lines longer than the read buffer draw on a
// shared byte limit; a line that does not fit is dropped and counted, and
// the connection carries on.
func TestLongLineMemoryBound(t *testing.T) {
	c := &collector{ch: make(chan struct{}, 1)}
	counters := status.NewCounters()
	r, err := emf.New(emf.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "off", Consumer: c, Counters: counters, LongLineMemory: 100 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(context.Background())
	conn, err := net.Dial("tcp", r.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pad := func(n int) string {
		return strings.Replace(good, `"m":1}`, `"m":1,"pad":"`+strings.Repeat("p", n)+`"}`, 1)
	}
	fmt.Fprintf(conn, "%s\n%s\n%s\n", pad(80<<10), pad(300<<10), good) // fits, does not fit, short
	got := c.waitFor(t, 2)
	if got[0] != pad(80<<10) || got[1] != good {
		t.Fatalf("got %d documents", len(got))
	}
	if counters.Get("emf.dropped.long_line_memory") != 1 || counters.Get("emf.rejected.too_large") != 0 {
		t.Fatalf("counters %v", counters.Snapshot())
	}
}

// slowConsumer takes its first document only once released, and then
// each in about 100µs: a machine too busy to hand on in CloseGrace what
// a connection had already sent.
type slowConsumer struct {
	collector
	release chan struct{}
}

func (s *slowConsumer) ConsumeEMF(doc *emfdoc.Document) {
	<-s.release
	time.Sleep(100 * time.Microsecond)
	s.collector.ConsumeEMF(doc)
}

// TestShutdownReadsAllHeldDataWhenSlow: data the kernel held when
// Shutdown began is read in full even when handing it on takes longer
// than CloseGrace. Before, the read deadline was the end of the grace,
// so on a busy machine the rest was cut off mid-line and counted as
// partial_line (TestSIGTERMDeliversBurst failed that way under load).
func TestShutdownReadsAllHeldDataWhenSlow(t *testing.T) {
	c := &slowConsumer{collector: collector{ch: make(chan struct{}, 1)}, release: make(chan struct{})}
	counters := status.NewCounters()
	r, err := emf.New(emf.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "off", Consumer: c, Counters: counters, CloseGrace: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const lines = 800 // about 110 KB: more than the reader's 64 KiB buffer
	var batch strings.Builder
	for range lines {
		batch.WriteString(good + "\n")
	}
	conn, err := net.Dial("tcp", r.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(batch.String())); err != nil {
		t.Fatal(err)
	}
	for counters.Get("emf.lines") == 0 {
		time.Sleep(time.Millisecond) // until the connection is served
	}
	time.Sleep(20 * time.Millisecond) // the rest reaches the receiving kernel
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Shutdown(ctx) }()
	time.Sleep(20 * time.Millisecond) // Shutdown has stopped the connection
	close(c.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	n := len(c.docs)
	c.mu.Unlock()
	if n != lines || counters.Get("emf.dropped.partial_line") != 0 {
		t.Fatalf("%d of %d documents; counters %v", n, lines, counters.Snapshot())
	}
}
