package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
)

// function is one Lambda function running under the Runtime Interface
// Emulator. Invocations are made one at a time, as Lambda does for one
// execution environment. The emulator's standard output (which carries the
// function's) is read line by line: EMF documents go to the EMF sink, as
// CloudWatch Logs turns them into metrics, REPORT lines get the real
// initialisation time and the invocation's trace, the rest is printed.
type function struct {
	name    string
	addr    string
	cmd     *exec.Cmd
	client  *http.Client
	out     *syncWriter
	emf     emf.Sink
	exited  chan struct{}
	readers sync.WaitGroup

	invokeMu sync.Mutex // one invocation at a time

	mu      sync.Mutex
	inits   chan string       // init times from the emulator's INIT REPORTs (stderr), for cold REPORT lines (stdout)
	traceOf map[string]string // request ID → X-Ray trace ID, from the invocation's EMF document
}

type functionConfig struct {
	name    string
	rie     string
	binary  string
	env     []string
	timeout int // seconds
	out     *syncWriter
	emf     emf.Sink // may be nil: EMF lines are printed instead
	verbose bool     // print the emulator's own log
}

// startFunction starts the emulator on a free loopback port and waits until
// it accepts connections.
func startFunction(ctx context.Context, c functionConfig) (*function, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The runtime API gets a port of its own too: the emulator's default,
	// 9001, would be shared by every emulator on the machine.
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr, c.binary)
	cmd.Env = append(os.Environ(),
		"AWS_LAMBDA_FUNCTION_NAME="+c.name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(c.timeout),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_REGION=eu-west-1",
	)
	cmd.Env = append(cmd.Env, c.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	f := &function{
		name: c.name, addr: addr, cmd: cmd, out: c.out, emf: c.emf,
		client:  &http.Client{Timeout: time.Duration(c.timeout+10) * time.Second},
		exited:  make(chan struct{}),
		traceOf: make(map[string]string),
		inits:   make(chan string, 16),
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the Lambda Runtime Interface Emulator %s: %w", c.rie, err)
	}
	f.readers.Add(2)
	go f.readStdout(stdout)
	go f.readStderr(stderr, c.verbose)
	go func() {
		f.readers.Wait()
		_ = cmd.Wait()
		close(f.exited)
	}()
	if err := f.waitReady(ctx); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

func (f *function) waitReady(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		if c, err := net.Dial("tcp", f.addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-tick.C:
		case <-f.exited:
			return fmt.Errorf("function %s: the emulator exited", f.name)
		case <-deadline.C:
			return fmt.Errorf("function %s: the emulator did not start listening on %s", f.name, f.addr)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// invoke sends one event and returns the emulator's answer.
func (f *function) invoke(ctx context.Context, event []byte) (int, []byte, error) {
	f.invokeMu.Lock()
	defer f.invokeMu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+f.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return 0, nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// stop ends the emulator and the runtime it started.
func (f *function) stop() {
	select {
	case <-f.exited:
		return
	default:
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	grace := time.NewTimer(3 * time.Second)
	defer grace.Stop()
	select {
	case <-f.exited:
	case <-grace.C:
	}
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	<-f.exited
}

func (f *function) readStdout(r io.Reader) {
	defer f.readers.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f.stdoutLine(sc.Bytes())
	}
	_, _ = io.Copy(io.Discard, r)
}

// emfPrefix starts every EMF document middleware.Lambda writes.
var emfPrefix = []byte(`{"_aws":`)

func (f *function) stdoutLine(line []byte) {
	switch {
	case bytes.HasPrefix(line, emfPrefix):
		var ids struct {
			RequestID string `json:"function_request_id"`
			TraceID   string `json:"xray_trace_id"`
		}
		if json.Unmarshal(line, &ids) == nil && ids.RequestID != "" && ids.TraceID != "" {
			f.mu.Lock()
			if len(f.traceOf) < 1000 {
				f.traceOf[ids.RequestID] = ids.TraceID
			}
			f.mu.Unlock()
		}
		if f.emf == nil {
			f.out.printf("[%s] %s\n", f.name, line)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := f.emf.WriteDocument(ctx, line)
		cancel()
		if err != nil {
			f.out.printf("[%s] EMF document not forwarded: %v\n", f.name, err)
		}
	case bytes.HasPrefix(line, []byte("REPORT ")):
		initMs := f.coldInit(line)
		f.mu.Lock()
		id := reportRequestID(string(line))
		trace := f.traceOf[id]
		delete(f.traceOf, id)
		f.mu.Unlock()
		f.out.printf("[%s] %s\n", f.name, rewriteReport(string(line), initMs, trace))
	default:
		f.out.printf("[%s] %s\n", f.name, line)
	}
}

// initWait bounds how long a cold start's REPORT line waits for the
// emulator's INIT REPORT.
const initWait = 2 * time.Second

// coldInit returns the init time for a REPORT line: for a cold start's
// (the emulator marks it with its own Init Duration) the next INIT REPORT
// read from stderr, waiting for it if stderr's reader is behind stdout's;
// for a warm start's, nothing. The two streams are read by two
// goroutines, so a cold REPORT can be read before its INIT REPORT: taking
// whatever init time was last seen put it on the wrong line.
func (f *function) coldInit(report []byte) string {
	if !bytes.Contains(report, []byte("\tInit Duration: ")) {
		return ""
	}
	t := time.NewTimer(initWait)
	defer t.Stop()
	select {
	case ms := <-f.inits:
		return ms
	case <-t.C:
		return ""
	}
}

func (f *function) readStderr(r io.Reader, verbose bool) {
	defer f.readers.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if ms, ok := initReport(line); ok {
			select {
			case f.inits <- ms:
			default: // no cold REPORT took the last 16; they are stale
			}
		}
		if verbose || strings.Contains(line, "Task timed out") || strings.Contains(line, "[ERROR]") {
			f.out.printf("[%s emulator] %s\n", f.name, line)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// syncWriter serialises writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}
