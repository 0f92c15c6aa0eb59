package status

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Counters is a set of named monotonic counters. Components look a counter
// up once (Counter) and then add to it without locks.
type Counters struct {
	mu sync.Mutex
	m  map[string]*atomic.Uint64
}

// NewCounters returns an empty set.
func NewCounters() *Counters { return &Counters{m: map[string]*atomic.Uint64{}} }

// Counter returns the counter with the given name, creating it at zero.
// Names are dotted: "segments.rejected.bad_json". Callers keep the
// returned pointer; names must come from a fixed set (never from data).
func (c *Counters) Counter(name string) *atomic.Uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[name]
	if !ok {
		v = new(atomic.Uint64)
		c.m[name] = v
	}
	return v
}

// Get returns the current value of a counter (0 if it does not exist).
func (c *Counters) Get(name string) uint64 {
	c.mu.Lock()
	v, ok := c.m[name]
	c.mu.Unlock()
	if !ok {
		return 0
	}
	return v.Load()
}

// Snapshot returns every counter's value.
func (c *Counters) Snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v.Load()
	}
	return out
}

// Names returns the counter names in order.
func (c *Counters) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.m))
	for k := range c.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Family returns the counters named prefix + key for each key, by key:
// one family of counters for one kind of event broken down by reason
// ("segments.dropped." with "budget_full", "shutdown", ...).
func Family[K ~string](c *Counters, prefix string, keys ...K) map[K]*atomic.Uint64 {
	m := make(map[K]*atomic.Uint64, len(keys))
	for _, k := range keys {
		m[k] = c.Counter(prefix + string(k))
	}
	return m
}
