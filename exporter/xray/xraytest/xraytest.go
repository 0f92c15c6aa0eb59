// Package xraytest helps test code that sends X-Ray segments, with the
// finished segments decoded for assertions ([Segment]).
//
// [Recorder] is an in-memory xray.SegmentExporter: give it to the
// middleware (middleware.WithSegmentExporter) in your own tests and assert
// on the segments your handlers produced, with no socket and no goroutine.
//
//	rec := xraytest.NewRecorder()
//	kit, _ := middleware.New(middleware.WithSegmentExporter(rec))
//	… run the code under test …
//	segs := rec.Segments()
//
// [Daemon] is a stand-in X-Ray daemon: it listens on a loopback UDP port,
// checks the daemon protocol header on every datagram, and keeps the
// documents it receives, for tests of the UDP path itself.
//
//	d, _ := xraytest.NewDaemon()
//	defer d.Close()
//	e, _ := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
//	… run the code under test …
//	docs, err := d.WaitFor(ctx, 1)
package xraytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Segment is a decoded segment or subsegment document.
type Segment struct {
	Name        string                                `json:"name"`
	ID          string                                `json:"id"`
	TraceID     string                                `json:"trace_id"`
	ParentID    string                                `json:"parent_id"`
	Type        string                                `json:"type"`
	Namespace   string                                `json:"namespace"`
	StartTime   float64                               `json:"start_time"`
	EndTime     float64                               `json:"end_time"`
	InProgress  bool                                  `json:"in_progress"`
	Error       bool                                  `json:"error"`
	Throttle    bool                                  `json:"throttle"`
	Fault       bool                                  `json:"fault"`
	Origin      string                                `json:"origin"`
	User        string                                `json:"user"`
	HTTP        HTTP                                  `json:"http"`
	AWS         map[string]any                        `json:"aws"`
	Annotations map[string]any                        `json:"annotations"`
	Metadata    map[string]map[string]json.RawMessage `json:"metadata"`
	Cause       *Cause                                `json:"cause"`
	Subsegments []Segment                             `json:"subsegments"`

	// Raw is the document as received (for independent documents).
	Raw []byte `json:"-"`
}

// HTTP is a decoded http block.
type HTTP struct {
	Request struct {
		Method        string `json:"method"`
		URL           string `json:"url"`
		UserAgent     string `json:"user_agent"`
		ClientIP      string `json:"client_ip"`
		XForwardedFor bool   `json:"x_forwarded_for"`
		Traced        bool   `json:"traced"`
	} `json:"request"`
	Response struct {
		Status        int    `json:"status"`
		ContentLength *int64 `json:"content_length"`
	} `json:"response"`
}

// Cause is a decoded cause block.
type Cause struct {
	WorkingDirectory string `json:"working_directory"`
	Exceptions       []struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Message string `json:"message"`
		Remote  bool   `json:"remote"`
		Stack   []struct {
			Path  string `json:"path"`
			Line  int    `json:"line"`
			Label string `json:"label"`
		} `json:"stack"`
	} `json:"exceptions"`
}

// Find returns the first subsegment, at any depth, named name.
func (s *Segment) Find(name string) (*Segment, bool) {
	for i := range s.Subsegments {
		sub := &s.Subsegments[i]
		if sub.Name == name {
			return sub, true
		}
		if found, ok := sub.Find(name); ok {
			return found, true
		}
	}
	return nil, false
}

// Daemon receives segment documents on a loopback UDP port.
type Daemon struct {
	conn *net.UDPConn
	store
	done chan struct{}
}

// store keeps decoded documents and wakes those waiting for them.
type store struct {
	mu      sync.Mutex
	docs    []Segment
	errs    []error
	changed chan struct{}
}

func (st *store) init() { st.changed = make(chan struct{}) }

// Header is the line every daemon datagram starts with.
const Header = "{\"format\": \"json\", \"version\": 1}\n"

// NewDaemon listens on 127.0.0.1 at a free port.
func NewDaemon() (*Daemon, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	_ = conn.SetReadBuffer(8 << 20)
	d := &Daemon{conn: conn, done: make(chan struct{})}
	d.init()
	go d.read()
	return d, nil
}

// Addr is the address to give the emitter (AWS_XRAY_DAEMON_ADDRESS).
func (d *Daemon) Addr() string { return d.conn.LocalAddr().String() }

func (d *Daemon) read() {
	defer close(d.done)
	buf := make([]byte, 1<<16)
	for {
		n, err := d.conn.Read(buf)
		if err != nil {
			return
		}
		d.add(bytes.Clone(buf[:n]))
	}
}

func (d *Daemon) add(datagram []byte) {
	var seg Segment
	var err error
	doc, ok := bytes.CutPrefix(datagram, []byte(Header))
	if !ok {
		err = fmt.Errorf("xraytest: datagram without the daemon header: %.60q", datagram)
	} else if err = json.Unmarshal(doc, &seg); err != nil {
		err = fmt.Errorf("xraytest: document is not JSON: %w", err)
	}
	// The emitter may pad documents with trailing spaces (see
	// xray.WithoutSegmentationOffload); they are not part of the document.
	seg.Raw = bytes.TrimRight(doc, " ")
	d.add1(seg, err)
}

func (d *store) add1(seg Segment, err error) {
	d.mu.Lock()
	if err != nil {
		d.errs = append(d.errs, err)
	} else {
		d.docs = append(d.docs, seg)
	}
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// Documents returns the documents received so far, and an error if any
// datagram was malformed.
func (d *store) Documents() ([]Segment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Segment(nil), d.docs...), errors.Join(d.errs...)
}

// WaitFor waits until at least n documents have arrived, or ctx ends.
func (d *store) WaitFor(ctx context.Context, n int) ([]Segment, error) {
	for {
		d.mu.Lock()
		if len(d.docs) >= n || len(d.errs) > 0 {
			docs, err := append([]Segment(nil), d.docs...), errors.Join(d.errs...)
			d.mu.Unlock()
			return docs, err
		}
		changed := d.changed
		d.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			docs, _ := d.Documents()
			return docs, fmt.Errorf("xraytest: %d of %d documents arrived: %w", len(docs), n, ctx.Err())
		}
	}
}

// Reset forgets the documents received so far.
func (d *store) Reset() {
	d.mu.Lock()
	d.docs, d.errs = nil, nil
	d.mu.Unlock()
}

// Close stops listening.
func (d *Daemon) Close() error {
	err := d.conn.Close()
	<-d.done
	return err
}
