package xrayudp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/xrayudp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type chanConsumer chan string

func (c chanConsumer) ConsumeSegment(doc []byte, _ xraydoc.Info) { c <- string(doc) }

const header = `{"format": "json", "version": 1}` + "\n"

func doc(i int) string {
	return fmt.Sprintf(`{"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"%016x","start_time":1.5,"end_time":2.5,"name":"svc"}`, i+1)
}

func start(t *testing.T, c xrayudp.Consumer) (*xrayudp.Receiver, *status.Counters, net.Conn) {
	t.Helper()
	counters := status.NewCounters()
	r, err := xrayudp.New(xrayudp.Config{Addr: "127.0.0.1:0", Consumer: c, Counters: counters})
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
	out, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	return r, counters, out
}

// TestHostileDatagrams sends malformed, truncated, oversize and hostile
// datagrams, then one good one: everything before it must be counted by
// reason, nothing delivered, nothing crashed.
func TestHostileDatagrams(t *testing.T) {
	got := make(chanConsumer, 10)
	r, counters, out := start(t, got)
	if r.ReadBufferSize() <= 0 {
		t.Fatal("no effective buffer size")
	}
	bad := map[string]xraydoc.Reason{
		"":                   xraydoc.Empty,
		"\n\n":               xraydoc.Empty,
		doc(0):               xraydoc.BadHeader,
		header + doc(0)[:50]: xraydoc.NotJSON,
		header + "[1,2]":     xraydoc.NotObject,
		header + strings.Repeat("[", 5000) + strings.Repeat("]", 5000): xraydoc.NotJSON,
		header + `{"id":"x"}`:   xraydoc.BadTraceID,
		header + "\x00\xff\xfe": xraydoc.NotJSON,
	}
	// The largest datagram UDP over IPv4 carries (65,507 bytes), cut from
	// a longer document: it arrives whole and is rejected as not JSON.
	big := header + `{"a":"` + strings.Repeat("x", xraydoc.MaxDocument) + `"}`
	big = big[:65507]
	want := map[xraydoc.Reason]uint64{}
	for pkt, reason := range bad {
		if _, err := out.Write([]byte(pkt)); err != nil {
			t.Fatal(err)
		}
		want[reason]++
	}
	if _, err := out.Write([]byte(big)); err != nil {
		t.Fatal(err)
	}
	want[xraydoc.NotJSON]++
	if _, err := out.Write([]byte(header + doc(1))); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		if d != doc(1) {
			t.Fatalf("delivered %q", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("good datagram not delivered")
	}
	// With several sockets on the address (udpsock.Open, unprivileged)
	// the good datagram may overtake bad ones: wait for the counts.
	counted := func() bool {
		for reason, n := range want {
			if counters.Get("segments.rejected."+string(reason)) != n {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !counted() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for reason, n := range want {
		if c := counters.Get("segments.rejected." + string(reason)); c != n {
			t.Errorf("rejected %s = %d, want %d", reason, c, n)
		}
	}
	if c := counters.Get("segments.accepted"); c != 1 {
		t.Errorf("accepted = %d", c)
	}
}

// TestDeliversEveryDatagram: 500 datagrams sent at once all arrive, once
// each, and in order when one socket serves the address. (Without
// CAP_NET_ADMIN the receiver may spread the address over several sockets,
// see udpsock.Open; order across them is not kept, and X-Ray does not
// need it.)
func TestDeliversEveryDatagram(t *testing.T) {
	got := make(chanConsumer, 1000)
	r, _, out := start(t, got)
	for i := range 500 {
		if _, err := out.Write([]byte(header + doc(i))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for i := range 500 {
		select {
		case d := <-got:
			if r.Sockets() == 1 && d != doc(i) {
				t.Fatalf("datagram %d: %q", i, d)
			}
			if seen[d] {
				t.Fatalf("datagram %q delivered twice", d)
			}
			seen[d] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 500 delivered", i)
		}
	}
	for i := range 500 {
		if !seen[doc(i)] {
			t.Fatalf("datagram %d never delivered", i)
		}
	}
}

func ExampleNew() {
	var buf bytes.Buffer
	r, err := xrayudp.New(xrayudp.Config{Addr: "127.0.0.1:0", Counters: status.NewCounters(),
		Consumer: consumerFunc(func(doc []byte) { buf.Write(doc) })})
	fmt.Println(r != nil, err)
	// Output: true <nil>
}

type consumerFunc func([]byte)

func (f consumerFunc) ConsumeSegment(doc []byte, _ xraydoc.Info) { f(doc) }

// TestEmitterRuns sends segments of mixed sizes through Sidelight's own
// emitter, which hands runs of datagrams to the kernel in one call
// (UDP_SEGMENT, padded to one size). Every segment must arrive once, whole
// (padding after the JSON is whitespace), and the receiver must have read
// at least some of them as kept-together runs.
func TestEmitterRuns(t *testing.T) {
	const n = 500
	got := make(chanConsumer, n)
	r, counters, _ := start(t, got)
	em, err := xray.NewEmitter(xray.WithDaemonAddress(r.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	now := time.Now()
	for i := range n {
		s := &xray.Segment{
			Name: "svc" + strings.Repeat("x", i%37), TraceID: xray.NewTraceID(now), ID: xray.NewSpanID(),
			Start: now, End: now.Add(time.Millisecond),
		}
		want[s.ID.String()] = true
		em.ExportSegment(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case d := <-got:
			var s struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(d), &s); err != nil {
				t.Fatalf("document does not decode: %v: %q", err, d)
			}
			if !want[s.ID] {
				t.Fatalf("unexpected or repeated segment %q", s.ID)
			}
			delete(want, s.ID)
		case <-ctx.Done():
			t.Fatalf("%d segments missing; counters %v", len(want), counters.Snapshot())
		}
	}
	if runs := counters.Counter("segments.udp_gro_runs").Load(); runs == 0 {
		t.Fatalf("no datagram runs were read together (UDP_GRO not in effect); counters %v", counters.Snapshot())
	} else {
		t.Logf("%d segments in %d kept-together runs, %d reads", n, runs, counters.Counter("segments.udp_reads").Load())
	}
}
