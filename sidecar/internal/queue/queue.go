package queue

import (
	"sync"
	"sync/atomic"
)

// Budget is a byte budget shared by queues (see the package doc for how
// it is divided among them).
type Budget struct {
	limit int64
	used  atomic.Int64
	share atomic.Int64 // limit / number of queues

	mu     sync.Mutex
	queues []sharer
}

// sharer is a queue as its budget sees it, whatever its entry type.
type sharer interface {
	// charged returns the bytes charged to the queue's share: queued, in
	// flight (popped, not yet released) and held.
	charged() int64
	// queuedBytes returns the bytes of queued entries: what evict can free.
	queuedBytes() int64
	// evict drops the oldest queued entries until at least target bytes
	// are freed, the queue is empty, or (floor >= 0) its charge is down to
	// floor. The freed bytes stay reserved in the budget: the caller owns
	// them now. It returns how many there are.
	evict(target, floor int64) int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	b := &Budget{limit: limit}
	b.share.Store(limit)
	return b
}

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes currently reserved.
func (b *Budget) Used() int64 { return b.used.Load() }

// Share returns the bytes each queue is entitled to: the limit divided by
// the number of queues made on the budget (the whole limit before any).
func (b *Budget) Share() int64 { return b.share.Load() }

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

// TryReserve reserves n bytes outside any queue and its share (for a
// receiver's own buffers), reporting whether they fit. It never drops
// queued entries to make room.
func (b *Budget) TryReserve(n int64) bool { return b.reserve(n) }

// Release returns bytes reserved with TryReserve.
func (b *Budget) Release(n int64) { b.release(n) }

func (b *Budget) join(q sharer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queues = append(b.queues, q)
	b.share.Store(b.limit / int64(len(b.queues)))
}

// reclaim frees at least target bytes for self (a queue under its share)
// by dropping the oldest entries of the other queues that are over their
// share, the furthest over first, none below its share. It drops nothing
// and returns 0 when they cannot give target bytes between them;
// otherwise it returns the bytes freed, which the caller owns.
func (b *Budget) reclaim(self sharer, target int64) int64 {
	b.mu.Lock()
	qs := b.queues
	b.mu.Unlock()
	share := b.share.Load()
	excess := func(q sharer) int64 { return max(0, min(q.charged()-share, q.queuedBytes())) }
	var total int64
	for _, q := range qs {
		if q != self {
			total += excess(q)
		}
	}
	if total < target {
		return 0
	}
	var freed int64
	for freed < target {
		var victim sharer
		var most int64
		for _, q := range qs {
			if e := excess(q); q != self && e > most {
				victim, most = q, e
			}
		}
		if victim == nil {
			break
		}
		f := victim.evict(target-freed, share)
		if f == 0 {
			break
		}
		freed += f
	}
	return freed
}

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

	charge atomic.Int64 // queued + in flight + held
	held   atomic.Int64 // Hold minus Unhold
	queued atomic.Int64 // sizes of the queued entries (not of popped ones)

	mu    sync.Mutex
	items []Entry[T]
	head  int
}

