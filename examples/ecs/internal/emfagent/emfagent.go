package emfagent

import (
	"bufio"
	"context"
	"net"
	"sync"
)

// Agent collects EMF documents sent over TCP.
type Agent struct {
	ln      net.Listener
	mu      sync.Mutex
	docs    [][]byte
	changed chan struct{}
	wg      sync.WaitGroup
	conns   map[net.Conn]struct{}
}

// Listen starts an Agent on 127.0.0.1 at a free port.
func Listen() (*Agent, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &Agent{ln: ln, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	a.wg.Add(1)
	go a.accept()
	return a, nil
}

// Endpoint is the agent's address as AWS_EMF_AGENT_ENDPOINT spells it.
func (a *Agent) Endpoint() string { return "tcp://" + a.ln.Addr().String() }

func (a *Agent) accept() {
	defer a.wg.Done()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.conns[c] = struct{}{}
		a.mu.Unlock()
		a.wg.Add(1)
		go a.read(c)
	}
}

func (a *Agent) read(c net.Conn) {
	defer a.wg.Done()
	defer c.Close()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		a.mu.Lock()
		a.docs = append(a.docs, append([]byte(nil), sc.Bytes()...))
		close(a.changed)
		a.changed = make(chan struct{})
		a.mu.Unlock()
	}
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
}

// Documents returns the documents received so far, oldest first.
func (a *Agent) Documents() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]byte(nil), a.docs...)
}

// WaitFor waits until done reports true for the documents received so far,
// or ctx ends.
func (a *Agent) WaitFor(ctx context.Context, done func(docs [][]byte) bool) ([][]byte, error) {
	for {
		a.mu.Lock()
		docs, ch := append([][]byte(nil), a.docs...), a.changed
		a.mu.Unlock()
		if done(docs) {
			return docs, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return docs, ctx.Err()
		}
	}
}

// Close stops listening, closes open connections and waits for the readers.
func (a *Agent) Close() error {
	err := a.ln.Close()
	a.mu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
	return err
}
