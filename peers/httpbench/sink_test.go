package httpbench

import (
	"bufio"
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

	"golang.org/x/net/ipv4"
)

// A sink is a child process (this test binary, re-run with
// HTTPBENCH_SINK=1) that listens on UDP and counts datagrams. Send it a
// line to ask for the count so far; close its stdin to stop it.
type sink struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
}

func TestMain(m *testing.M) {
	switch os.Getenv("HTTPBENCH_SINK") {
	case "1":
		runSink()
		return
	case "otlp":
		runOTLPSink()
		return
	}
	os.Exit(m.Run())
}

func runSink() {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	forceReadBuffer(conn, 512<<20)
	fmt.Println(conn.LocalAddr().String())
	var count atomic.Int64
	go func() {
		// recvmmsg: many datagrams per system call, so that the sink takes
		// as little as possible of the CPU the measured process shares.
		pc := ipv4.NewPacketConn(conn)
		msgs := make([]ipv4.Message, 64)
		for i := range msgs {
			msgs[i].Buffers = [][]byte{make([]byte, 1<<16)}
		}
		for {
			n, err := pc.ReadBatch(msgs, 0)
			if err != nil {
				return
			}
			count.Add(int64(n))
		}
	}()
	answerCounts(&count)
}

// answerCounts answers each line on stdin with the count, once it has
// not moved for 200 ms, until stdin closes.
func answerCounts(count *atomic.Int64) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		// Answer once no datagram has arrived for 200 ms.
		last := count.Load()
		for {
			time.Sleep(200 * time.Millisecond)
			now := count.Load()
			if now == last {
				break
			}
			last = now
		}
		fmt.Println(last)
	}
}

// forceReadBuffer raises the socket's receive buffer past rmem_max when
// running as root (SO_RCVBUFFORCE), else as far as allowed.
func forceReadBuffer(conn *net.UDPConn, size int) {
	if raw, err := conn.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size) != nil {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
			}
		})
	}
}

func startSink(tb testing.TB) *sink {
	tb.Helper()
	return startSinkOf(tb, "1")
}

// startSinkOf starts a sink process of a kind: "1" for UDP datagrams,
// "otlp" for an OTLP/HTTP receiver that counts spans.
func startSinkOf(tb testing.TB, kind string) *sink {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "HTTPBENCH_SINK="+kind)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &sink{cmd: cmd, out: bufio.NewReader(stdout)}
	s.in = stdin
	line, err := s.out.ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		tb.Fatalf("sink did not start: %q %v", line, err)
	}
	s.addr = strings.TrimSpace(line)
	tb.Cleanup(func() {
		s.in.Close()
		_ = s.cmd.Wait()
	})
	return s
}

// count returns the datagrams received so far, once the socket is quiet.
func (s *sink) count(tb testing.TB) int64 {
	tb.Helper()
	if _, err := io.WriteString(s.in, "count\n"); err != nil {
		tb.Fatal(err)
	}
	line, err := s.out.ReadString('\n')
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
