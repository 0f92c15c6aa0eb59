package emf

import (
	"context"
	"errors"
	"testing"
)

// callWriter records each Write call.
type callWriter struct{ calls []string }

func (w *callWriter) Write(p []byte) (int, error) {
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

// TestWriterSinkWriteDocuments: several documents go out in one Write,
// each ended by a newline; after Shutdown they are refused.
func TestWriterSinkWriteDocuments(t *testing.T) {
	w := &callWriter{}
	s := NewWriterSink(w).(*writerSink)
	if err := s.WriteDocuments(context.Background(), []byte(`{"a":1}`), []byte(`{"b":2}`)); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) != 1 || w.calls[0] != "{\"a\":1}\n{\"b\":2}\n" {
		t.Fatalf("writes %q, want one of both documents", w.calls)
	}
	_ = s.Shutdown(context.Background())
	if err := s.WriteDocuments(context.Background(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Shutdown: %v, want ErrClosed", err)
	}
	if len(w.calls) != 1 {
		t.Fatalf("written after Shutdown: %q", w.calls)
	}
}
