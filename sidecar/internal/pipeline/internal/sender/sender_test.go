package sender_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/internal/sender"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a send that releases every batch and keeps its values.
type recorder struct {
	q       *queue.Queue[int]
	mu      sync.Mutex
	batches [][]int
	got     chan struct{} // receives after each batch
}

func newRecorder(q *queue.Queue[int]) *recorder {
	return &recorder{q: q, got: make(chan struct{}, 100)}
}

func (r *recorder) send(batch []queue.Entry[int]) {
	vals := make([]int, len(batch))
	for i, e := range batch {
		vals[i] = e.Value
	}
	r.q.Release(batch)
	r.mu.Lock()
	r.batches = append(r.batches, vals)
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) newSend() func([]queue.Entry[int]) { return r.send }

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.batches)
}

func (r *recorder) wait(t *testing.T, batches int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range batches {
		select {
		case <-r.got:
		case <-timeout:
			t.Fatalf("waiting for %d batches, have %s", batches, r)
		}
	}
}

func push(t *testing.T, q *queue.Queue[int], from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if !q.Push(i, 10) {
			t.Fatalf("push %d refused", i)
		}
	}
}

func shutdown(t *testing.T, s *sender.Sender[int]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFullBatchesThenFlushTick: full batches go out at once, the partial
// rest on the flush tick, in queue order.
func TestFullBatchesThenFlushTick(t *testing.T) {
	b := queue.NewBudget(1 << 20)
	q := queue.New[int](b, nil)
	rec := newRecorder(q)
	s := sender.New(q, sender.Config[int]{Name: "test", Workers: 1, BatchSize: 3,
		FlushInterval: 5 * time.Millisecond, RequestTimeout: time.Second, NewSend: rec.newSend})
	push(t, q, 0, 7)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 3)
	if got := rec.String(); got != "[[0 1 2] [3 4 5] [6]]" {
		t.Fatalf("batches %s", got)
	}
	shutdown(t, s)
	if b.Used() != 0 {
		t.Fatalf("budget used %d", b.Used())
	}
}

