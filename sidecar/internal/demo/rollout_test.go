package demo

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
)

// discardEMF accepts EMF connections and reads them to the end.
func discardEMF(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "tcp://" + ln.Addr().String()
}

// A rollout: v1 alone, then v1 and v2 side by side; v2's checkouts fail
// with its own error, and the local view sees both versions on every
// route of the shop, with v2 as a deployment after v1.
func TestDemoRolloutShipsTwoVersions(t *testing.T) {
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	emf := discardEMF(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		n, err := Run(ctx, Config{XRayAddr: d.Addr(), EMFEndpoint: emf, Interval: 2 * time.Millisecond, Rollout: true, RolloutAfter: 14})
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	wait, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	// 14 requests of v1 alone, then 7 rounds of both versions: every path
	// on each at least once.
	if _, err := d.WaitFor(wait, 150); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	docs, err := d.Documents()
	if err != nil {
		t.Fatal(err)
	}

	s, err := localview.New(localview.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	versions := map[string]int{}
	var v2Failed, v1Failed bool
	var firstV2 float64
	for _, seg := range docs {
		if err := schematest.Segment(seg.Raw); err != nil {
			t.Fatalf("schema: %v", err)
		}
		if err := s.AddSegment(seg.Raw); err != nil {
			t.Fatal(err)
		}
		if seg.Name != "shop" {
			continue
		}
		var top struct {
			Service struct{ Version string } `json:"service"`
		}
		if err := json.Unmarshal(seg.Raw, &top); err != nil {
			t.Fatal(err)
		}
		v := top.Service.Version
		versions[v]++
		if v == RolloutCandidate && (firstV2 == 0 || seg.StartTime < firstV2) {
			firstV2 = seg.StartTime
		}
		if seg.Cause != nil && len(seg.Cause.Exceptions) > 0 && seg.Cause.Exceptions[0].Message == "v2: order store timeout" {
			v2Failed = v2Failed || v == RolloutCandidate
			v1Failed = v1Failed || v == RolloutBaseline
		}
	}
	if versions[RolloutBaseline] < 14 || versions[RolloutCandidate] < 7 || len(versions) != 2 {
		t.Fatalf("shop segments by version %v", versions)
	}
	if v1Failed {
		t.Error("v1 failed a checkout the way only v2 does")
	}
	// v2 fails half its checkouts: over 7+ rounds it all but surely failed one.
	if !v2Failed && versions[RolloutCandidate] > 40 {
		t.Error("v2 never failed a checkout")
	}

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/api/compare?service=shop&baseline=v1&candidate=v2", nil))
	var res struct {
		Routes []struct {
			Route     string `json:"route"`
			Baseline  struct{ Requests int }
			Candidate struct{ Requests int }
		} `json:"routes"`
		Deployments []struct {
			Version, Previous string
			FirstSeen         float64 `json:"first_seen"`
		} `json:"deployments"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	routes := map[string]bool{}
	for _, r := range res.Routes {
		if r.Baseline.Requests > 0 && r.Candidate.Requests > 0 {
			routes[r.Route] = true
		}
	}
	for _, want := range []string{"GET /checkout", "GET /products/{id}", "GET /search"} {
		if !routes[want] {
			t.Errorf("route %s not served by both versions: %s", want, rec.Body)
		}
	}
	if len(res.Deployments) != 2 || res.Deployments[1].Version != RolloutCandidate || res.Deployments[1].Previous != RolloutBaseline || res.Deployments[1].FirstSeen != firstV2 {
		t.Errorf("deployments %+v (v2 first at %v)", res.Deployments, firstV2)
	}
}
