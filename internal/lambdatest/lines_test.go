package lambdatest

import (
	"fmt"
	"strings"
	"testing"
)

// A line written in pieces counts once it is complete, and a waiter wakes
// for it.
func TestLinesWaitForAWrittenLine(t *testing.T) {
	l := NewLines()
	_, _ = l.Write([]byte("first\nsec"))
	if l.Len() != 1 || l.String() != "first" {
		t.Fatalf("after one and a half lines: %d %q", l.Len(), l)
	}
	done := make(chan string, 1)
	go func() {
		done <- l.WaitFrom(t, 1, "the second line", func(s string) bool { return strings.HasPrefix(s, "sec") })
	}()
	_, _ = l.Write([]byte("ond\nthird\n"))
	if got := <-done; got != "second" {
		t.Errorf("WaitFrom = %q", got)
	}
	if got := l.Wait(t, "a line", func(string) bool { return true }); got != "first" {
		t.Errorf("Wait = %q, want the first line", got)
	}
	if l.Len() != 3 || l.String() != "first\nsecond\nthird" {
		t.Errorf("lines: %d %q", l.Len(), l)
	}
}

// WaitEMF skips other lines and returns the first matching document.
func TestLinesWaitEMF(t *testing.T) {
	doc := func(orders int) string {
		return fmt.Sprintf(`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"T","Dimensions":[["Service"]],"Metrics":[{"Name":"Orders","Unit":"Count"}]}]},"Service":"s","Orders":%d}`, orders)
	}
	l := NewLines()
	fmt.Fprintf(l, "START\n%s\n{\"not\":\"emf\"}\n%s\n%s\n", doc(1), doc(2), doc(2))
	got := l.WaitEMF(t, "two orders", func(d map[string]any) bool { return d["Orders"] == 2.0 })
	if got["Orders"] != 2.0 || got["Service"] != "s" {
		t.Errorf("WaitEMF = %v", got)
	}
}
