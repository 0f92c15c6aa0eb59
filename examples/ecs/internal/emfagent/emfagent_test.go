package emfagent

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAgent(t *testing.T) {
	a, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !strings.HasPrefix(a.Endpoint(), "tcp://127.0.0.1:") {
		t.Fatalf("endpoint %s", a.Endpoint())
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(a.Endpoint(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	// Two documents, an empty line, and one split across writes.
	for _, s := range []string{"{\"a\":1}\n\n{\"b\":", "2}\n"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	docs, err := a.WaitFor(ctx, func(d [][]byte) bool { return len(d) >= 2 })
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || string(docs[0]) != `{"a":1}` || string(docs[1]) != `{"b":2}` {
		t.Fatalf("documents %q", docs)
	}
	// Close ends open connections too (goleak checks the readers).
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := a.WaitFor(ctx2, func(d [][]byte) bool { return len(d) > 2 }); err == nil {
		t.Fatal("WaitFor returned without its condition or an error")
	}
}
