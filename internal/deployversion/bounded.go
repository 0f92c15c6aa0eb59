package deployversion

// Bounded admits at most a fixed number of versions. Seeing a version
// makes it the most recently seen; admitting a new one when the bound is
// reached retires the least recently seen. Each operation takes constant
// time. A Bounded is not safe for concurrent use: the metric recorder
// that owns it holds its own lock.
type Bounded struct {
	max     int
	byValue map[string]*entry
	// head is the most recently seen, tail the least; a doubly linked
	// list through entry.prev/next.
	head, tail *entry
	retired    uint64
}

type entry struct {
	value      string
	prev, next *entry
}

// DefaultMaxVersions is the bound NewBounded uses for max < 1: the
// version being rolled out, the one it replaces, and one more for a
// rollback or a quick fix.
const DefaultMaxVersions = 3

// NewBounded returns a set admitting at most max versions
// (DefaultMaxVersions when max < 1).
func NewBounded(max int) *Bounded {
	if max < 1 {
		max = DefaultMaxVersions
	}
	return &Bounded{max: max, byValue: map[string]*entry{}}
}

// See records that version was seen. When version is new and the set is
// full, the least recently seen version is retired and returned with
// retired true; the caller drops that version's series.
func (b *Bounded) See(version string) (old string, retired bool) {
	if e, ok := b.byValue[version]; ok {
		b.unlink(e)
		b.pushFront(e)
		return "", false
	}
	if len(b.byValue) >= b.max {
		lru := b.tail
		b.unlink(lru)
		delete(b.byValue, lru.value)
		b.retired++
		old, retired = lru.value, true
	}
	e := &entry{value: version}
	b.byValue[version] = e
	b.pushFront(e)
	return old, retired
}

// Contains reports whether version is held, without marking it seen.
func (b *Bounded) Contains(version string) bool {
	_, ok := b.byValue[version]
	return ok
}

// Len returns how many versions are held.
func (b *Bounded) Len() int { return len(b.byValue) }

// Retired returns how many versions have been retired so far.
func (b *Bounded) Retired() uint64 { return b.retired }

// Versions returns the versions held, most recently seen first.
func (b *Bounded) Versions() []string {
	out := make([]string, 0, len(b.byValue))
	for e := b.head; e != nil; e = e.next {
		out = append(out, e.value)
	}
	return out
}

func (b *Bounded) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		b.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		b.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (b *Bounded) pushFront(e *entry) {
	e.next = b.head
	if b.head != nil {
		b.head.prev = e
	}
	b.head = e
	if b.tail == nil {
		b.tail = e
	}
}
