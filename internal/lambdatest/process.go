package lambdatest

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a child process in its own process group, so that it and
// everything it started can be stopped together.
type Process struct {
	Cmd    *exec.Cmd
	Stdout *Lines
	Stderr *Lines
	exited chan struct{}
	err    error // from Wait, once exited is closed
}

// StartProcess starts name with args, in the test's environment plus env,
// and stops it when the test ends.
func StartProcess(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{Cmd: cmd, Stdout: NewLines(), Stderr: NewLines(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.Stop(t) })
	return p
}

// Stop asks the process to end, then kills its group if it has not; when
// the test has failed, it logs what the process printed. Stopping a
// stopped process does nothing more.
func (p *Process) Stop(t testing.TB) {
	select {
	case <-p.exited:
	default:
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		grace := time.NewTimer(5 * time.Second)
		defer grace.Stop()
		select {
		case <-p.exited:
		case <-grace.C:
			t.Log("process did not stop on SIGTERM; killing it")
		}
	}
	// The emulator's runtime child may outlive it: end the whole group.
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", p.Stdout, p.Stderr)
	}
}
