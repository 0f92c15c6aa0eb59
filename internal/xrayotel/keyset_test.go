package xrayotel

import (
	"strconv"
	"testing"
)

// TestKeySet checks that a key is new once per kind, that a span key
// "otel.resource.x" and resource key "x" are one, and that growing past
// the size reset was given keeps every key.
func TestKeySet(t *testing.T) {
	s := getKeySet(2)
	defer putKeySet(s)
	for _, c := range []struct {
		kind uint8
		key  string
		want bool
	}{
		{memberKey, "a", true}, {memberKey, "a", false}, {resourceKey, "a", true}, {namespaceKey, "a", true},
		{objectKey, "a", true}, {memberKey, "otel.resource.a", false}, {memberKey, "otel.resource.b", true},
		{resourceKey, "b", false}, {namespaceKey, "a", false},
	} {
		if got := s.add(c.kind, c.key); got != c.want {
			t.Errorf("add(%d, %q) = %v, want %v", c.kind, c.key, got, c.want)
		}
	}
	for i := range 100 { // far past reset(2)
		if !s.add(memberKey, strconv.Itoa(i)) {
			t.Fatalf("key %d not new", i)
		}
	}
	for i := range 100 {
		if s.add(memberKey, strconv.Itoa(i)) {
			t.Fatalf("key %d lost after growing", i)
		}
	}
}

// TestKeySetLinear counts the slots looked at for n and 4n keys, all
// distinct and all the same: four times the keys may cost about four
// times the work, not sixteen.
func TestKeySetLinear(t *testing.T) {
	probes := func(n int, distinct bool) int {
		s := getKeySet(n)
		defer putKeySet(s)
		for i := range n {
			k := "k"
			if distinct {
				k = "attribute." + strconv.Itoa(i)
			}
			s.add(memberKey, k)
		}
		return s.probes
	}
	for _, distinct := range []bool{true, false} {
		n := 2000
		small, big := probes(n, distinct), probes(4*n, distinct)
		if small > 4*n || big > 4*4*n {
			t.Errorf("distinct=%v: %d probes for %d keys, %d for %d: over 4 a key", distinct, small, n, big, 4*n)
		}
		if big > 6*small {
			t.Errorf("distinct=%v: %d probes for %d keys but %d for %d", distinct, small, n, big, 4*n)
		}
	}
}

// TestAppendSpanAllocs checks that translating a typical span allocates
// nothing once the pools are warm (only the output buffer may grow).
// The race detector makes sync.Pool drop some of what is put back; then
// each of the span's two keySets may be made afresh, three allocations
// each, and no more.
func TestAppendSpanAllocs(t *testing.T) {
	want := 0.0
	if raceEnabled {
		want = 6
	}
	tr, batch := benchSpan()
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(200, func() {
		var err error
		if buf, _, err = tr.AppendSpan(buf[:0], batch, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > want {
		t.Errorf("AppendSpan: %v allocations per span, want at most %v", allocs, want)
	}
}

// TestKeyNames checks that each rule key has one attribute name, so
// comparing with keyNames finds what looking up spanKeys finds.
func TestKeyNames(t *testing.T) {
	for name, k := range spanKeys {
		if keyNames[k] != name {
			t.Errorf("key %d: keyNames has %q, spanKeys also maps %q to it", k, keyNames[k], name)
		}
	}
	for k := kNone + 1; k < kCount; k++ {
		if spanKeys[keyNames[k]] != k {
			t.Errorf("key %d has no name in spanKeys", k)
		}
	}
}
