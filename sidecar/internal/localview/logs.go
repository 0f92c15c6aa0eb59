package localview

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// logStore keeps OTLP log records by trace, within its own bounds (so a
// chatty logger never evicts traces): at most MaxLogRecords records and
// MaxLogBytes bytes (otlplogs.Record.Size), the oldest received evicted
// first, and at most MaxUnlinkedLogs of them without a trace ID. It has its
// own lock: log intake never waits on a trace query.
type logStore struct {
	mu       sync.RWMutex
	order    []*logEntry            // by arrival, oldest first; may hold entries already evicted (gone)
	byTrace  map[string][]*logEntry // X-Ray trace ID -> its records, by arrival
	unlinked []*logEntry            // records without a trace ID, by arrival
	live     int                    // entries in order that are not gone
	bytes    int64
	work     uint64 // entries visited while adding and evicting (tests count them)
	seq      uint64 // records added so far: each takes the next number (logEntry.seq)

	received, rejected, evicted, unlinkedEvicted, expired uint64
}

type logEntry struct {
	rec   otlplogs.Record
	trace string // X-Ray trace ID, "" for none
	recv  int64  // unix nanoseconds
	size  int64
	seq   uint64 // its number in arrival order (the trace page's version)
	gone  bool
}

// AddLogs stores OTLP log records (package otlplogs made them from one
// request). A record over MaxLogBytes is refused and counted; the others
// are kept, evicting the oldest records when the store is over its bounds.
// It returns the number refused (all of them after Close).
func (s *Store) AddLogs(recs []otlplogs.Record) int {
	return s.addLogs(recs, s.cfg.Now().UnixNano())
}

func (s *Store) addLogs(recs []otlplogs.Record, recv int64) (refused int) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return len(recs)
	}
	l := &s.logs
	cut := s.cutoff()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range recs {
		e := &logEntry{rec: recs[i], recv: recv, size: recs[i].Size()}
		if e.size > s.cfg.MaxLogBytes {
			l.rejected++
			refused++
			continue
		}
		l.received++
		l.seq++
		e.seq = l.seq
		if e.rec.HasTraceID {
			e.trace = xrayID(e.rec.TraceID)
			l.byTrace[e.trace] = append(l.byTrace[e.trace], e)
		} else {
			l.unlinked = append(l.unlinked, e)
		}
		l.order = append(l.order, e)
		l.live++
		l.bytes += e.size
		l.work++
	}
	l.evict(s.cfg, cut)
	return refused
}

// evict drops records until the store is within its bounds and retention
// window: expired ones, unlinked ones over MaxUnlinkedLogs (marked gone in
// order, skipped when they reach its front), then the oldest. Each entry
// is visited a bounded number of times over its life. The caller holds
// l.mu.
func (l *logStore) evict(cfg Config, cut int64) {
	for len(l.unlinked) > cfg.MaxUnlinkedLogs {
		e := l.unlinked[0]
		l.unlinked[0] = nil
		l.unlinked = l.unlinked[1:]
		e.gone = true
		l.live--
		l.bytes -= e.size
		l.unlinkedEvicted++
		l.work++
	}
	for len(l.order) > 0 {
		e := l.order[0]
		switch {
		case e.gone:
		case e.recv < cut:
			l.expired++
			l.drop(e)
		case l.live > cfg.MaxLogRecords || l.bytes > cfg.MaxLogBytes:
			l.evicted++
			l.drop(e)
		default:
			l.compact()
			return
		}
		l.order[0] = nil
		l.order = l.order[1:]
		l.work++
	}
}

// drop removes e, the oldest live record, from its trace's list or the
// unlinked list, where it is the first.
func (l *logStore) drop(e *logEntry) {
	e.gone = true
	l.live--
	l.bytes -= e.size
	if e.trace == "" {
		l.unlinked[0] = nil
		l.unlinked = l.unlinked[1:]
		return
	}
	list := l.byTrace[e.trace]
	list[0] = nil
	if len(list) == 1 {
		delete(l.byTrace, e.trace)
	} else {
		l.byTrace[e.trace] = list[1:]
	}
}

// compact drops the gone entries from order once they are more than half
// of it, so that unlinked records evicted from the middle cost no memory
// for long; each entry is moved at most once per halving, so the cost is
// constant per record over time.
func (l *logStore) compact() {
	if len(l.order) <= 2*l.live+64 {
		return
	}
	kept := make([]*logEntry, 0, l.live*2)
	for _, e := range l.order {
		if !e.gone {
			kept = append(kept, e)
		}
		l.work++
	}
	l.order = kept
}

// xrayID writes a W3C trace ID in X-Ray's form, as the store keys traces.
func xrayID(id [16]byte) string {
	var b [35]byte
	b[0], b[1], b[10] = '1', '-', '-'
	hex.Encode(b[2:10], id[:4])
	hex.Encode(b[11:], id[4:])
	return string(b[:])
}

