package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles the sidecar into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "sidecar")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./sidecar")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./sidecar: %w\n%s", err, b)
	}
	return bin, nil
}

// Process is a running sidecar (Start) or X-Ray daemon (StartDaemon).
type Process struct {
	cmd   *exec.Cmd
	name  string            // "sidecar" or "daemon", for error messages
	Addrs map[string]string // from the "sidecar started" log line
	Info  map[string]any

	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
	err    error
}

// launch runs bin with env (added to a clean environment) and args. Every
// line it writes to stderr (and to stdout too, if withStdout) is kept for
// Stderr and passed to onLine, from one goroutine.
func launch(name, bin string, uid int, env map[string]string, withStdout bool, onLine func([]byte), args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	pr, pw := io.Pipe()
	p := &Process{cmd: cmd, name: name, exited: make(chan struct{})}
	cmd.Stderr = pw
	if withStdout {
		cmd.Stdout = pw
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.stderr.Write(line)
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			onLine(line)
		}
		_, _ = io.Copy(io.Discard, pr) // a line too long for the scanner must not block the child
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		// Wait returns once the scanner has read the last bytes, not
		// once it has kept them: exited waits for that too, so Stderr
		// after Wait holds every line (the last one, "sidecar stopped",
		// was sometimes missing).
		<-scanned
		close(p.exited)
	}()
	return p, nil
}

// Start runs the sidecar binary with env (added to a clean environment)
// and args, and waits up to ctx for it to log that it started.
func Start(ctx context.Context, bin string, env map[string]string, args ...string) (*Process, error) {
	return StartAs(ctx, bin, -1, env, args...)
}

// StartAs is Start with the sidecar running as uid (and the same gid),
// or as this process's user when uid is negative.
func StartAs(ctx context.Context, bin string, uid int, env map[string]string, args ...string) (*Process, error) {
	started := make(chan map[string]any, 1)
	p, err := launch("sidecar", bin, uid, env, false, func(line []byte) {
		var rec struct {
			Msg  string         `json:"msg"`
			Info map[string]any `json:"info"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "sidecar started" {
			select {
			case started <- rec.Info:
			default:
			}
		}
	}, args...)
	if err != nil {
		return nil, err
	}
	select {
	case info := <-started:
		p.Info = info
		p.Addrs = map[string]string{}
		for k, v := range info {
			if name, ok := strings.CutPrefix(k, "addr_"); ok {
				p.Addrs[name], _ = v.(string)
			}
		}
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("sidecar exited at start: %v\n%s", p.err, p.Stderr())
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("sidecar did not start: %w\n%s", ctx.Err(), p.Stderr())
	}
}

// StartDaemon runs an AWS X-Ray daemon binary with env and args, and
// waits up to ctx until it has bound udpAddr (an IPv4 host:port that args
// or its config file make it listen on). The daemon logs no machine-readable
// start line, and it binds the socket before it finishes starting, so
// this watches /proc/net/udp for a socket of the process on that port.
// Addrs["xray_udp"] is udpAddr. The daemon's log goes to stdout; Stderr
// returns it too.
func StartDaemon(ctx context.Context, bin string, env map[string]string, udpAddr string, args ...string) (*Process, error) {
	_, portStr, err := net.SplitHostPort(udpAddr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	p, err := launch("daemon", bin, -1, env, true, func([]byte) {}, args...)
	if err != nil {
		return nil, err
	}
	tick := time.NewTicker(10 * time.Millisecond) // polling /proc: the daemon has nothing to wait on
	defer tick.Stop()
	for {
		if _, ok, _ := p.udpSocket(port); ok {
			p.Addrs = map[string]string{"xray_udp": udpAddr}
			return p, nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return nil, fmt.Errorf("daemon exited at start: %v\n%s", p.err, p.Stderr())
		case <-ctx.Done():
			_ = p.cmd.Process.Kill()
			<-p.exited
			return nil, fmt.Errorf("daemon did not bind %s: %w\n%s", udpAddr, ctx.Err(), p.Stderr())
		}
	}
}

// UDPDrops returns the kernel's drop counter of the process's UDP socket
// on port: datagrams discarded because its receive buffer was full.
func (p *Process) UDPDrops(port int) (int64, error) {
	drops, ok, err := p.udpSocket(port)
	if err == nil && !ok {
		err = fmt.Errorf("loadtest: %s has no UDP socket on port %d", p.name, port)
	}
	return drops, err
}

// udpSocket looks for a UDP socket on local port that belongs to the
// process (by inode, from /proc/<pid>/fd) in /proc/net/udp and udp6, and
// returns its drops column.
func (p *Process) udpSocket(port int) (drops int64, ok bool, err error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid()))
	if err != nil {
		return 0, false, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.Pid(), fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if in, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(in, "]")] = true
		}
	}
	for _, table := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		for _, line := range lines[1:] {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when
			// retrnsmt uid timeout inode ref pointer drops
			f := strings.Fields(line)
			if len(f) < 13 || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if n, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(n) != port {
				continue
			}
			d, err := strconv.ParseInt(f[12], 10, 64)
			return d, err == nil, err
		}
	}
	return 0, false, nil
}

// Stderr returns what the process logged so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig (SIGTERM to test the graceful stop).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit (or ctx) and returns its exit code.
func (p *Process) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
		return -1, fmt.Errorf("%s did not exit: %w", p.name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), nil
	}
	if p.err != nil {
		return -1, p.err
	}
	return 0, nil
}

// Kill stops the process hard (test cleanup).
func (p *Process) Kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// CPU returns the process's user+system CPU time so far.
func (p *Process) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 (1-based) of the whole line.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("loadtest: malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("loadtest: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("loadtest: bad utime/stime")
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// PeakRSS returns VmHWM in bytes.
func (p *Process) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("loadtest: no VmHWM")
}

var _ = syscall.SIGTERM
