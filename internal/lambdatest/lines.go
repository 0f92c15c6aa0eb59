package lambdatest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// Timeout is how long the Wait methods and WaitDocument wait before they
// fail the test.
const Timeout = 30 * time.Second

// Lines collects what is written to it, line by line, and wakes the tests
// waiting for a line on every new one. It is safe for concurrent use.
type Lines struct {
	mu      sync.Mutex
	partial []byte
	all     []string
	changed chan struct{} // closed and replaced when lines are added
}

// NewLines returns an empty Lines.
func NewLines() *Lines { return &Lines{changed: make(chan struct{})} }

// Write keeps every complete line of what has been written so far; an
// unterminated tail waits for the rest of its line.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// String returns the complete lines, joined by newlines.
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// Len returns the number of complete lines so far.
func (l *Lines) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// Wait returns the first line for which match is true, waiting up to
// Timeout; what names the line in the failure.
func (l *Lines) Wait(t testing.TB, what string, match func(string) bool) string {
	t.Helper()
	return l.WaitFor(t, Timeout, 0, what, match)
}

// WaitFrom is Wait for the lines from index from on.
func (l *Lines) WaitFrom(t testing.TB, from int, what string, match func(string) bool) string {
	t.Helper()
	return l.WaitFor(t, Timeout, from, what, match)
}

// WaitFor is WaitFrom with a timeout of d.
func (l *Lines) WaitFor(t testing.TB, d time.Duration, from int, what string, match func(string) bool) string {
	t.Helper()
	var found string
	l.wait(t, d, "no line with "+what, func(all []string) bool {
		for _, s := range all[min(from, len(all)):] {
			if match(s) {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

// WaitEMF returns the first EMF document among the lines (those that start
// with {"_aws") for which match is true, waiting up to Timeout. Every EMF
// line read while waiting is checked against the EMF schema.
func (l *Lines) WaitEMF(t testing.TB, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var found map[string]any
	l.wait(t, Timeout, "no EMF document with "+what, func(all []string) bool {
		found = nil
		for _, line := range all {
			if !strings.HasPrefix(line, `{"_aws"`) {
				continue
			}
			if err := schematest.EMF([]byte(line)); err != nil {
				t.Fatalf("EMF schema: %v\n%s", err, line)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(line), &doc); err != nil {
				t.Fatal(err)
			}
			if found == nil && match(doc) {
				found = doc
			}
		}
		return found != nil
	})
	return found
}

// wait calls done with the lines so far, and again on every new line,
// until it returns true; after d it fails the test with failure and every
// line.
func (l *Lines) wait(t testing.TB, d time.Duration, failure string, done func(all []string) bool) {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		changed, all := l.changed, l.all
		l.mu.Unlock()
		if done(all) {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("%s; output:\n%s", failure, l.String())
		}
	}
}