// MaxLogsShown is how many of a trace's log records the API returns at
// most (the earliest; total says how many there are).
const MaxLogsShown = 1000

// traceLogs is /api/traces/{id}/logs.
type traceLogs struct {
	TraceID string    `json:"trace_id"`
	Total   int       `json:"total"`
	Records []logJSON `json:"records"`
}

// logJSON is one record as the API shows it.
type logJSON struct {
	Time           float64         `json:"time"` // unix seconds
	SeverityText   string          `json:"severity_text,omitempty"`
	SeverityNumber int32           `json:"severity_number,omitempty"`
	Severity       string          `json:"severity"` // the level: trace, debug, info, warn, error, fatal or "" (unset)
	Body           json.RawMessage `json:"body,omitempty"`
	Attributes     json.RawMessage `json:"attributes,omitempty"`
	SpanID         string          `json:"span_id,omitempty"` // hex, the segment or subsegment id of the span
	EventName      string          `json:"event_name,omitempty"`
	Scope          string          `json:"scope,omitempty"`
	Service        string          `json:"service,omitempty"`
}

// severityLevels name OTLP's severity numbers by fours: 1-4 trace, 5-8
// debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal.
var severityLevels = [...]string{"trace", "debug", "info", "warn", "error", "fatal"}

func severityLevel(n int32) string {
	if n < 1 || n > 24 {
		return ""
	}
	return severityLevels[(n-1)/4]
}

// traceLogs returns the log records of trace id (X-Ray or W3C form), in
// time order (arrival order among equal times), at most MaxLogsShown.
func (s *Store) traceLogs(id string) traceLogs {
	l := &s.logs
	cut := s.cutoff()
	l.mu.RLock()
	list := l.byTrace[id]
	entries := make([]*logEntry, 0, len(list))
	for _, e := range list {
		if e.recv >= cut {
			entries = append(entries, e)
		}
	}
	l.mu.RUnlock() // entries are never changed once stored, only marked gone
	slices.SortStableFunc(entries, func(a, b *logEntry) int { return cmp.Compare(a.rec.TimeUnixNano, b.rec.TimeUnixNano) })
	out := traceLogs{TraceID: id, Total: len(entries), Records: make([]logJSON, 0, min(len(entries), MaxLogsShown))}
	for _, e := range entries[:min(len(entries), MaxLogsShown)] {
		out.Records = append(out.Records, e.json())
	}
	return out
}

func (e *logEntry) json() logJSON {
	r := &e.rec
	j := logJSON{
		Time: float64(r.TimeUnixNano) / 1e9, SeverityText: r.SeverityText, SeverityNumber: r.SeverityNumber,
		Severity: severityLevel(r.SeverityNumber), Body: r.Body, Attributes: r.Attributes,
		EventName: r.EventName, Scope: r.Scope, Service: r.Service,
	}
	if r.HasSpanID {
		j.SpanID = hex.EncodeToString(r.SpanID[:])
	}
	return j
}

// unlinkedLogs returns the newest records without a trace ID, newest
// first, at most limit.
func (s *Store) unlinkedLogs(limit int) traceLogs {
	l := &s.logs
	cut := s.cutoff()
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := traceLogs{Records: []logJSON{}}
	for i := len(l.unlinked) - 1; i >= 0; i-- {
		e := l.unlinked[i]
		if e.recv < cut {
			break
		}
		out.Total++
		if len(out.Records) < limit {
			out.Records = append(out.Records, e.json())
		}
	}
	return out
}

// logCount is the number of stored records of trace id.
func (s *Store) logCount(id string) int {
	s.logs.mu.RLock()
	defer s.logs.mu.RUnlock()
	return len(s.logs.byTrace[id])
}

// logStats fills the log part of st.
func (s *Store) logStats(st *Stats) {
	l := &s.logs
	l.mu.RLock()
	defer l.mu.RUnlock()
	st.Logs, st.LogBytes, st.UnlinkedLogs = l.live, l.bytes, len(l.unlinked)
	st.MaxLogRecords, st.MaxLogBytes, st.MaxUnlinkedLogs = s.cfg.MaxLogRecords, s.cfg.MaxLogBytes, s.cfg.MaxUnlinkedLogs
	st.LogsReceived, st.LogsRejected, st.LogsEvicted = l.received, l.rejected, l.evicted
	st.UnlinkedLogsEvicted, st.LogsExpired = l.unlinkedEvicted, l.expired
}

func parseLogLimit(v string) (int, error) {
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLogsShown {
		return 0, fmt.Errorf("limit %q: want 1..%d", v, MaxLogsShown)
	}
	return n, nil
}
