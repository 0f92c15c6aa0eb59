package fakeaws

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// LogRequest is one accepted PutLogEvents request.
type LogRequest struct {
	LogGroupName  string     `json:"logGroupName"`
	LogStreamName string     `json:"logStreamName"`
	LogEvents     []LogEvent `json:"logEvents"`
}

// LogEvent is one log event.
type LogEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

func (s *Server) logsOp(w http.ResponseWriter, op string, body []byte) {
	var in LogRequest
	dec := json.NewDecoder(bytesReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, Logs, http.StatusBadRequest, "InvalidParameterException", "json: "+err.Error())
		s.recordInvalid()
		return
	}
	key := in.LogGroupName + "\x00" + in.LogStreamName
	switch op {
	case "CreateLogGroup":
		s.mu.Lock()
		s.streams[in.LogGroupName+"\x00"] = true
		s.mu.Unlock()
	case "CreateLogStream":
		s.mu.Lock()
		s.streams[key] = true
		s.mu.Unlock()
	case "PutLogEvents":
		if err := validateLogs(&in); err != nil {
			writeError(w, Logs, http.StatusBadRequest, "InvalidParameterException", err.Error())
			s.recordInvalid()
			return
		}
		s.mu.Lock()
		if s.needCreat && !s.streams[key] {
			s.mu.Unlock()
			writeError(w, Logs, http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
			return
		}
		s.logs = append(s.logs, in)
		s.notifyLocked()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"nextSequenceToken":"1"}`))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write([]byte(`{}`))
}

func validateLogs(in *LogRequest) error {
	if in.LogGroupName == "" || in.LogStreamName == "" {
		return fmt.Errorf("log group and stream are required")
	}
	n := len(in.LogEvents)
	if n == 0 || n > 10000 {
		return fmt.Errorf("%d events not in 1..10000", n)
	}
	size := 0
	for i, e := range in.LogEvents {
		size += len(e.Message) + 26
		if i > 0 && e.Timestamp < in.LogEvents[i-1].Timestamp {
			return fmt.Errorf("events not in chronological order at %d", i)
		}
	}
	if size > 1048576 {
		return fmt.Errorf("batch of %d bytes exceeds 1,048,576", size)
	}
	if in.LogEvents[n-1].Timestamp-in.LogEvents[0].Timestamp > 24*3600*1000 {
		return fmt.Errorf("batch spans more than 24 hours")
	}
	return nil
}

// LogRequests returns the PutLogEvents requests accepted, in arrival order.
func (s *Server) LogRequests() []LogRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogRequest(nil), s.logs...)
}
