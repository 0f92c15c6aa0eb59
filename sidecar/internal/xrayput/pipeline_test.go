package xrayput_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/segments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// TestPipelineCountsAsWithSDK runs the segments pipeline through the same
// faults (throttling, 500, 503, a permanent 400, retryable and permanent
// unprocessed segments) once with the SDK's client and once with the
// direct one, one document per request so that each fault meets one
// document: every counter ends the same, and so does the log.
func TestPipelineCountsAsWithSDK(t *testing.T) {
	const n = 40
	run := func(direct bool) (map[string]uint64, int, string) {
		fake := fakeaws.New()
		defer fake.Close()
		fake.SetEnv(t)
		sdk, cfg := sdkClient(t, true)
		var client segments.API = sdk
		if direct {
			client = directClient(t, cfg)
		}
		counters := status.NewCounters()
		var logs bytes.Buffer
		p, err := segments.New(segments.Config{Client: client, Budget: queue.NewBudget(1 << 20), Counters: counters,
			BatchSize: 1, Workers: 1, FlushInterval: time.Millisecond,
			Backoff: retry.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond},
			Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime}))})
		if err != nil {
			t.Fatal(err)
		}
		fake.Fail(fakeaws.XRay, 2, fakeaws.FaultThrottle)
		fake.Fail(fakeaws.XRay, 1, fakeaws.Fault500)
		fake.Fail(fakeaws.XRay, 1, fakeaws.Fault503)
		fake.Fail(fakeaws.XRay, 1, fakeaws.FaultBadRequest)
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitDelivered := func(k int) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := fake.WaitFor(ctx, func() bool { return fake.SegmentCount() >= k }); err != nil {
				t.Fatalf("%v: %d delivered, counters %v", err, fake.SegmentCount(), counters.Snapshot())
			}
		}
		for i := range n {
			switch i {
			case n / 2: // the faults above met the first half; one was dropped
				waitDelivered(n/2 - 1)
				fake.UnprocessSegments(2, "ThrottledException")
			case n/2 + 5: // those five are delivered, two of them retried
				waitDelivered(n/2 + 4)
				fake.UnprocessSegments(1, "InvalidSegment")
			}
			d := fmt.Appendf(nil, `{"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"%016x","start_time":1.5,"end_time":2.5,"name":"svc"}`, i+1)
			info, r := xraydoc.Check(d)
			if r != xraydoc.OK {
				t.Fatal(r)
			}
			p.ConsumeSegment(d, info)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if fake.BadSignatures() != 0 || fake.Unsigned() != 0 {
			t.Fatalf("%d bad signatures (%s)", fake.BadSignatures(), fake.LastSignatureError())
		}
		return counters.Snapshot(), fake.SegmentCount(), requestIDs.ReplaceAllString(logs.String(), "RequestID: -,")
	}
	withSDK, sentSDK, logSDK := run(false)
	withDirect, sentDirect, logDirect := run(true)
	if !maps.Equal(withSDK, withDirect) || sentSDK != sentDirect {
		t.Fatalf("with the SDK's client: %d delivered, %v\nwith the direct one: %d delivered, %v", sentSDK, withSDK, sentDirect, withDirect)
	}
	if logSDK != logDirect {
		t.Fatalf("logs differ:\nSDK:    %s\ndirect: %s", logSDK, logDirect)
	}
	// The faults were met as planned.
	want := map[string]uint64{"segments.sent": n - 2, "segments.retried.throttled": 2, "segments.retried.server_error": 2,
		"segments.dropped.client_error": 1, "segments.retried.unprocessed": 2, "segments.dropped.rejected_by_xray": 1}
	for k, v := range want {
		if withDirect[k] != v {
			t.Errorf("%s = %d, want %d (%v)", k, withDirect[k], v, withDirect)
		}
	}
	if !strings.Contains(logDirect, "InvalidRequestException") {
		t.Errorf("the permanent failure is not logged: %s", logDirect)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
