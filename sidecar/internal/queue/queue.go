package queue

import (
	"sync"
	"sync/atomic"
)

// Budget is a byte budget shared by queues.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes currently reserved.
func (b *Budget) Used() int64 { return b.used.Load() }

func (b *Budget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *Budget) release(n int64) { b.used.Add(-n) }

// TryReserve reserves n bytes outside any queue (for aggregation state),
// reporting whether they fit.
func (b *Budget) TryReserve(n int64) bool { return b.reserve(n) }

// Release returns bytes reserved with TryReserve.
func (b *Budget) Release(n int64) { b.release(n) }

// Entry is a queued value and the bytes it holds in the budget.
type Entry[T any] struct {
	Value T
	Size  int64
}

// Queue is a FIFO of entries whose sizes are reserved in a Budget from Push
// until Release. Its methods are safe for concurrent use.
type Queue[T any] struct {
	budget *Budget
	onDrop func(Entry[T])
	signal chan struct{}
	every  int // signal when the length reaches a multiple of every

	mu    sync.Mutex
	items []Entry[T]
	head  int
	bytes int64 // sizes of the queued entries (not of popped ones)
}

// New returns a queue drawing on b. onDrop (may be nil) is called, without
// the queue's lock, for each entry dropped to make room.
func New[T any](b *Budget, onDrop func(Entry[T])) *Queue[T] {
	return &Queue[T]{budget: b, onDrop: onDrop, signal: make(chan struct{}, 1), every: 1}
}

// SignalEvery makes Push signal only when the queue length reaches a
// multiple of n (for a consumer that waits for full batches and flushes
// partial ones on a timer), so a busy producer does not wake the consumer
// for every entry. It must be called before the queue is used.
func (q *Queue[T]) SignalEvery(n int) {
	if n > 0 {
		q.every = n
	}
}

// Push appends v, reserving size bytes. When the budget is full it drops
// the oldest entries of this queue until v fits; if v still does not fit
// (other queues hold the budget, or v alone is larger), v itself is not
// queued and Push returns false. The caller counts that drop.
func (q *Queue[T]) Push(v T, size int64) bool {
	var dropped []Entry[T]
	q.mu.Lock()
	for !q.budget.reserve(size) {
		// Drop only when dropping this queue's entries can make room.
		if q.head == len(q.items) || q.budget.Used()-q.bytes+size > q.budget.limit {
			q.mu.Unlock()
			q.dropAll(dropped)
			return false
		}
		e := q.items[q.head]
		q.items[q.head] = Entry[T]{}
		q.head++
		q.bytes -= e.Size
		q.budget.release(e.Size)
		dropped = append(dropped, e)
	}
	q.items = append(q.items, Entry[T]{Value: v, Size: size})
	q.bytes += size
	n := len(q.items) - q.head
	q.mu.Unlock()
	q.dropAll(dropped)
	if n%q.every == 0 {
		q.notify()
	}
	return true
}

func (q *Queue[T]) dropAll(es []Entry[T]) {
	if q.onDrop == nil {
		return
	}
	for _, e := range es {
		q.onDrop(e)
	}
}

func (q *Queue[T]) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// PushFront puts entries taken by Pop back at the head of the queue, in
// order, for a retry. Their bytes are still reserved, so it never drops.
func (q *Queue[T]) PushFront(es []Entry[T]) {
	if len(es) == 0 {
		return
	}
	q.mu.Lock()
	live := q.items[q.head:]
	merged := make([]Entry[T], 0, len(es)+len(live))
	merged = append(merged, es...)
	merged = append(merged, live...)
	q.items, q.head = merged, 0
	for _, e := range es {
		q.bytes += e.Size
	}
	q.mu.Unlock()
	q.notify()
}

// Pop removes up to max entries from the head, appending them to dst. The
// entries keep their budget reservation until Release.
func (q *Queue[T]) Pop(dst []Entry[T], max int) []Entry[T] {
	q.mu.Lock()
	n := min(max, len(q.items)-q.head)
	dst = append(dst, q.items[q.head:q.head+n]...)
	for _, e := range q.items[q.head : q.head+n] {
		q.bytes -= e.Size
	}
	clear(q.items[q.head : q.head+n])
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head > len(q.items)/2 {
		m := copy(q.items, q.items[q.head:])
		clear(q.items[m:])
		q.items, q.head = q.items[:m], 0
	}
	remaining := len(q.items) - q.head
	q.mu.Unlock()
	if remaining >= q.every {
		q.notify() // let another consumer take the rest
	}
	return dst
}

// Release returns the bytes of entries that were sent or dropped after Pop.
func (q *Queue[T]) Release(es []Entry[T]) {
	var n int64
	for _, e := range es {
		n += e.Size
	}
	q.budget.release(n)
}

// Len returns the number of queued entries.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Signal returns a channel that receives after entries were added (at most
// one pending signal, so a consumer must re-check Len after waking).
func (q *Queue[T]) Signal() <-chan struct{} { return q.signal }
