package middleware

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// TestLambdaTimeoutWatchArmsOnce: invocations one after another, each with
// the same timeout, set the timeout timer once in all (the first one): the
// later ones' reports fall after the time it is set for, and it re-arms
// itself when it fires. Arming a timer per invocation cost a runtime
// thread's wake-up each time.
func TestLambdaTimeoutWatchArmsOnce(t *testing.T) {
	k, err := New(WithSegmentExporter(xraytest.NewRecorder()), WithMetricsSink(emftest.NewSink()), WithTimeoutMargin(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	w := newLambdaWrapper(k.config(nil))
	h := &lambdaHandler{w: w, next: echoHandler{}}
	for _, n := range []int{10, 40} {
		for range n {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			if _, err := h.Invoke(ctx, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
		w.watch.mu.Lock()
		arms, active := w.watch.arms, len(w.watch.active)
		w.watch.mu.Unlock()
		if arms != 1 || active != 0 {
			t.Fatalf("after %d invocations: timer set %d times, %d invocations registered; want 1 and 0", n, arms, active)
		}
	}
}

// TestLambdaTimeoutWatchConcurrent: of invocations running at once, those
// still running at their report time are reported, each once, and those
// that end first are not, whatever the order of their deadlines.
func TestLambdaTimeoutWatchConcurrent(t *testing.T) {
	rec := xraytest.NewRecorder()
	k, err := New(WithSegmentExporter(rec), WithSamplingRules(always(t)), WithMetricsSink(emftest.NewSink()), WithTimeoutMargin(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	release := make(chan struct{})
	w := newLambdaWrapper(k.config(nil))
	h := &lambdaHandler{w: w, next: blockingHandler{release}}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Even invocations block until released (after the reports),
			// with deadlines from 120 to 420 ms, reported halfway; odd ones
			// return at once, with deadlines before and after those.
			timeout := time.Duration(120+100*(i/2)) * time.Millisecond
			if i%2 == 1 {
				timeout = time.Duration(60+100*(i/2)) * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: fmt.Sprint("r", i)})
			//nolint:staticcheck // the plain string key aws-lambda-go uses
			ctx = context.WithValue(ctx, "x-amzn-trace-id", fmt.Sprintf("Root=%s;Parent=%016x;Sampled=1", facadeTrace, i+1))
			payload := `{"block":false}`
			if i%2 == 0 {
				payload = `{"block":true}`
			}
			if _, err := h.Invoke(ctx, []byte(payload)); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.Segments()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the odd ones, then the even ones' reports
	}
	close(release)
	wg.Wait()
	segs := rec.Segments()
	if len(segs) != n {
		t.Fatalf("%d segments, want %d", len(segs), n)
	}
	for _, s := range segs {
		var i int
		if _, err := fmt.Sscanf(s.ParentID, "%016x", &i); err != nil {
			t.Fatal(err)
		}
		i--
		if reported := s.Annotations["timeout"] == true; reported != (i%2 == 0) {
			t.Errorf("invocation %d: timeout report %v: %s", i, reported, s.Raw)
		}
	}
	w.watch.mu.Lock()
	defer w.watch.mu.Unlock()
	if len(w.watch.active) != 0 {
		t.Errorf("%d invocations still registered", len(w.watch.active))
	}
}

type blockingHandler struct{ release chan struct{} }

func (b blockingHandler) Invoke(ctx context.Context, p []byte) ([]byte, error) {
	if string(p) == `{"block":true}` {
		<-b.release
	}
	return p, nil
}
