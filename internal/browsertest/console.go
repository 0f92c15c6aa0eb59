package browsertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
)

// Start starts a headless Chromium with Options(t, extra...) for the rest
// of the test, bounded by ctx, and returns the context to drive it with
// chromedp and the console of its pages.
func Start(ctx context.Context, t testing.TB, extra ...chromedp.ExecAllocatorOption) (context.Context, *Console) {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, Options(t, extra...)...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	c := &Console{changed: make(chan struct{})}
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*log.EventEntryAdded); ok && e.Entry != nil {
			c.add(Entry{Source: string(e.Entry.Source), URL: e.Entry.URL, Text: e.Entry.Text})
		}
	}); err != nil {
		t.Fatal(err)
	}
	return bctx, c
}

// Entry is one message in the browser's console.
type Entry struct {
	Source string // who logged it, such as "network" for a failed load
	URL    string // the resource it is about, if any
	Text   string
}

// Console keeps the console messages of a browser's pages, in order. It
// is safe for concurrent use.
type Console struct {
	mu      sync.Mutex
	entries []Entry
	changed chan struct{} // closed and replaced on every message
}

func (c *Console) add(e Entry) {
	c.mu.Lock()
	c.entries = append(c.entries, e)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Entries returns the messages so far.
func (c *Console) Entries() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Entry(nil), c.entries...)
}

// Has reports whether the text of a message contains sub.
func (c *Console) Has(sub string) bool {
	_, ok := c.find(sub)
	return ok
}

func (c *Console) find(sub string) (string, bool) {
	for _, e := range c.Entries() {
		if strings.Contains(e.Text, sub) {
			return e.Text, true
		}
	}
	return "", false
}

// Wait returns the text of the first message that contains sub, waiting
// for it until ctx ends, when it fails the test with every message.
func (c *Console) Wait(ctx context.Context, t testing.TB, sub string) string {
	t.Helper()
	var text string
	c.wait(ctx, t, func() (ok bool) {
		text, ok = c.find(sub)
		return ok
	}, func() string {
		var all []string
		for _, e := range c.Entries() {
			all = append(all, e.Text)
		}
		return fmt.Sprintf("no console message with %q; console:\n%s", sub, strings.Join(all, "\n"))
	})
	return text
}

// wait calls done now and after every new message until it reports true;
// when ctx ends first, it fails the test with what failure says.
func (c *Console) wait(ctx context.Context, t testing.TB, done func() bool, failure func() string) {
	t.Helper()
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if done() {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal(failure())
		}
	}
}
