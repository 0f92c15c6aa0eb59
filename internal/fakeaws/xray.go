package fakeaws

import (
	"encoding/json"
	"fmt"
	"net/http"
)

func (s *Server) putTraceSegments(w http.ResponseWriter, body []byte) {
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
