package emf

import (
	"context"
	"io"
	"sync"
)

// NewWriterSink returns a Sink that writes each document followed by a
// newline to w in a single Write call, synchronously, under a lock. It is the
// sink for AWS Lambda, where standard output goes to CloudWatch Logs, and
// for local development: pass os.Stdout.
func NewWriterSink(w io.Writer) Sink {
	return &writerSink{w: w}
}

type writerSink struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
}

var _ Sink = (*writerSink)(nil)

func (s *writerSink) WriteDocument(_ context.Context, doc []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.buf = append(append(s.buf[:0], doc...), '\n')
	_, err := s.w.Write(s.buf)
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not pin one huge document's buffer forever
	}
	return err
}

// WriteDocuments writes docs, each followed by a newline, to w in a single
// Write call: several documents (a Lambda cold start's ColdStart document
// and its invocation's) cost one system call.
func (s *writerSink) WriteDocuments(_ context.Context, docs ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.buf = s.buf[:0]
	for _, doc := range docs {
		s.buf = append(append(s.buf, doc...), '\n')
	}
	_, err := s.w.Write(s.buf)
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	return err
}

// Flush returns at once: every write already reached w.
func (s *writerSink) Flush(context.Context) error { return nil }

func (s *writerSink) Shutdown(context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
