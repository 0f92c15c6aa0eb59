package localview

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// The persistence file holds one JSON object a line:
//
//	{"kind":"segment","recv":<unix ns>,"doc":{…}}
//	{"kind":"emf","recv":<unix ns>,"doc":{…}}
//	{"kind":"log","recv":<unix ns>,"doc":{…}}
//
// Segments are written trace by trace, oldest trace first, each carrying its
// trace's first-arrival time; EMF documents follow, oldest first; then OTLP
// log records (logLine), oldest received first, so that loading them
// evicts as receiving them did.
type persistLine struct {
	Kind string          `json:"kind"`
	Recv int64           `json:"recv"`
	Doc  json.RawMessage `json:"doc"`
}

const (
	kindSegment = "segment"
	kindEMF     = "emf"
	kindLog     = "log"
)

// logLine is an OTLP log record (otlplogs.Record) in the persistence file:
// IDs in hex, body and attributes as the JSON the record holds.
type logLine struct {
	Time           int64           `json:"time"` // unix nanoseconds
	SeverityText   string          `json:"severity_text,omitempty"`
	SeverityNumber int32           `json:"severity_number,omitempty"`
	Body           json.RawMessage `json:"body,omitempty"`
	Attributes     json.RawMessage `json:"attributes,omitempty"`
	TraceID        string          `json:"trace_id,omitempty"`
	SpanID         string          `json:"span_id,omitempty"`
	EventName      string          `json:"event_name,omitempty"`
	Scope          string          `json:"scope,omitempty"`
	Service        string          `json:"service,omitempty"`
}

func toLogLine(r *otlplogs.Record) logLine {
	l := logLine{Time: r.TimeUnixNano, SeverityText: r.SeverityText, SeverityNumber: r.SeverityNumber,
		Body: r.Body, Attributes: r.Attributes, EventName: r.EventName, Scope: r.Scope, Service: r.Service}
	if r.HasTraceID {
		l.TraceID = hex.EncodeToString(r.TraceID[:])
	}
	if r.HasSpanID {
		l.SpanID = hex.EncodeToString(r.SpanID[:])
	}
	return l
}

// parseLogLine reads a persisted record, refusing what Records would never
// have made: IDs that are not 16 or 8 bytes of hex or are all zero,
// attributes that are not a JSON object. Body and attributes are compacted,
// as the receiver writes them.
func parseLogLine(doc []byte) (otlplogs.Record, error) {
	var l logLine
	if err := json.Unmarshal(doc, &l); err != nil {
		return otlplogs.Record{}, fmt.Errorf("bad log record: %w", err)
	}
	r := otlplogs.Record{TimeUnixNano: l.Time, SeverityText: l.SeverityText, SeverityNumber: l.SeverityNumber,
		EventName: l.EventName, Scope: l.Scope, Service: l.Service}
	var err error
	if r.HasTraceID, err = hexID(r.TraceID[:], l.TraceID); err != nil {
		return otlplogs.Record{}, fmt.Errorf("bad log record: trace_id: %w", err)
	}
	if r.HasSpanID, err = hexID(r.SpanID[:], l.SpanID); err != nil {
		return otlplogs.Record{}, fmt.Errorf("bad log record: span_id: %w", err)
	}
	if len(l.Body) > 0 {
		r.Body = compactJSON(l.Body)
	}
	if len(l.Attributes) > 0 {
		if r.Attributes = compactJSON(l.Attributes); r.Attributes[0] != '{' {
			return otlplogs.Record{}, errors.New("bad log record: attributes are not a JSON object")
		}
	}
	return r, nil
}

