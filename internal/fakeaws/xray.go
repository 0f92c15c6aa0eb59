package fakeaws

import (
	"encoding/json"
	"fmt"
	"net/http"
)

func (s *Server) putTraceSegments(w http.ResponseWriter, body []byte) {
	s.mu.Lock()
	fast := s.noRetain && s.unproc == 0
	s.mu.Unlock()
	if fast {
		// Load tests: count the documents with a strict scan of the
		// restJson body instead of decoding every string.
		if n, ok := countDocuments(body); ok && n <= 50 {
			s.mu.Lock()
			s.segCount += n
			s.notifyLocked()
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"UnprocessedTraceSegments":[]}`))
			return
		}
	}
	var in struct {
		TraceSegmentDocuments []string
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.TraceSegmentDocuments) == 0 {
		writeError(w, XRay, http.StatusBadRequest, "InvalidRequestException", fmt.Sprintf("bad PutTraceSegments body: %v", err))
		return
	}
	if len(in.TraceSegmentDocuments) > 50 {
		writeError(w, XRay, http.StatusBadRequest, "InvalidRequestException", "more than 50 documents")
		return
	}
	type unprocessed struct {
		Id, ErrorCode, Message string
	}
	var out struct {
		UnprocessedTraceSegments []unprocessed
	}
	out.UnprocessedTraceSegments = []unprocessed{}
	s.mu.Lock()
	for _, doc := range in.TraceSegmentDocuments {
		if s.unproc > 0 {
			s.unproc--
			var seg struct{ Id string }
			_ = json.Unmarshal([]byte(doc), &seg)
			out.UnprocessedTraceSegments = append(out.UnprocessedTraceSegments,
				unprocessed{Id: seg.Id, ErrorCode: s.unprocErr, Message: "injected"})
			continue
		}
		s.segCount++
		if !s.noRetain {
			s.segments = append(s.segments, doc)
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// Segments returns the segment documents PutTraceSegments accepted, in
// arrival order.
func (s *Server) Segments() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.segments...)
}

// SegmentCount returns the number of segment documents accepted.
func (s *Server) SegmentCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.segCount
}

// countDocuments counts the strings of a body that is exactly
// {"TraceSegmentDocuments":["...",...]} (as the SDK writes it), checking
// string syntax; ok is false for anything else.
func countDocuments(b []byte) (int, bool) {
	const prefix = `{"TraceSegmentDocuments":[`
	if len(b) < len(prefix)+2 || string(b[:len(prefix)]) != prefix || string(b[len(b)-2:]) != "]}" {
		return 0, false
	}
	b = b[len(prefix) : len(b)-2]
	n := 0
	for i := 0; i < len(b); {
		if b[i] != '"' {
			return 0, false
		}
		i++
		for {
			if i >= len(b) {
				return 0, false
			}
			c := b[i]
			if c == '\\' {
				i += 2
				continue
			}
			if c < 0x20 {
				return 0, false
			}
			i++
			if c == '"' {
				break
			}
		}
		n++
		if i < len(b) {
			if b[i] != ',' {
				return 0, false
			}
			i++
		}
	}
	return n, n > 0
}