// TestShutdownOrder: Shutdown stops intake, then the Flusher, then calls
// Seal, and the workers send what Seal queued (a partial batch without a
// flush tick) before Shutdown returns; nothing is left.
func TestShutdownOrder(t *testing.T) {
	b := queue.NewBudget(1 << 20)
	q := queue.New[int](b, nil)
	rec := newRecorder(q)
	var s *sender.Sender[int]
	var steps []string
	flusherDone := make(chan struct{})
	s = sender.New(q, sender.Config[int]{Name: "test", Workers: 3, BatchSize: 4, RequestTimeout: time.Second,
		NewSend: rec.newSend,
		Flusher: func(stop <-chan struct{}) {
			defer close(flusherDone)
			<-stop
			steps = append(steps, fmt.Sprintf("flusher stopped=%v", s.Stopped()))
		},
		Seal: func() {
			select {
			case <-flusherDone:
				steps = append(steps, fmt.Sprintf("seal stopped=%v", s.Stopped()))
			default:
				steps = append(steps, "seal while the flusher runs")
			}
			push(t, q, 4, 6)
		},
		Left: func(left []queue.Entry[int]) { t.Errorf("%d entries left", len(left)) },
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.Stopped() {
		t.Fatal("stopped before Shutdown")
	}
	push(t, q, 0, 4)
	rec.wait(t, 1)
	shutdown(t, s)
	if got := fmt.Sprint(steps); got != "[flusher stopped=true seal stopped=true]" {
		t.Fatalf("steps %s", got)
	}
	if got := rec.String(); got != "[[0 1 2 3] [4 5]]" {
		t.Fatalf("batches %s", got)
	}
	if b.Used() != 0 || q.Len() != 0 {
		t.Fatalf("budget used %d, queued %d", b.Used(), q.Len())
	}
	if err := s.Start(); err == nil || err.Error() != "test: already started" {
		t.Fatalf("second Start: %v", err)
	}
}

// TestRetryKeepsOrder: entries handed back with Retry are sent again
// first, after the backoff, and the queue behind them keeps its order.
func TestRetryKeepsOrder(t *testing.T) {
	b := queue.NewBudget(1 << 20)
	q := queue.New[int](b, nil)
	rec := newRecorder(q)
	var s *sender.Sender[int]
	failures := 2
	s = sender.New(q, sender.Config[int]{Name: "test", Workers: 1, BatchSize: 2, RequestTimeout: time.Second,
		Backoff: retry.Backoff{Base: time.Millisecond, Max: time.Millisecond},
		NewSend: func() func([]queue.Entry[int]) {
			return func(batch []queue.Entry[int]) {
				if failures > 0 {
					failures--
					s.Retry(batch)
					return
				}
				s.Succeeded()
				rec.send(batch)
			}
		},
	})
	push(t, q, 0, 5)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	shutdown(t, s)
	if got := rec.String(); got != "[[0 1] [2 3] [4]]" || failures != 0 {
		t.Fatalf("batches %s, %d failures to go", got, failures)
	}
}

// TestShutdownDeadline: when ctx ends, Shutdown cancels the request in
// flight, cuts the backoff short, and hands what is left to Left, released.
func TestShutdownDeadline(t *testing.T) {
	b := queue.NewBudget(1 << 20)
	q := queue.New[int](b, nil)
	var s *sender.Sender[int]
	inFlight := make(chan struct{}, 1)
	var cancelled error
	var left []int
	leftCalls := 0
	s = sender.New(q, sender.Config[int]{Name: "test", Workers: 1, BatchSize: 5, RequestTimeout: time.Hour,
		Backoff: retry.Backoff{Base: time.Hour, Max: time.Hour},
		NewSend: func() func([]queue.Entry[int]) {
			return func(batch []queue.Entry[int]) {
				ctx, cancel := s.RequestContext()
				defer cancel()
				inFlight <- struct{}{}
				<-ctx.Done() // a backend that never answers
				cancelled = ctx.Err()
				s.Retry(batch)
			}
		},
		Left: func(es []queue.Entry[int]) {
			leftCalls++
			for _, e := range es {
				left = append(left, e.Value)
			}
		},
	})
	push(t, q, 0, 8)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	<-inFlight
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) || err.Error() != "test: shutdown: context canceled" {
		t.Fatalf("Shutdown: %v", err)
	}
	if !errors.Is(cancelled, context.Canceled) {
		t.Fatalf("request context ended with %v", cancelled)
	}
	if !slices.Equal(left, []int{0, 1, 2, 3, 4, 5, 6, 7}) || leftCalls != 1 {
		t.Fatalf("left %v in %d calls", left, leftCalls)
	}
	if b.Used() != 0 {
		t.Fatalf("budget used %d", b.Used())
	}
	if err2 := s.Shutdown(context.Background()); err2 != err || leftCalls != 1 {
		t.Fatalf("second Shutdown: %v, Left called %d times", err2, leftCalls)
	}
}

// TestRetryAfterCutShortByShutdown: RetryAfter puts the batch back in
// order, and a wait as long as MaxRetryAfter ends when Shutdown gives up,
// handing the batch to Left.
func TestRetryAfterCutShortByShutdown(t *testing.T) {
	b := queue.NewBudget(1 << 20)
	q := queue.New[int](b, nil)
	var s *sender.Sender[int]
	var left []int
	tried := make(chan struct{}, 10)
	s = sender.New(q, sender.Config[int]{Name: "test", Workers: 1, BatchSize: 3, RequestTimeout: time.Second,
		Backoff: retry.Backoff{Base: time.Millisecond, Max: time.Millisecond},
		NewSend: func() func([]queue.Entry[int]) {
			return func(batch []queue.Entry[int]) {
				tried <- struct{}{}
				s.RetryAfter(batch, time.Hour) // capped at MaxRetryAfter
			}
		},
		Left: func(es []queue.Entry[int]) {
			for _, e := range es {
				left = append(left, e.Value)
			}
		},
	})
	push(t, q, 0, 3)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	<-tried
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown waited out the Retry-After")
	}
	if fmt.Sprint(left) != "[0 1 2]" || len(tried) != 0 || b.Used() != 0 {
		t.Fatalf("left %v, %d more tries, %d bytes still reserved", left, len(tried), b.Used())
	}
}

// TestShutdownWaitsForAdmittedIntake: a call admitted by Enter just before
// Shutdown still gets its data queued and sent. Before Enter existed the
// pipelines checked Stopped and then queued, so an entry queued after the
// workers had drained and gone was neither sent nor counted.
func TestShutdownWaitsForAdmittedIntake(t *testing.T) {
	b := queue.NewBudget(1 << 20)
	q := queue.New[int](b, nil)
	r := newRecorder(q)
	var left []int
	s := sender.New(q, sender.Config[int]{Name: "test", Workers: 1, BatchSize: 1,
		RequestTimeout: time.Second, NewSend: r.newSend,
		Left: func(es []queue.Entry[int]) {
			for _, e := range es {
				left = append(left, e.Value)
			}
		}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if !s.Enter() {
		t.Fatal("Enter refused before Shutdown")
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	// Shutdown must wait for Exit: it cannot finish while intake is
	// admitted.
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a call was admitted", err)
	case <-time.After(50 * time.Millisecond):
	}
	push(t, q, 1, 2) // queued by the admitted call, after Shutdown began
	s.Exit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := r.String(); got != "[[1]]" || len(left) != 0 {
		t.Fatalf("sent %s, left %v; want the admitted entry sent", got, left)
	}
	if s.Enter() {
		t.Fatal("Enter admitted a call after Shutdown")
	}
}