// hexID decodes s, when it is not empty, into dst, which it must fill
// exactly, not with zeros alone; it reports whether there was an ID.
func hexID(dst []byte, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	if len(s) != 2*len(dst) {
		return false, fmt.Errorf("%d hex digits, want %d", len(s), 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return false, err
	}
	for _, c := range dst {
		if c != 0 {
			return true, nil
		}
	}
	return false, errors.New("all zero")
}

// compactJSON is a copy of valid JSON v without insignificant space.
func compactJSON(v []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(v))
	if json.Compact(&b, v) != nil {
		return bytes.Clone(v) // not reached: v was decoded as JSON
	}
	return b.Bytes()
}

// Persist writes what the store holds to its PersistPath, replacing the file
// atomically. Close calls it; a daemon may also call it periodically so that
// a crash loses less. It is an error to call it without a PersistPath.
func (s *Store) Persist() error {
	if s.cfg.PersistPath == "" {
		return errors.New("localview: Persist without a PersistPath")
	}
	dir := filepath.Dir(s.cfg.PersistPath)
	f, err := os.CreateTemp(dir, ".localview-*.tmp")
	if err != nil {
		return fmt.Errorf("localview: persist: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("localview: persist %s: %w", s.cfg.PersistPath, err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	n, skipped, err := s.writeTo(w)
	if err != nil {
		return fail(err)
	}
	if skipped > 0 {
		s.cfg.Logger.Warn("localview: log records too long to persist were left out", "path", s.cfg.PersistPath, "skipped", skipped)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("localview: persist %s: %w", s.cfg.PersistPath, err)
	}
	if err := os.Rename(tmp, s.cfg.PersistPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("localview: persist %s: %w", s.cfg.PersistPath, err)
	}
	s.cfg.Logger.Debug("localview: persisted", "path", s.cfg.PersistPath, "documents", n)
	return nil
}

// writeTo writes the store's documents and log records as persistence
// lines and returns how many it wrote. A log record whose line would be
// longer than the loader reads (maxLine) is left out and counted in
// skipped (its text escaped in JSON can grow to six times its size).
func (s *Store) writeTo(w io.Writer) (n, skipped int, err error) {
	s.mu.RLock()
	var lines []persistLine
	for _, t := range s.order {
		for _, d := range t.docs {
			lines = append(lines, persistLine{Kind: kindSegment, Recv: t.recv, Doc: d.raw})
		}
	}
	for _, d := range s.emf {
		lines = append(lines, persistLine{Kind: kindEMF, Recv: d.recv, Doc: d.raw})
	}
	s.mu.RUnlock()
	s.logs.mu.RLock()
	logs := make([]*logEntry, 0, s.logs.live)
	for _, e := range s.logs.order {
		if !e.gone {
			logs = append(logs, e)
		}
	}
	s.logs.mu.RUnlock() // entries are never changed once stored, only marked gone
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range lines {
		if err := enc.Encode(&lines[i]); err != nil {
			return n, skipped, err
		}
		n++
	}
	// A log line is written by hand around its record, so that the record
	// is encoded once.
	var buf bytes.Buffer
	recEnc := json.NewEncoder(&buf)
	recEnc.SetEscapeHTML(false)
	maxLine := s.maxLine()
	for _, e := range logs {
		buf.Reset()
		fmt.Fprintf(&buf, `{"kind":%q,"recv":%d,"doc":`, kindLog, e.recv)
		l := toLogLine(&e.rec)
		if err := recEnc.Encode(&l); err != nil {
			return n, skipped, err
		}
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if len(b)+2 > maxLine {
			skipped++
			continue
		}
		if _, err := w.Write(append(b, '}', '\n')); err != nil {
			return n, skipped, err
		}
		n++
	}
	return n, skipped, nil
}

// maxLine is the longest persistence line the loader reads: twice the
// largest document, or twice the largest log record, whichever is more.
// Longer lines are skipped and reported, the lines after them read.
func (s *Store) maxLine() int {
	return int(max(2*MaxDocBytes, min(2*s.cfg.MaxLogBytes, 1<<30)+4096))
}

// load reads the persistence file. A missing file is not an error; lines
// that cannot be read are counted and reported in one log line.
func (s *Store) load() error {
	f, err := os.Open(s.cfg.PersistPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localview: load: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		return fmt.Errorf("localview: load: %s is not a readable file", s.cfg.PersistPath)
	}
	loaded, bad, firstErr := s.loadFrom(f)
	s.mu.Lock()
	// Loading is not receiving: keep the received counts for new traffic.
	s.counter.segments, s.counter.emfDocs = 0, 0
	s.counter.segmentsRejected, s.counter.emfRejected = 0, 0
	traces := len(s.order)
	s.mu.Unlock()
	s.logs.mu.Lock()
	s.logs.received, s.logs.rejected = 0, 0
	logs := s.logs.live
	s.logs.mu.Unlock()
	if bad > 0 {
		s.cfg.Logger.Warn("localview: skipped unreadable lines in the persistence file",
			"path", s.cfg.PersistPath, "skipped", bad, "first_error", firstErr)
	}
	s.cfg.Logger.Info("localview: loaded", "path", s.cfg.PersistPath, "documents", loaded, "traces", traces, "log_records", logs)
	return nil
}

// loadFrom adds the documents and log records of persistence lines,
// skipping (and counting) lines it cannot use, and documents and records
// outside the retention window or the store's bounds as adding them would.
func (s *Store) loadFrom(r io.Reader) (loaded, bad int, firstErr error) {
	err := readLines(r, s.maxLine(), func(line []byte, err error) {
		if err == nil {
			var l persistLine
			if err = json.Unmarshal(line, &l); err == nil {
				switch l.Kind {
				case kindSegment:
					err = s.addSegment(l.Doc, l.Recv)
				case kindEMF:
					err = s.addEMF(l.Doc, l.Recv)
				case kindLog:
					err = s.loadLog(l.Doc, l.Recv)
				default:
					err = fmt.Errorf("unknown kind %q", truncate(l.Kind))
				}
			}
		}
		if err != nil {
			bad++
			firstErr = cmpErr(firstErr, err)
			return
		}
		loaded++
	})
	if err != nil {
		bad++
		firstErr = cmpErr(firstErr, err)
	}
	s.mu.Lock()
	s.counter.loaded += uint64(loaded)
	s.mu.Unlock()
	return loaded, bad, firstErr
}

// loadLog adds one persisted log record, received at recv.
func (s *Store) loadLog(doc []byte, recv int64) error {
	rec, err := parseLogLine(doc)
	if err != nil {
		return err
	}
	if s.addLogs([]otlplogs.Record{rec}, recv) > 0 {
		return fmt.Errorf("log record of %d bytes is over MaxLogBytes", rec.Size())
	}
	return nil
}

// readLines calls fn with each line of r (without its newline; the last
// line may lack one), or with an error for a line over maxLine bytes,
// which it skips without holding more than maxLine bytes of it. Blank
// lines are passed over. It returns r's error, if any, after the lines
// before it.
func readLines(r io.Reader, maxLine int, fn func(line []byte, err error)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // the start of a line longer than the reader's buffer
	n := 0          // the current line's length so far
	for {
		chunk, err := br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
			return err
		}
		if err == nil {
			chunk = chunk[:len(chunk)-1] // the newline
		}
		n += len(chunk)
		if n <= maxLine && (err == bufio.ErrBufferFull || len(long) > 0) {
			long = append(long, chunk...)
			chunk = long
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line := bytes.TrimSuffix(chunk, []byte("\r"))
		switch {
		case n > maxLine:
			fn(nil, fmt.Errorf("line over %d bytes", maxLine))
		case len(bytes.TrimSpace(line)) > 0:
			fn(line, nil)
		}
		if long != nil && cap(long) > 1<<20 {
			long = nil // a long line's memory is not kept for the rest
		}
		long, n = long[:0], 0
		if err == io.EOF {
			return nil
		}
	}
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
