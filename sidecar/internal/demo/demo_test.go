package demo

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemoSendsTracesAndMetrics(t *testing.T) {
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			readers.Add(1)
			go func() {
				defer readers.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				sc.Buffer(make([]byte, 1<<16), 1<<20)
				for sc.Scan() {
					mu.Lock()
					lines = append(lines, sc.Text())
					mu.Unlock()
				}
			}()
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		n, err := Run(ctx, Config{XRayAddr: d.Addr(), EMFEndpoint: "tcp://" + ln.Addr().String(), Interval: 5 * time.Millisecond})
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	// 14 requests: every path twice; each shop request that reaches
	// inventory adds an inventory segment.
	if _, err := d.WaitFor(wait, 20); err != nil {
		t.Fatal(err)
	}
	cancel()
	n := <-done
	ln.Close()
	readers.Wait()

	docs, err := d.Documents()
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]int{}
	var fault, throttle, remote, cors bool
	for _, s := range docs {
		if err := schematest.Segment(s.Raw); err != nil {
			t.Fatalf("schema: %v", err)
		}
		services[s.Name]++
		fault = fault || s.Fault && s.Cause != nil
		throttle = throttle || s.Throttle
		_, hasRemote := s.Find("127.0.0.1")
		remote = remote || hasRemote
		cors = cors || s.Annotations["cors_verdict"] != nil
	}
	if n < 7 || services["shop"] == 0 || services["inventory"] == 0 || !fault || !throttle || !remote || !cors {
		t.Fatalf("after %d requests: services %v fault %v throttle %v remote %v cors %v", n, services, fault, throttle, remote, cors)
	}
	mu.Lock()
	defer mu.Unlock()
	var requests bool
	for _, l := range lines {
		if err := schematest.EMF([]byte(l)); err != nil {
			t.Fatalf("EMF: %v\n%s", err, l)
		}
		requests = requests || strings.Contains(l, `"Requests"`)
	}
	if !requests {
		t.Fatalf("no RED metrics among %d EMF lines", len(lines))
	}
}
