package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// TestOwnEmitterThroughSidecar: segments from Sidelight's own X-Ray
// emitter (what the middleware uses) go through the sidecar to X-Ray
// intact: every segment arrives once and passes the schema.
func TestOwnEmitterThroughSidecar(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	a := startAWS(t, fake, testConfig(), nil)
	em, err := xray.NewEmitter(xray.WithDaemonAddress(a.Addrs()["xray_udp"]))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	start := time.Unix(1700000000, 0)
	for i := range 300 {
		s := new(xray.Segment)
		s.Name = "checkout"
		s.TraceID = xray.NewTraceID(start)
		s.ID = xray.NewSpanID()
		s.Start, s.End = start, start.Add(time.Duration(i)*time.Millisecond)
		s.HTTP.Method, s.HTTP.URL = "GET", fmt.Sprintf("http://checkout.local/cart/%d", i)
		s.SetHTTPStatus(200 + i%3*100)
		sub := new(xray.Segment)
		sub.Name, sub.Namespace = "DynamoDB", "aws"
		sub.ID = xray.NewSpanID()
		sub.Start, sub.End = start, start.Add(time.Millisecond)
		s.Subsegments = append(s.Subsegments, sub)
		want[s.ID.String()] = true
		em.ExportSegment(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := em.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := em.Stats(); st.Dropped() != 0 {
		t.Fatalf("emitter dropped: %+v", st)
	}
	if err := fake.WaitFor(ctx, func() bool { return fake.SegmentCount() >= 300 }); err != nil {
		t.Fatalf("%v: %d arrived; counters %v", err, fake.SegmentCount(), a.Counters().Snapshot())
	}
	shutdown(t, a)
	got := map[string]bool{}
	for _, doc := range fake.Segments() {
		if err := schematest.Segment([]byte(doc)); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		var m struct{ ID string }
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if got[m.ID] {
			t.Fatalf("segment %s twice", m.ID)
		}
		got[m.ID] = true
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("segment %s missing (%d of %d arrived)", id, len(got), len(want))
		}
	}
}
