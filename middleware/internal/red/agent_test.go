package red

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// TestDefaultSinkIsTheAgent leaves Config.Sink empty with
// AWS_EMF_AGENT_ENDPOINT pointing at a real listener: the Recorder finds
// the agent from the environment, and Shutdown delivers the last flush.
func TestDefaultSinkIsTheAgent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 10)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Setenv("AWS_EMF_AGENT_ENDPOINT", "tcp://"+ln.Addr().String())
	t.Setenv("AWS_EMF_NAMESPACE", "FromEnv")
	r, err := New(Config{Service: "orders", Tick: make(chan time.Time)})
	if err != nil {
		t.Fatal(err)
	}
	r.Observe("GET /orders/{id}", "GET", 200, time.Millisecond, tid(""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-lines:
		if err := schematest.EMF([]byte(line)); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"LogGroupName":"orders-metrics"`, `"Namespace":"FromEnv"`, `"Requests":1`} {
			if !strings.Contains(line, want) {
				t.Errorf("agent document lacks %s: %s", want, line)
			}
		}
	case <-ctx.Done():
		t.Fatal("the agent received nothing")
	}
}
