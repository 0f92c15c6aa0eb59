package xray

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// listen opens a UDP socket standing in for the daemon.
func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// receive reads n datagrams, checks the daemon header on each and returns
// the documents.
func receive(t *testing.T, conn *net.UDPConn, n int) [][]byte {
	t.Helper()
	var docs [][]byte
	buf := make([]byte, 70000)
	for len(docs) < n {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(docs), n, err)
		}
		if k > MaxDatagramSize {
			t.Fatalf("datagram of %d bytes exceeds %d", k, MaxDatagramSize)
		}
		header, doc, ok := bytes.Cut(buf[:k], []byte("\n"))
		if !ok || string(header)+"\n" != DaemonHeader {
			t.Fatalf("datagram without daemon header: %.80q", buf[:k])
		}
		docs = append(docs, bytes.Clone(doc))
	}
	return docs
}

func newTestEmitter(t *testing.T, conn *net.UDPConn, opts ...Option) *Emitter {
	t.Helper()
	e, err := NewEmitter(append([]Option{WithDaemonAddress(conn.LocalAddr().String())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

func TestEmitterDeliversEverySegment(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	const n = 2000
	for i := 0; i < n; i++ {
		s := getSegment()
		s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, NewSpanID(), t0, t0.Add(time.Millisecond)
		s.Annotations = append(s.Annotations, NumberAttr("i", float64(i)))
		e.ExportSegment(s)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs := receive(t, conn, n)
	seen := make(map[float64]bool)
	for _, d := range docs {
		var m struct {
			Annotations struct{ I float64 } `json:"annotations"`
		}
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		seen[m.Annotations.I] = true
	}
	if len(seen) != n {
		t.Fatalf("received %d distinct segments, want %d", len(seen), n)
	}
	st := e.Stats()
	if st.Segments != n || st.Datagrams != n || st.Dropped() != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEmitterSplitsLargeDocuments(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	parent := getSegment()
	parent.Name, parent.TraceID, parent.ID, parent.Start, parent.End = "big", testTrace, testID, t0, t0.Add(time.Second)
	big := []byte(`"` + strings.Repeat("x", 20000) + `"`)
	const subs = 6 // about 120 kB in all
	for i := 0; i < subs; i++ {
		sub := getSegment()
		sub.Name, sub.ID, sub.Start, sub.End = "part", NewSpanID(), t0, t0.Add(time.Millisecond)
		sub.Metadata = append(sub.Metadata, Metadata{Key: "blob", JSON: big})
		parent.Subsegments = append(parent.Subsegments, sub)
	}
	e.ExportSegment(parent)
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs := receive(t, conn, subs+1)
	var gotParent, gotSubs int
	for _, d := range docs {
		if err := schematest.Segment(d); err != nil {
			t.Fatalf("schema: %v", err)
		}
		var m struct {
			Type     string `json:"type"`
			ParentID string `json:"parent_id"`
			TraceID  string `json:"trace_id"`
			Metadata map[string]map[string]string
		}
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		if m.TraceID != FormatTraceID(testTrace) {
			t.Fatalf("trace_id %q", m.TraceID)
		}
		if m.Type == "subsegment" {
			gotSubs++
			if m.ParentID != testID.String() || len(m.Metadata["default"]["blob"]) != 20000 {
				t.Fatalf("subsegment parent %q, blob %d bytes", m.ParentID, len(m.Metadata["default"]["blob"]))
			}
		} else {
			gotParent++
		}
	}
	if gotParent != 1 || gotSubs != subs {
		t.Fatalf("got %d parents and %d subsegments", gotParent, gotSubs)
	}
	if st := e.Stats(); st.Split != 1 || st.Dropped() != 0 || st.Datagrams != subs+1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEmitterTrimsWhatCannotBeSplit(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	s := getSegment()
	s.Name, s.TraceID, s.ID, s.Start, s.End = "huge", testTrace, testID, t0, t0.Add(time.Second)
	s.Metadata = append(s.Metadata, Metadata{Key: "blob", JSON: []byte(`"` + strings.Repeat("y", 80000) + `"`)})
	e.ExportSegment(s)
	_ = e.ForceFlush(context.Background())
	docs := receive(t, conn, 1)
	if bytes.Contains(docs[0], []byte("yyyy")) {
		t.Fatal("oversize metadata was sent")
	}
	if st := e.Stats(); st.Trimmed != 1 || st.Datagrams != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEmitterCountsDropsWhenFull(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn, WithQueueSize(1), WithDropWhenFull())
	const n = 5000
	for i := 0; i < n; i++ {
		s := getSegment()
		s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, NewSpanID(), t0, t0
		e.ExportSegment(s)
	}
	_ = e.ForceFlush(context.Background())
	st := e.Stats()
	if st.Segments != n || st.Datagrams+st.DroppedFull != n {
		t.Fatalf("stats %+v", st)
	}
	receive(t, conn, int(st.Datagrams))
}

func TestEmitterSendsDirectlyWhenFull(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn, WithQueueSize(1))
	const n = 3000
	for i := 0; i < n; i++ {
		s := getSegment()
		s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, NewSpanID(), t0, t0
		e.ExportSegment(s)
	}
	_ = e.ForceFlush(context.Background())
	st := e.Stats()
	if st.Segments != n || st.Datagrams != n || st.Dropped() != 0 || st.Direct == 0 {
		t.Fatalf("stats %+v", st)
	}
	receive(t, conn, n)
}

func TestEmitterWithoutDaemonCountsErrors(t *testing.T) {
	conn := listen(t)
	addr := conn.LocalAddr().String()
	conn.Close() // nobody listens: writes fail with ECONNREFUSED
	e, err := NewEmitter(WithDaemonAddress(addr))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		s := getSegment()
		s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, NewSpanID(), t0, t0
		e.ExportSegment(s)
		_ = e.ForceFlush(context.Background())
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.SendErrors == 0 || st.Datagrams+st.SendErrors != 50 {
		t.Fatalf("stats %+v", st)
	}
	// After shutdown, Emit drops and counts instead of panicking.
	e.ExportSegment(getSegment())
	if e.Stats().DroppedClosed != 1 {
		t.Fatal("emit after shutdown not counted")
	}
}

func TestShutdownSendsQueued(t *testing.T) {
	conn := listen(t)
	e, err := NewEmitter(WithDaemonAddress(conn.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		s := getSegment()
		s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, NewSpanID(), t0, t0
		e.ExportSegment(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	receive(t, conn, 100)
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal("second Shutdown:", err)
	}
}

func TestParseDaemonAddress(t *testing.T) {
	for in, want := range map[string]DaemonAddress{
		"":                                      {UDP: "127.0.0.1:2000", TCP: "127.0.0.1:2000"},
		"xray:3000":                             {UDP: "xray:3000", TCP: "xray:3000"},
		"tcp:127.0.0.1:2001 udp:127.0.0.1:2002": {UDP: "127.0.0.1:2002", TCP: "127.0.0.1:2001"},
		"udp:[::1]:2002 tcp:[::1]:2001":         {UDP: "[::1]:2002", TCP: "[::1]:2001"},
	} {
		got, err := ParseDaemonAddress(in)
		if err != nil || got != want {
			t.Errorf("ParseDaemonAddress(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"nohost", "udp:1.2.3.4:5", "tcp:a:1 tcp:b:2", "ftp:a:1 udp:b:2", "a:1 b:2 c:3", ":2000"} {
		if _, err := ParseDaemonAddress(bad); err == nil {
			t.Errorf("ParseDaemonAddress(%q) accepted", bad)
		}
	}
}

// Documents of very different sizes all arrive intact, whether the sender
// uses segmentation offload (runs of padded datagrams) or sendmmsg.
func TestEmitterMixedSizes(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithoutSegmentationOffload()}} {
		conn := listen(t)
		e := newTestEmitter(t, conn, opts...)
		const n = 500
		for i := 0; i < n; i++ {
			s := getSegment()
			s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, NewSpanID(), t0, t0
			s.Annotations = append(s.Annotations, NumberAttr("i", float64(i)))
			s.Metadata = append(s.Metadata, Metadata{Key: "pad", JSON: AppendJSONString(nil, strings.Repeat("p", (i*7919)%20000))})
			e.ExportSegment(s)
		}
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, d := range receive(t, conn, n) {
			if err := schematest.Segment(d); err != nil {
				t.Fatalf("schema: %v", err)
			}
			var m struct {
				Annotations struct{ I int }              `json:"annotations"`
				Metadata    map[string]map[string]string `json:"metadata"`
			}
			if err := json.Unmarshal(d, &m); err != nil {
				t.Fatal(err)
			}
			if len(m.Metadata["default"]["pad"]) != (m.Annotations.I*7919)%20000 {
				t.Fatalf("segment %d arrived with %d bytes of metadata", m.Annotations.I, len(m.Metadata["default"]["pad"]))
			}
			seen[m.Annotations.I] = true
		}
		if len(seen) != n {
			t.Fatalf("%d distinct segments of %d", len(seen), n)
		}
		if st := e.Stats(); st.Datagrams != n || st.Dropped() != 0 {
			t.Fatalf("stats %+v", st)
		}
	}
}
