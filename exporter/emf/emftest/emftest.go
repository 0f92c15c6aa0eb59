package emftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Sink records documents in memory. It satisfies emf.Sink. The zero value
// is ready to use.
type Sink struct {
	mu     sync.Mutex
	docs   [][]byte
	closed bool
}

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{} }

// WriteDocument stores a copy of doc.
func (s *Sink) WriteDocument(_ context.Context, doc []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("emftest: sink is shut down")
	}
	s.docs = append(s.docs, append([]byte(nil), doc...))
	return nil
}

// Flush does nothing: documents are stored when written.
func (s *Sink) Flush(context.Context) error { return nil }

// Shutdown makes later writes fail; the stored documents stay readable.
func (s *Sink) Shutdown(context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Documents returns the documents written so far, oldest first.
func (s *Sink) Documents() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.docs...)
}

// Reset forgets the stored documents.
func (s *Sink) Reset() {
	s.mu.Lock()
	s.docs = nil
	s.mu.Unlock()
}

// Decoded returns the documents parsed as JSON objects.
func (s *Sink) Decoded() ([]map[string]any, error) {
	var out []map[string]any
	for i, d := range s.Documents() {
		var m map[string]any
		if err := json.Unmarshal(d, &m); err != nil {
			return nil, fmt.Errorf("emftest: document %d: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Values returns every value of the named metric across all documents, in
// the order written. Documents where name is not a declared metric are
// skipped, so a property or dimension of that name is not counted.
func (s *Sink) Values(name string) ([]float64, error) {
	docs, err := s.Decoded()
	if err != nil {
		return nil, err
	}
	var out []float64
	for i, d := range docs {
		if !declares(d, name) {
			continue
		}
		switch v := d[name].(type) {
		case float64:
			out = append(out, v)
		case []any:
			for _, e := range v {
				f, ok := e.(float64)
				if !ok {
					return nil, fmt.Errorf("emftest: document %d: %s has a non-number %v", i, name, e)
				}
				out = append(out, f)
			}
		default:
			return nil, fmt.Errorf("emftest: document %d: metric %s is missing or not a number", i, name)
		}
	}
	return out, nil
}

func declares(doc map[string]any, name string) bool {
	aws, _ := doc["_aws"].(map[string]any)
	dirs, _ := aws["CloudWatchMetrics"].([]any)
	for _, d := range dirs {
		dm, _ := d.(map[string]any)
		ms, _ := dm["Metrics"].([]any)
		for _, m := range ms {
			mm, _ := m.(map[string]any)
			if mm["Name"] == name {
				return true
			}
		}
	}
	return false
}