// New returns a queue drawing on b, as one more share of it. onDrop (may
// be nil) is called, without the queue's lock, for each entry dropped to
// make room, whether for this queue or for another one.
func New[T any](b *Budget, onDrop func(Entry[T])) *Queue[T] {
	q := &Queue[T]{budget: b, onDrop: onDrop, signal: make(chan struct{}, 1), every: 1}
	b.join(q)
	return q
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

func (q *Queue[T]) charged() int64     { return q.charge.Load() }
func (q *Queue[T]) queuedBytes() int64 { return q.queued.Load() }

// Push appends v, reserving size bytes. When the budget is full and this
// queue is over its share (counting v), it drops its own oldest entries
// until v fits; when it is within its share, it drops the oldest entries
// of the queues furthest over theirs instead. If neither can make room, v
// itself is not queued, nothing is dropped, and Push returns false; the
// caller counts that drop.
func (q *Queue[T]) Push(v T, size int64) bool {
	if !q.take(size, true) {
		return false
	}
	q.mu.Lock()
	q.items = append(q.items, Entry[T]{Value: v, Size: size})
	q.queued.Add(size)
	n := len(q.items) - q.head
	q.mu.Unlock()
	if n%q.every == 0 {
		q.notify()
	}
	return true
}

// PushAllOrNone appends every entry of es, in order, or none: it reserves
// their total size the way Push does, except that it never drops this
// queue's own entries to make room (it may still take room back from
// queues over their share). It reports false, with nothing queued and
// nothing dropped, when they do not fit: for a producer that can tell its
// sender to retry later instead of pushing out what is already queued.
func (q *Queue[T]) PushAllOrNone(es []Entry[T]) bool {
	var size int64
	for _, e := range es {
		size += e.Size
	}
	if len(es) == 0 {
		return true
	}
	if !q.take(size, false) {
		return false
	}
	q.mu.Lock()
	before := len(q.items) - q.head
	q.items = append(q.items, es...)
	q.queued.Add(size)
	n := len(q.items) - q.head
	q.mu.Unlock()
	if n/q.every != before/q.every {
		q.notify()
	}
	return true
}

// Hold charges n bytes of state the pipeline keeps outside the queue
// (aggregates, batches being filled) to this queue's share, reporting
// whether they fit. Like Push it may take room from queues over their
// share, but it never drops this queue's own entries, and the bytes held
// never exceed the share: they cannot be dropped, so another queue must
// always be able to take room back from the rest. Return them with
// Unhold.
func (q *Queue[T]) Hold(n int64) bool {
	if q.held.Load()+n > q.budget.Share() {
		return false
	}
	if !q.take(n, false) {
		return false
	}
	q.held.Add(n)
	return true
}

// Unhold returns bytes charged with Hold.
func (q *Queue[T]) Unhold(n int64) {
	q.held.Add(-n)
	q.charge.Add(-n)
	q.budget.release(n)
}

// take reserves size bytes in the budget and charges them to q, making
// room as Push describes (dropping q's own entries only if evictOwn).
func (q *Queue[T]) take(size int64, evictOwn bool) bool {
	b := q.budget
	need := size // still to find; size-need were freed and handed to us
	for need > 0 {
		if b.reserve(need) {
			need = 0
			break
		}
		free := max(0, b.limit-b.used.Load())
		target := need - free
		var freed int64
		if q.charge.Load()+size <= b.Share() {
			freed = b.reclaim(q, target)
		}
		// Over the share, or the others' excess is in flight: make room
		// from this queue's own oldest entries, if that can.
		if freed == 0 && evictOwn && q.queued.Load() >= target {
			freed = q.evict(target, -1)
		}
		if freed == 0 {
			break
		}
		need -= freed
	}
	if need > 0 {
		b.release(size - need) // what was freed for nothing
		return false
	}
	b.release(-need) // freed more than needed (whole entries)
	q.charge.Add(size)
	return true
}

func (q *Queue[T]) evict(target, floor int64) int64 {
	var dropped []Entry[T]
	var freed int64
	q.mu.Lock()
	for freed < target && q.head < len(q.items) && (floor < 0 || q.charge.Load()-freed > floor) {
		e := q.items[q.head]
		q.items[q.head] = Entry[T]{}
		q.head++
		freed += e.Size
		dropped = append(dropped, e)
	}
	q.queued.Add(-freed)
	q.charge.Add(-freed)
	q.compactLocked()
	q.mu.Unlock()
	if q.onDrop != nil {
		for _, e := range dropped {
			q.onDrop(e)
		}
	}
	return freed
}

// compactLocked moves the live entries to the front of the slice once
// most of it is dead, so that appending does not keep copying (and
// holding) the dead head. The caller holds q.mu.
func (q *Queue[T]) compactLocked() {
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head > len(q.items)/2 {
		m := copy(q.items, q.items[q.head:])
		clear(q.items[m:])
		q.items, q.head = q.items[:m], 0
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
	var n int64
	for _, e := range es {
		n += e.Size
	}
	q.queued.Add(n)
	q.mu.Unlock()
	q.notify()
}

// Pop removes up to max entries from the head, appending them to dst. The
// entries keep their budget reservation until Release.
func (q *Queue[T]) Pop(dst []Entry[T], max int) []Entry[T] {
	q.mu.Lock()
	n := min(max, len(q.items)-q.head)
	dst = append(dst, q.items[q.head:q.head+n]...)
	var bytes int64
	for _, e := range q.items[q.head : q.head+n] {
		bytes += e.Size
	}
	q.queued.Add(-bytes)
	clear(q.items[q.head : q.head+n])
	q.head += n
	q.compactLocked()
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
	q.charge.Add(-n)
	q.budget.release(n)
}

// Len returns the number of queued entries.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Charged returns the bytes charged to this queue's share: queued, in
// flight and held.
func (q *Queue[T]) Charged() int64 { return q.charge.Load() }

// Signal returns a channel that receives after entries were added (at most
// one pending signal, so a consumer must re-check Len after waking).
func (q *Queue[T]) Signal() <-chan struct{} { return q.signal }
