package queue_test

import (
	"fmt"
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
)

func TestDropOldestWithinBudget(t *testing.T) {
	b := queue.NewBudget(100)
	var dropped []int
	q := queue.New(b, func(e queue.Entry[int]) { dropped = append(dropped, e.Value) })
	for i := range 10 {
		if !q.Push(i, 30) {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.Len() != 3 || b.Used() != 90 {
		t.Fatalf("len %d used %d", q.Len(), b.Used())
	}
	if fmt.Sprint(dropped) != "[0 1 2 3 4 5 6]" {
		t.Fatalf("dropped %v", dropped)
	}
	if q.Push(99, 101) {
		t.Fatal("entry larger than the budget queued")
	}
	got := q.Pop(nil, 2)
	if got[0].Value != 7 || got[1].Value != 8 {
		t.Fatalf("pop %v", got)
	}
	q.PushFront(got)
	got = q.Pop(nil, 10)
	if len(got) != 3 || got[0].Value != 7 || got[2].Value != 9 {
		t.Fatalf("after PushFront %v", got)
	}
	q.Release(got)
	if b.Used() != 0 {
		t.Fatalf("used %d after release", b.Used())
	}
}

func TestSharedBudget(t *testing.T) {
	b := queue.NewBudget(50)
	a := queue.New[string](b, nil)
	c := queue.New[string](b, nil)
	a.Push("a", 40)
	if c.Push("c", 20) {
		t.Fatal("queue c took budget held by queue a")
	}
	if !c.Push("c", 10) {
		t.Fatal("queue c refused an entry that fits")
	}
}

func TestSignal(t *testing.T) {
	q := queue.New[int](queue.NewBudget(10), nil)
	q.Push(1, 1)
	select {
	case <-q.Signal():
	default:
		t.Fatal("no signal after push")
	}
}

func BenchmarkPushPop(b *testing.B) {
	q := queue.New[string](queue.NewBudget(1<<30), nil)
	buf := make([]queue.Entry[string], 0, 50)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Push("x", 300)
		if i%50 == 49 {
			buf = q.Pop(buf[:0], 50)
			q.Release(buf)
		}
	}
}

func ExampleQueue() {
	q := queue.New(queue.NewBudget(64), func(e queue.Entry[string]) { fmt.Println("dropped", e.Value) })
	q.Push("old", 40)
	q.Push("new", 40)
	fmt.Println(q.Len())
	// Output:
	// dropped old
	// 1
}

func TestSignalEvery(t *testing.T) {
	q := queue.New[int](queue.NewBudget(100), nil)
	q.SignalEvery(3)
	q.Push(1, 1)
	q.Push(2, 1)
	select {
	case <-q.Signal():
		t.Fatal("signal before a full batch")
	default:
	}
	q.Push(3, 1)
	select {
	case <-q.Signal():
	default:
		t.Fatal("no signal at a full batch")
	}
}
