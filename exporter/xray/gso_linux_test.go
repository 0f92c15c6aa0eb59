//go:build linux

package xray

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// kernel plays how a Linux version answers a send with UDP_SEGMENT.
type kernel struct {
	name string
	// maxSegs is UDP_MAX_SEGMENTS: 128 from 6.9, 64 before; 0 for a
	// socket or kernel without segmentation offload (EIO).
	maxSegs int
	// countsHeaders: before 5.16 the kernel counted the IP and UDP headers
	// against gso_size × UDP_MAX_SEGMENTS.
	countsHeaders bool
}

// kernelSend wraps send so that it refuses what k refuses, with the errors
// the kernel returns, and records the runs that went out.
type kernelSend struct {
	k    kernel
	send func(b, oob []byte) error

	mu      sync.Mutex
	runs    []int // datagrams per accepted send, in order
	refused int
}

func (s *kernelSend) do(b, oob []byte) error {
	size := int(*(*uint16)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])))
	segs := (len(b) + size - 1) / size
	var errno syscall.Errno
	switch {
	case s.k.maxSegs == 0:
		errno = syscall.EIO
	case segs > s.k.maxSegs, s.k.countsHeaders && len(b)+8+20 > s.k.maxSegs*size:
		errno = syscall.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if errno != 0 {
		s.refused++
		return &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendmsg", errno)}
	}
	s.runs = append(s.runs, segs)
	return s.send(b, oob)
}

// The sender starts at 128 datagrams per segmented send and, where the
// kernel refuses that many (EINVAL, as UDP_MAX_SEGMENTS was 64 before Linux
// 6.9), sends the same datagrams again 64 at a time (63 where kernels
// before 5.16 count the headers against the limit), and keeps segmenting;
// where the kernel refuses segmentation itself, it goes on with sendmmsg.
// Every datagram arrives, and each step down is counted.
func TestGSOStepsDownWithoutLosingDatagrams(t *testing.T) {
	for _, tc := range []struct {
		k             kernel
		wantFallbacks uint64
		maxRunAfter   int // the most datagrams per send once stepped down
	}{
		{kernel{name: "6.9 and later", maxSegs: 128}, 0, 128},
		{kernel{name: "5.16 to 6.8", maxSegs: 64}, 1, 63},
		{kernel{name: "4.18 to 5.15, headers counted", maxSegs: 64, countsHeaders: true}, 1, 63},
		{kernel{name: "no segmentation offload"}, 1, 0},
	} {
		t.Run(tc.k.name, func(t *testing.T) {
			conn := listen(t)
			e := newTestEmitter(t, conn, WithQueueSize(4096))
			if e.gso == nil {
				t.Fatal("no segmentation offload writer on Linux")
			}
			ks := &kernelSend{k: tc.k, send: e.gso.send}
			e.gso.send = ks.do
			// Batches fill to maxBatch before they are sent.
			e.linger = time.Hour
			const n = 1000
			st := sendAllAndReceive(t, e, conn, n, nil)
			if st.GSOFallbacks != tc.wantFallbacks {
				t.Errorf("%d steps down counted, want %d", st.GSOFallbacks, tc.wantFallbacks)
			}
			ks.mu.Lock()
			defer ks.mu.Unlock()
			switch {
			case tc.k.maxSegs == 0:
				if len(ks.runs) != 0 || e.gso != nil {
					t.Errorf("%d segmented sends accepted by a kernel without offload; writer still set: %v", len(ks.runs), e.gso != nil)
				}
			case tc.wantFallbacks == 0:
				if largest(ks.runs) <= gsoSegmentsOld || ks.refused != 0 {
					t.Errorf("largest send %d datagrams, %d refused: want more than %d in one send and none refused", largest(ks.runs), ks.refused, gsoSegmentsOld)
				}
			default:
				if ks.refused != 1 || e.gso == nil {
					t.Errorf("%d sends refused, writer kept %v: want one refusal and segmentation kept", ks.refused, e.gso != nil)
				}
				if len(ks.runs) < n/tc.maxRunAfter || largest(ks.runs) > tc.maxRunAfter {
					t.Errorf("after stepping down: %d segmented sends, largest %d datagrams; want at least %d of at most %d", len(ks.runs), largest(ks.runs), n/tc.maxRunAfter, tc.maxRunAfter)
				}
			}
		})
	}
}

func largest(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// mtuSend refuses, with EMSGSIZE as Linux 6.x does, a segmented send whose
// datagrams would not fit a path MTU of 1,500 bytes unfragmented.
type mtuSend struct {
	send func(b, oob []byte) error

	mu       sync.Mutex
	refused  int
	runSizes []int // the datagram size of each accepted run
}

func (s *mtuSend) do(b, oob []byte) error {
	size := int(*(*uint16)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])))
	s.mu.Lock()
	defer s.mu.Unlock()
	if size > 1500-20-8 {
		s.refused++
		return &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendmsg", syscall.EMSGSIZE)}
	}
	s.runSizes = append(s.runSizes, size)
	return s.send(b, oob)
}

// Where documents are larger than the path's MTU allows a segment (a daemon
// on another host), the kernel refuses the run: nothing was sent, and the
// sender sends those documents alone (IP fragments them) and goes on
// segmenting the others. Before, the run's datagrams were lost, counted as
// send errors.
func TestGSOSendsDatagramsOverThePathMTUAlone(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn, WithQueueSize(4096))
	if e.gso == nil {
		t.Fatal("no segmentation offload writer on Linux")
	}
	ms := &mtuSend{send: e.gso.send}
	e.gso.send = ms.do
	e.linger = time.Hour
	large := []byte(`"` + strings.Repeat("x", 2500) + `"`)
	sendAllAndReceive(t, e, conn, 600, func(i int, s *Segment) {
		if i%2 == 0 {
			s.Metadata = append(s.Metadata, Metadata{Namespace: "default", Key: "large", JSON: large})
		}
	})
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if e.gso == nil || len(ms.runSizes) == 0 || ms.refused == 0 || ms.refused > 8 {
		t.Errorf("writer kept %v, %d runs accepted, %d refused: want segmentation kept for the small documents after a few refusals", e.gso != nil, len(ms.runSizes), ms.refused)
	}
}

// sendAllAndReceive exports n segments (each changed by fill when it is not
// nil), flushes, reads n valid JSON datagrams from conn, shuts e down and
// checks that every one was sent and none lost; it returns e's stats.
func sendAllAndReceive(t *testing.T, e *Emitter, conn *net.UDPConn, n int, fill func(int, *Segment)) Stats {
	t.Helper()
	for i := range n {
		s := getSegment()
		s.Name, s.TraceID, s.ID, s.Start, s.End = "svc", testTrace, NewSpanID(), t0, t0.Add(time.Millisecond)
		s.Annotations = append(s.Annotations, NumberAttr("i", float64(i)))
		if fill != nil {
			fill(i, s)
		}
		e.ExportSegment(s)
		putSegment(s)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, doc := range receive(t, conn, n) {
		if !json.Valid(doc) {
			t.Fatalf("datagram %d is not JSON: %.80q", i, doc)
		}
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.Datagrams != uint64(n) || st.SendErrors != 0 || st.Dropped() != 0 {
		t.Errorf("stats %+v, want %d datagrams sent and none lost", st, n)
	}
	return st
}
