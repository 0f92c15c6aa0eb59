package xrayotel

import (
	"hash/maphash"
	"strings"
	"sync"
)

// Kinds of key a keySet holds. Resource attributes are written as
// "otel.resource."+key, so a span key with that prefix and a resource key
// are one member when the rest is the same; namespaces are apart from
// members of "default".
const (
	memberKey uint8 = iota
	resourceKey
	namespaceKey
	objectKey // a member of an attribute value that is a map
)

// keySet remembers the metadata keys a document has written, so a key is
// written once. It is an open-addressing hash table kept from document to
// document (keySets), so a document allocates nothing for it; reset sizes
// it to twice the keys it may get, so it is at most half full, and clears
// only that part: time is linear in the keys, whatever their number. The
// hash is seeded per process, so clients cannot choose colliding keys.
type keySet struct {
	slots  []int32 // 1 + index into keys; 0 is empty. Length a power of two.
	keys   []setKey
	probes int // slots looked at since reset, for tests
}

type setKey struct {
	kind uint8
	key  string
}

var keySeed = maphash.MakeSeed()

// keySets holds keySets between documents. One that grew beyond
// maxPooledSlots (a document with very many attributes) is let go rather
// than kept.
var keySets = sync.Pool{New: func() any { return new(keySet) }}

const maxPooledSlots = 1 << 12

func getKeySet(n int) *keySet {
	s := keySets.Get().(*keySet)
	s.reset(n)
	return s
}

func putKeySet(s *keySet) {
	if cap(s.slots) <= maxPooledSlots {
		clear(s.keys[:cap(s.keys)]) // no strings kept alive
		s.keys = s.keys[:0]
		keySets.Put(s)
	}
}

// reset empties the set, sized for n keys.
func (s *keySet) reset(n int) {
	size := 8
	for size < 2*n {
		size <<= 1
	}
	if cap(s.slots) < size {
		s.slots = make([]int32, size)
	} else {
		s.slots = s.slots[:size]
		clear(s.slots)
	}
	if cap(s.keys) < n {
		s.keys = make([]setKey, 0, n)
	}
	s.keys = s.keys[:0]
	s.probes = 0
}

// add adds key (of kind) and reports whether it was not there yet.
func (s *keySet) add(kind uint8, key string) bool {
	if kind == memberKey {
		if rest, ok := strings.CutPrefix(key, resourceMetadataPrefix); ok {
			kind, key = resourceKey, rest
		}
	}
	if 2*(len(s.keys)+1) > len(s.slots) {
		s.grow()
	}
	mask := len(s.slots) - 1
	for i := s.hash(kind, key) & mask; ; i = (i + 1) & mask {
		s.probes++
		j := s.slots[i]
		if j == 0 {
			s.keys = append(s.keys, setKey{kind, key})
			s.slots[i] = int32(len(s.keys))
			return true
		}
		if k := &s.keys[j-1]; k.kind == kind && k.key == key {
			return false
		}
	}
}

func (s *keySet) hash(kind uint8, key string) int {
	return int((maphash.String(keySeed, key) + uint64(kind)*0x9e3779b97f4a7c15) >> 1)
}

// grow doubles the table (reset was given too small an n).
func (s *keySet) grow() {
	s.slots = make([]int32, 2*len(s.slots))
	mask := len(s.slots) - 1
	for j := range s.keys {
		k := &s.keys[j]
		i := s.hash(k.kind, k.key) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = int32(j + 1)
	}
}
