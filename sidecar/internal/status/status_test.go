package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServer(t *testing.T) {
	c := status.NewCounters()
	c.Counter("segments.received").Add(3)
	s, err := status.New(status.Config{Addr: "127.0.0.1:0", Counters: c, Info: func() map[string]any { return map[string]any{"mode": "aws"} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := status.Probe(ctx, s.Addr()); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Counters map[string]uint64
		Info     map[string]any
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || body.Counters["segments.received"] != 3 || body.Info["mode"] != "aws" {
		t.Fatalf("status %+v %v", body, err)
	}
	s.SetShuttingDown()
	if err := status.Probe(ctx, s.Addr()); err == nil {
		t.Fatal("probe passed while shutting down")
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := status.Probe(ctx, s.Addr()); err == nil {
		t.Fatal("probe passed after shutdown")
	}
}

func TestValidate(t *testing.T) {
	if _, err := status.New(status.Config{Addr: "nope", Counters: status.NewCounters()}); err == nil {
		t.Fatal("bad address accepted")
	}
	if _, err := status.New(status.Config{Addr: "127.0.0.1:0"}); err == nil {
		t.Fatal("missing counters accepted")
	}
}

func ExampleCounters() {
	c := status.NewCounters()
	rejected := c.Counter("segments.rejected.bad_header")
	rejected.Add(2)
	fmt.Println(c.Get("segments.rejected.bad_header"), c.Names())
	// Output: 2 [segments.rejected.bad_header]
}

func TestFamily(t *testing.T) {
	type reason string
	c := status.NewCounters()
	f := status.Family(c, "segments.dropped.", reason("budget_full"), reason("shutdown"))
	f["shutdown"].Add(2)
	if len(f) != 2 || c.Get("segments.dropped.shutdown") != 2 || c.Get("segments.dropped.budget_full") != 0 {
		t.Fatalf("family %v, counters %v", f, c.Snapshot())
	}
	if _, ok := c.Snapshot()["segments.dropped.budget_full"]; !ok {
		t.Fatal("an unused member of the family is not listed in the snapshot")
	}
	// The same name again is the same counter.
	if g := status.Family(c, "segments.", reason("dropped.shutdown")); g["dropped.shutdown"] != f["shutdown"] {
		t.Fatal("Family made a second counter for an existing name")
	}
}
