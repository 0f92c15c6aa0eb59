package localview

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The persistence file holds one JSON object a line:
//
//	{"kind":"segment","recv":<unix ns>,"doc":{…}}
//	{"kind":"emf","recv":<unix ns>,"doc":{…}}
//
// Segments are written trace by trace, oldest trace first, each carrying its
// trace's first-arrival time; EMF documents follow, oldest first.
type persistLine struct {
	Kind string          `json:"kind"`
	Recv int64           `json:"recv"`
	Doc  json.RawMessage `json:"doc"`
}

const (
	kindSegment = "segment"
	kindEMF     = "emf"
)

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
	n, err := s.writeTo(w)
	if err != nil {
		return fail(err)
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

// writeTo writes the store's documents as persistence lines and returns how
// many it wrote.
func (s *Store) writeTo(w io.Writer) (int, error) {
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
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range lines {
		if err := enc.Encode(&lines[i]); err != nil {
			return i, err
		}
	}
	return len(lines), nil
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
	if bad > 0 {
		s.cfg.Logger.Warn("localview: skipped unreadable lines in the persistence file",
			"path", s.cfg.PersistPath, "skipped", bad, "first_error", firstErr)
	}
	s.cfg.Logger.Info("localview: loaded", "path", s.cfg.PersistPath, "documents", loaded, "traces", traces)
	return nil
}

// loadFrom adds the documents of persistence lines, skipping (and
// counting) lines it cannot use and documents outside the retention window.
func (s *Store) loadFrom(r io.Reader) (loaded, bad int, firstErr error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 2*MaxDocBytes)
	for sc.Scan() {
		var l persistLine
		err := json.Unmarshal(sc.Bytes(), &l)
		if err == nil {
			switch l.Kind {
			case kindSegment:
				err = s.addSegment(l.Doc, l.Recv)
			case kindEMF:
				err = s.addEMF(l.Doc, l.Recv)
			default:
				err = fmt.Errorf("unknown kind %q", truncate(l.Kind))
			}
		}
		if err != nil {
			bad++
			firstErr = cmpErr(firstErr, err)
			continue
		}
		loaded++
	}
	if err := sc.Err(); err != nil {
		bad++
		firstErr = cmpErr(firstErr, err)
	}
	s.mu.Lock()
	s.counter.loaded += uint64(loaded)
	s.mu.Unlock()
	return loaded, bad, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
