package localview

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// traceVersion is /api/traces/{id}/version: a small answer that the trace
// page polls to learn whether the trace's spans or log records changed
// since it drew them, without fetching them again.
type traceVersion struct {
	TraceID string `json:"trace_id"`
	// Version changes whenever a document of the trace or one of its log
	// records is added, replaced or dropped; equal versions mean the page
	// is up to date. The response's ETag is W/"<version>".
	Version    string `json:"version"`
	Documents  int    `json:"documents"`
	InProgress bool   `json:"in_progress"`
	LogRecords int    `json:"log_records"`
	// IdleSeconds is the time since the trace or its records last changed,
	// by the store's clock (0 when it has neither).
	IdleSeconds float64 `json:"idle_seconds"`
}

// traceVersion returns the version of trace id (X-Ray form): the change
// number of its last document change and the arrival numbers of its first
// and last log record, with their count, which eviction and arrival both
// change. It visits the trace's records once, to leave out expired ones as
// traceLogs does.
func (s *Store) traceVersion(id string) traceVersion {
	now := s.cfg.Now().UnixNano()
	cut := s.cutoff()
	out := traceVersion{TraceID: id}
	var rev uint64
	var last int64
	s.mu.RLock()
	if t := s.traces[id]; t != nil && t.recv >= cut {
		rev, last = t.rev, t.moved
		out.Documents, out.InProgress = len(t.docs), t.inProgress
	}
	s.mu.RUnlock()
	var first, latest uint64
	l := &s.logs
	l.mu.RLock()
	for _, e := range l.byTrace[id] {
		if e.recv < cut {
			continue
		}
		if out.LogRecords == 0 {
			first = e.seq
		}
		out.LogRecords++
		latest = e.seq
		last = max(last, e.recv)
	}
	l.mu.RUnlock()
	out.Version = strconv.FormatUint(rev, 36) + "." + strconv.FormatUint(first, 36) + "." +
		strconv.FormatUint(latest, 36) + "." + strconv.Itoa(out.LogRecords)
	if last > 0 {
		out.IdleSeconds = time.Duration(max(now-last, 0)).Seconds()
	}
	return out
}

// serveTraceVersion answers 304 Not Modified when If-None-Match names the
// current version, else the version as JSON with its ETag. (The page reads
// the whole answer, for its idle time; scripts that only want to know of a
// change can ask conditionally.)
func serveTraceVersion(w http.ResponseWriter, r *http.Request, v traceVersion) {
	etag := `W/"` + v.Version + `"`
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), v.Version) {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, v)
}

// etagMatches reports whether an If-None-Match list names version, by
// weak comparison (RFC 9110, 13.1.2).
func etagMatches(list, version string) bool {
	for tag := range strings.SplitSeq(list, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == `"`+version+`"` {
			return true
		}
	}
	return false
}
