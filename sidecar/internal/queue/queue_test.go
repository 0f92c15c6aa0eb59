package queue_test

import (
	"fmt"
	"sync"
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

// TestSharedBudget: a queue within its share takes room back from one
// over its share (issue 12, item 3: before, a queue could only drop its
// own entries, so one whose backend was down kept the others out).
func TestSharedBudget(t *testing.T) {
	b := queue.NewBudget(50)
	var droppedA []string
	a := queue.New(b, func(e queue.Entry[string]) { droppedA = append(droppedA, e.Value) })
	c := queue.New[string](b, nil)
	if b.Share() != 25 {
		t.Fatalf("share %d", b.Share())
	}
	a.Push("a1", 20)
	a.Push("a2", 20) // over its share while the budget has room
	if !c.Push("c", 20) {
		t.Fatal("queue c, within its share, refused while queue a holds more than its own")
	}
	if fmt.Sprint(droppedA) != "[a1]" || a.Len() != 1 || c.Len() != 1 || b.Used() != 40 {
		t.Fatalf("dropped %v, lens %d %d, used %d", droppedA, a.Len(), c.Len(), b.Used())
	}
	// Both are within their shares now: a pushing more drops its own
	// oldest, and so does c.
	if !a.Push("a3", 20) || fmt.Sprint(droppedA) != "[a1 a2]" || c.Len() != 1 {
		t.Fatalf("dropped %v, c len %d", droppedA, c.Len())
	}
	if !c.Push("c2", 20) || fmt.Sprint(droppedA) != "[a1 a2]" || c.Len() != 1 || a.Len() != 1 {
		t.Fatalf("dropped %v, lens %d %d", droppedA, a.Len(), c.Len())
	}
	if a.Charged()+c.Charged() != b.Used() {
		t.Fatalf("charged %d + %d, used %d", a.Charged(), c.Charged(), b.Used())
	}
}

// TestReclaimFurthestOverFirst: room is taken from the queue furthest
// over its share, oldest entries first, never below the share; nothing is
// dropped when the others cannot make room together.
func TestReclaimFurthestOverFirst(t *testing.T) {
	b := queue.NewBudget(300) // share 100 each
	var dropped []string
	onDrop := func(e queue.Entry[string]) { dropped = append(dropped, e.Value) }
	x, y, z := queue.New(b, onDrop), queue.New(b, onDrop), queue.New(b, onDrop)
	for i := range 6 {
		x.Push(fmt.Sprint("x", i), 30) // 180: 80 over
	}
	for i := range 4 {
		y.Push(fmt.Sprint("y", i), 30) // 120: 20 over, used 300
	}
	if !z.Push("z0", 50) || fmt.Sprint(dropped) != "[x0 x1]" {
		t.Fatalf("dropped %v", dropped)
	}
	// x and y are 20 over each now: x's oldest down to its share, then y's.
	dropped = nil
	if !z.Push("z1", 50) || fmt.Sprint(dropped) != "[x2 y0]" {
		t.Fatalf("dropped %v", dropped)
	}
	if b.Used() != 280 || x.Charged() != 90 || y.Charged() != 90 || z.Charged() != 100 {
		t.Fatalf("used %d, charged %d %d %d", b.Used(), x.Charged(), y.Charged(), z.Charged())
	}
}

// TestReclaimNothingWhenNotEnough: when the queues over their share
// cannot free enough between them (the rest is in flight), nothing is
// dropped for nothing.
func TestReclaimNothingWhenNotEnough(t *testing.T) {
	b := queue.NewBudget(300)
	var dropped []string
	onDrop := func(e queue.Entry[string]) { dropped = append(dropped, e.Value) }
	x, y, z := queue.New(b, onDrop), queue.New(b, onDrop), queue.New(b, onDrop)
	for i := range 4 {
		x.Push(fmt.Sprint("x", i), 30) // 120: 20 over
	}
	for i := range 13 {
		y.Push(fmt.Sprint("y", i), 10) // 130: 30 over
	}
	z.Push("z0", 50)
	inFlight := z.Pop(nil, 1) // z holds 50, none of it queued; used 300
	if z.Push("z1", 60) || dropped != nil {
		t.Fatalf("others can free 50 of 60: dropped %v", dropped)
	}
	if !z.Push("z1", 50) || fmt.Sprint(dropped) != "[y0 y1 y2 x0]" {
		t.Fatalf("dropped %v", dropped)
	}
	z.Release(inFlight)
	if b.Used() != 240 {
		t.Fatalf("used %d", b.Used())
	}
}

// TestHold: held bytes take room from queues over their share, never drop
// the holder's own entries, and never exceed the share.
func TestHold(t *testing.T) {
	b := queue.NewBudget(100)
	var dropped []int
	busy := queue.New(b, func(e queue.Entry[int]) { dropped = append(dropped, e.Value) })
	idle := queue.New[int](b, nil)
	for i := range 10 {
		busy.Push(i, 10)
	}
	if !idle.Hold(30) || fmt.Sprint(dropped) != "[0 1 2]" {
		t.Fatalf("hold within the share: dropped %v", dropped)
	}
	if idle.Hold(30) {
		t.Fatal("held bytes exceed the share")
	}
	idle.Push(100, 20)
	dropped = nil
	if busy.Hold(10) || dropped != nil {
		t.Fatalf("Hold over the share: dropped %v", dropped)
	}
	idle.Unhold(30)
	if b.Used() != 70 || idle.Charged() != 20 {
		t.Fatalf("used %d, charged %d", b.Used(), idle.Charged())
	}
}

// TestConcurrentSharesBalance: queues pushing concurrently into a full
// budget never exceed it, and the charges always add up to what is used.
func TestConcurrentSharesBalance(t *testing.T) {
	b := queue.NewBudget(10_000)
	qs := []*queue.Queue[int]{queue.New[int](b, nil), queue.New[int](b, nil), queue.New[int](b, nil)}
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Go(func() {
			var buf []queue.Entry[int]
			for j := range 20_000 {
				q.Push(j, int64(10+(i*7+j)%90))
				if used := b.Used(); used > b.Limit() {
					t.Errorf("used %d over the limit", used)
				}
				if i == 0 && j%10 == 0 { // one consumer that keeps up a little
					buf = q.Pop(buf[:0], 5)
					q.Release(buf)
				}
			}
		})
	}
	wg.Wait()
	var sum int64
	for _, q := range qs {
		sum += q.Charged()
	}
	if sum != b.Used() {
		t.Fatalf("charges %d, used %d", sum, b.Used())
	}
	for i, q := range qs[1:] {
		if q.Charged() < b.Share()-100 {
			t.Fatalf("queue %d holds %d, under its share %d", i+1, q.Charged(), b.Share())
		}
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

// PushAllOrNone queues a whole group or nothing, and never drops the
// queue's own entries to make room (Push would).
func TestPushAllOrNone(t *testing.T) {
	b := queue.NewBudget(100)
	var dropped []int
	q := queue.New(b, func(e queue.Entry[int]) { dropped = append(dropped, e.Value) })
	if !q.PushAllOrNone([]queue.Entry[int]{{Value: 1, Size: 30}, {Value: 2, Size: 30}}) {
		t.Fatal("a group that fits was refused")
	}
	if q.PushAllOrNone([]queue.Entry[int]{{Value: 3, Size: 30}, {Value: 4, Size: 30}}) {
		t.Fatal("a group that needs queued entries dropped was queued")
	}
	if q.Len() != 2 || b.Used() != 60 || len(dropped) != 0 {
		t.Fatalf("after a refused group: len %d used %d dropped %v", q.Len(), b.Used(), dropped)
	}
	if !q.PushAllOrNone(nil) {
		t.Fatal("an empty group was refused")
	}
	if !q.PushAllOrNone([]queue.Entry[int]{{Value: 3, Size: 40}}) {
		t.Fatal("a group that fits exactly was refused")
	}
	got := q.Pop(nil, 10)
	if fmt.Sprint(len(got), got[0].Value, got[1].Value, got[2].Value) != "3 1 2 3" {
		t.Fatalf("popped %v", got)
	}
	select {
	case <-q.Signal():
	default:
		t.Fatal("no signal after PushAllOrNone")
	}
	q.Release(got)

	// Within its share, the group takes room back from a queue over its
	// own, as Push does.
	b = queue.NewBudget(100)
	hog := queue.New[int](b, nil)
	q = queue.New[int](b, nil)
	for i := range 10 {
		hog.Push(i, 10)
	}
	if !q.PushAllOrNone([]queue.Entry[int]{{Value: 1, Size: 20}, {Value: 2, Size: 20}}) || hog.Len() != 6 {
		t.Fatalf("group within its share not queued from the other queue's excess: hog len %d", hog.Len())
	}
}
