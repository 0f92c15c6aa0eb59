package localview

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// Defaults for InboxConfig's zero fields.
const (
	DefaultInboxDocs  = 4096
	DefaultInboxBytes = 8 << 20
)

// InboxConfig bounds an Inbox.
type InboxConfig struct {
	// MaxDocs is the number of documents waiting at most (DefaultInboxDocs).
	MaxDocs int
	// MaxBytes is the bytes of documents waiting at most (DefaultInboxBytes).
	MaxBytes int64
	// Dropped and Rejected, when not nil, count documents dropped because
	// the inbox was full and documents the store refused. The store's
	// Stats count them too.
	Dropped, Rejected *atomic.Uint64
}

// Inbox hands documents to a Store from loops that must not wait on it,
// such as the sidecar's UDP read loop: AddSegment, AddEMF, AddEMFDocument
// and AddLogs copy the
// document into a bounded queue and return at once; one goroutine, started
// by Start, stores them. When the queue is full the document is dropped
// and counted (Stats.InboxDropped), so a slow view never slows receiving.
//
// Contract: Start starts the goroutine; Shutdown stops accepting, stores
// what is queued and waits for that until ctx ends. Add methods are safe
// for concurrent use, before Start (documents wait, within the bounds) and
// after Shutdown (documents are dropped and counted).
type Inbox struct {
	s   *Store
	cfg InboxConfig

	mu     sync.RWMutex // held for reading while sending, for writing to close
	closed bool
	queue  chan inboxDoc
	bytes  atomic.Int64
	once   sync.Once
	done   chan struct{}
}

type inboxDoc struct {
	doc    []byte
	emf    bool
	parsed *emfdoc.Document  // an EMF document the receiver parsed (doc is nil)
	logs   []otlplogs.Record // the log records of one OTLP request (doc is nil)
	size   int64             // bytes of logs
}

// NewInbox returns an inbox for s. It starts nothing.
func (s *Store) NewInbox(cfg InboxConfig) *Inbox {
	if cfg.MaxDocs <= 0 {
		cfg.MaxDocs = DefaultInboxDocs
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultInboxBytes
	}
	return &Inbox{s: s, cfg: cfg, queue: make(chan inboxDoc, cfg.MaxDocs), done: make(chan struct{})}
}

// AddSegment queues a copy of one segment document for Store.AddSegment.
// It reports false when the document was dropped because the inbox is full
// or shut down.
func (in *Inbox) AddSegment(doc []byte) bool { return in.offer(doc, false) }

// AddEMF queues a copy of one EMF document for Store.AddEMF. It reports
// false when the document was dropped because the inbox is full or shut
// down.
func (in *Inbox) AddEMF(doc []byte) bool { return in.offer(doc, true) }

// AddEMFDocument queues a copy of one EMF document the sidecar's EMF
// receiver parsed (its points, trace IDs and line), for the store to keep
// without parsing it again. It reports false when the document was dropped
// because the inbox is full or shut down.
func (in *Inbox) AddEMFDocument(d *emfdoc.Document) bool {
	return in.offerItem(int64(len(d.Raw)), func() inboxDoc { return inboxDoc{parsed: d.Clone()} })
}

// AddLogs queues the log records of one OTLP request (package otlplogs
// made them; the inbox takes the slice over) for Store.AddLogs, as one
// item. It returns how many were dropped, counted one per record: all of
// them when the inbox is full or shut down, none otherwise.
func (in *Inbox) AddLogs(recs []otlplogs.Record) (dropped int) {
	if len(recs) == 0 {
		return 0
	}
	var n int64
	for i := range recs {
		n += recs[i].Size()
	}
	if in.offerItemN(n, len(recs), func() inboxDoc { return inboxDoc{logs: recs, size: n} }) {
		return 0
	}
	return len(recs)
}

// RejectedEMF counts an EMF line the sidecar's receiver refused, by the
// parser's reason, so that the view shows it (Stats.MetricRejected and
// MetricRejectedReasons) as it shows documents it refuses itself. It never
// waits.
func (in *Inbox) RejectedEMF(reason emfdoc.Reason) {
	in.s.rejectedEMF(reason)
	if in.cfg.Rejected != nil {
		in.cfg.Rejected.Add(1)
	}
}

func (in *Inbox) offer(doc []byte, emf bool) bool {
	return in.offerItem(int64(len(doc)), func() inboxDoc { return inboxDoc{doc: append([]byte(nil), doc...), emf: emf} })
}

// offerItem queues item(), which holds n bytes, when there is room.
func (in *Inbox) offerItem(n int64, item func() inboxDoc) bool {
	return in.offerItemN(n, 1, item)
}

// offerItemN is offerItem for an item of count documents (or records),
// which are counted one by one when it is dropped.
func (in *Inbox) offerItemN(n int64, count int, item func() inboxDoc) bool {
	if in.bytes.Add(n) > in.cfg.MaxBytes {
		in.bytes.Add(-n)
		in.drop(count)
		return false
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	if !in.closed {
		select {
		case in.queue <- item():
			return true
		default:
		}
	}
	in.bytes.Add(-n)
	in.drop(count)
	return false
}

func (in *Inbox) drop(count int) {
	in.s.inboxDropped.Add(uint64(count))
	if in.cfg.Dropped != nil {
		in.cfg.Dropped.Add(uint64(count))
	}
}

// Start starts the goroutine that stores queued documents.
func (in *Inbox) Start(context.Context) error {
	started := false
	in.once.Do(func() {
		started = true
		go in.run()
	})
	if !started {
		return errors.New("localview: inbox started twice")
	}
	return nil
}

func (in *Inbox) run() {
	defer close(in.done)
	for d := range in.queue {
		var err error
		switch {
		case d.logs != nil:
			in.bytes.Add(-d.size)
			if n := in.s.AddLogs(d.logs); n > 0 && in.cfg.Rejected != nil {
				in.cfg.Rejected.Add(uint64(n))
			}
			continue
		case d.parsed != nil:
			in.bytes.Add(-int64(len(d.parsed.Raw)))
			err = in.s.addEMFDocument(d.parsed, in.s.cfg.Now().UnixNano())
		case d.emf:
			in.bytes.Add(-int64(len(d.doc)))
			err = in.s.AddEMF(d.doc)
		default:
			in.bytes.Add(-int64(len(d.doc)))
			err = in.s.AddSegment(d.doc)
		}
		if err != nil && in.cfg.Rejected != nil {
			in.cfg.Rejected.Add(1)
		}
	}
}

// Shutdown stops accepting documents, stores those queued and waits for
// that until ctx ends. Without Start it only stops accepting.
func (in *Inbox) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	if !in.closed {
		in.closed = true
		close(in.queue)
	}
	in.mu.Unlock()
	started := true
	in.once.Do(func() { started = false; close(in.done) })
	if !started {
		return nil
	}
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
