package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// maxInFlight is how many requests are in flight at most. A single
// request at a time makes the exporter's throughput one batch per round
// trip, and while the process's own goroutines keep its CPUs busy
// (GOMAXPROCS 1 under load) a round trip can last a scheduler time slice
// (10 ms) or two.
const maxInFlight = 16

// batch is one request's worth of queued segments: records (resource,
// spans as length-delimited fields, then the span count) appended to buf.
type batch struct {
	buf   []byte
	spans int
	bytes int    // what the batch counts against the queue's byte bound
	seq   uint64 // order of sealing, for ForceFlush
}

// slot is the state of one request in flight.
type slot struct {
	body    []byte
	gz      *gzip.Writer
	gzBuf   bytes.Buffer
	resp    []byte
	records []record
}

// record is one exported segment as queued: its resource and its spans.
type record struct {
	res, spans []byte
	n          int
}

// flushWaiter is a ForceFlush (or Shutdown) waiting for every batch up to
// upTo to be sent.
type flushWaiter struct {
	upTo uint64
	err  error // the first failed request among those batches
	ch   chan struct{}
}

// run seals the open batch every batchTimeout, so that a span waits at
// most that long (and a request's worth of spans not at all).
func (x *Exporter) run() {
	defer close(x.done)
	t := time.NewTicker(x.cfg.batchTimeout)
	defer t.Stop()
	for {
		select {
		case <-x.stop:
			return
		case <-t.C:
			x.mu.Lock()
			x.sealLocked()
			x.dispatchLocked()
			x.mu.Unlock()
		}
	}
}

// newBatchLocked returns a batch for the queue, reusing a sent one.
func (x *Exporter) newBatchLocked() *batch {
	if n := len(x.free); n > 0 {
		b := x.free[n-1]
		x.free[n-1] = nil
		x.free = x.free[:n-1]
		x.freeBytes -= cap(b.buf)
		return b
	}
	// A new batch gets room for as much as the last full one held, so
	// that filling it does not copy it as it grows on the request path.
	return &batch{buf: make([]byte, 0, x.batchCap)}
}

// sealLocked moves the open batch, if it holds spans, to the ready list.
func (x *Exporter) sealLocked() {
	b := x.open
	if b == nil || b.spans == 0 {
		return
	}
	x.open = nil
	if n := len(b.buf) + len(b.buf)/8; n > x.batchCap && b.spans >= x.cfg.maxBatch {
		x.batchCap = min(n, maxRequestBytes+maxRequestBytes/8)
	}
	b.seq = x.nextSeq
	x.nextSeq++
	x.ready = append(x.ready, b)
}

// dispatchLocked starts a worker for each ready batch while fewer than
// maxInFlight requests are in flight. A worker goes on with the next
// ready batch when its request is answered, and ends when none is left.
func (x *Exporter) dispatchLocked() {
	for len(x.ready) > 0 && len(x.inFlight) < maxInFlight {
		b := x.takeLocked()
		var s *slot
		if n := len(x.slots); n > 0 {
			s = x.slots[n-1]
			x.slots = x.slots[:n-1]
		} else {
			s = &slot{}
		}
		x.workers.Add(1)
		go x.work(s, b)
	}
}

// takeLocked moves the oldest ready batch in flight.
func (x *Exporter) takeLocked() *batch {
	b := x.ready[0]
	copy(x.ready, x.ready[1:])
	x.ready[len(x.ready)-1] = nil
	x.ready = x.ready[:len(x.ready)-1]
	x.queuedSpans -= b.spans
	x.inFlight = append(x.inFlight, b)
	return b
}

// work sends b, then the next ready batches, until none is left. After
// Shutdown gave up waiting (x.ctx is cancelled), what is still ready is
// dropped and counted rather than sent.
func (x *Exporter) work(s *slot, b *batch) {
	defer x.workers.Done()
	for {
		err := x.sendBatch(s, b)
		x.mu.Lock()
		x.completeLocked(b, err)
		if x.ctx.Err() != nil {
			for len(x.ready) > 0 {
				r := x.takeLocked()
				x.droppedSend.Add(uint64(r.spans))
				x.completeLocked(r, x.ctx.Err())
			}
		}
		if len(x.ready) == 0 {
			if len(x.slots) < maxInFlight {
				x.slots = append(x.slots, s)
			}
			x.mu.Unlock()
			return
		}
		b = x.takeLocked()
		x.mu.Unlock()
	}
}

// completeLocked takes b out of flight, keeps it for reuse, and releases
// the flushes that were waiting for it and the batches before it.
func (x *Exporter) completeLocked(b *batch, err error) {
	for i, f := range x.inFlight {
		if f == b {
			last := len(x.inFlight) - 1
			x.inFlight[i] = x.inFlight[last]
			x.inFlight[last] = nil
			x.inFlight = x.inFlight[:last]
			break
		}
	}
	x.heldBytes -= b.bytes
	seq := b.seq
	if c := cap(b.buf); c <= 2*maxRequestBytes && x.freeBytes+c <= x.cfg.queueBytes/4 {
		b.buf, b.spans, b.bytes, b.seq = b.buf[:0], 0, 0, 0
		x.free = append(x.free, b)
		x.freeBytes += c
	}
	// The oldest batch not yet answered: flushes waiting for batches
	// before it are done.
	oldest := uint64(math.MaxUint64)
	if len(x.ready) > 0 {
		oldest = x.ready[0].seq
	}
	for _, f := range x.inFlight {
		oldest = min(oldest, f.seq)
	}
	kept := x.waiters[:0]
	for _, w := range x.waiters {
		if err != nil && seq <= w.upTo && w.err == nil {
			w.err = err
		}
		if w.upTo < oldest {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	clear(x.waiters[len(kept):])
	x.waiters = kept
}

// flushLocked seals the open batch, starts its sending, and returns a
// waiter for every batch sealed so far, or nil when none is outstanding.
func (x *Exporter) flushLocked() *flushWaiter {
	x.sealLocked()
	x.dispatchLocked()
	if len(x.ready) == 0 && len(x.inFlight) == 0 {
		return nil
	}
	w := &flushWaiter{upTo: x.nextSeq - 1, ch: make(chan struct{})}
	x.waiters = append(x.waiters, w)
	return w
}

// sendBatch sends b in one request, one ResourceSpans per resource.
func (x *Exporter) sendBatch(s *slot, b *batch) error {
	s.records = s.records[:0]
	buf := b.buf
	for len(buf) > 0 {
		res, n := protowire.ConsumeBytes(buf)
		if n < 0 {
			break // cannot happen: the batch holds what ExportSegment wrote
		}
		buf = buf[n:]
		spans, m := protowire.ConsumeBytes(buf)
		if m < 0 {
			break
		}
		buf = buf[m:]
		count, k := protowire.ConsumeVarint(buf)
		if k < 0 {
			break
		}
		buf = buf[k:]
		s.records = append(s.records, record{res, spans, int(count)})
	}
	// The body is about as large as the batch: size it once rather than
	// let it grow by copies.
	if need := len(b.buf) + len(x.scope) + 1024; cap(s.body) < need {
		s.body = make([]byte, 0, need+need/8)
	}
	return x.send(s, s.records, b.spans)
}

// send writes one ExportTraceServiceRequest holding recs, the spans of one
// resource under one ResourceSpans, and posts it.
func (x *Exporter) send(s *slot, recs []record, n int) error {
	b := s.body[:0]
	for i := range recs {
		if i > 0 && sameResourceBefore(recs, i) {
			continue
		}
		var rs, r, ss int
		b, rs = openLen(b, fRequestResourceSpans)
		b, r = openLen(b, fResourceSpansResource)
		b = append(b, recs[i].res...)
		b = closeLen(b, r)
		b, ss = openLen(b, fResourceSpansScopeSpans)
		b = append(b, x.scope...)
		for j := i; j < len(recs); j++ {
			if j == i || bytes.Equal(recs[j].res, recs[i].res) {
				b = append(b, recs[j].spans...)
			}
		}
		b = closeLen(b, ss)
		b = closeLen(b, rs)
	}
	s.body = b
	return x.post(s, b, n)
}

func sameResourceBefore(recs []record, i int) bool {
	for j := 0; j < i; j++ {
		if bytes.Equal(recs[j].res, recs[i].res) {
			return true
		}
	}
	return false
}

// errRetryable marks an answer worth sending again.
var errRetryable = errors.New("retryable")

func (x *Exporter) post(s *slot, body []byte, n int) error {
	payload := body
	if x.cfg.compression == GzipCompression {
		s.gzBuf.Reset()
		if s.gz == nil {
			s.gz = gzip.NewWriter(&s.gzBuf)
		} else {
			s.gz.Reset(&s.gzBuf)
		}
		_, _ = s.gz.Write(body)
		_ = s.gz.Close()
		payload = s.gzBuf.Bytes()
	}
	r := x.cfg.retry
	first := time.Now()
	interval := r.InitialInterval
	giveUp := r.MaxElapsedTime
	if t := x.cfg.exportTimeout; t > 0 && t < giveUp {
		giveUp = t // OTEL_BSP_EXPORT_TIMEOUT
	}
	for {
		x.requests.Add(1)
		rejected, after, err := x.postOnce(s, payload)
		if err == nil {
			rejected = min(max(rejected, 0), n)
			x.exported.Add(uint64(n - rejected))
			x.rejected.Add(uint64(rejected))
			return nil
		}
		if !errors.Is(err, errRetryable) || !r.Enabled {
			return x.drop(n, err)
		}
		wait := interval
		if after > 0 {
			wait = after
		}
		if time.Since(first)+wait > giveUp {
			return x.drop(n, fmt.Errorf("%w; gave up after %s", err, time.Since(first).Round(time.Millisecond)))
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-x.ctx.Done():
			t.Stop()
			return x.drop(n, err)
		}
		interval = min(2*interval, r.MaxInterval)
		x.retries.Add(1)
	}
}

func (x *Exporter) drop(n int, err error) error {
	x.droppedSend.Add(uint64(n))
	x.cfg.logger.Warn("otlp: spans dropped", "spans", n, "endpoint", x.cfg.endpoint, "error", err)
	return err
}

// postOnce sends one request. It returns how many spans the collector
// said it rejected, how long it asked to wait before a retry, and an
// error wrapping errRetryable when the request may be sent again.
func (x *Exporter) postOnce(s *slot, payload []byte) (rejected int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(x.ctx, x.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.cfg.endpoint, bytes.NewReader(payload))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if x.cfg.compression == GzipCompression {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range x.cfg.headers {
		req.Header.Set(k, v)
	}
	resp, err := x.client.Do(req)
	if err != nil {
		if x.ctx.Err() != nil {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("%w: %v", errRetryable, err)
	}
	defer resp.Body.Close()
	s.resp, _ = readAtMost(s.resp[:0], resp.Body, 64<<10)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return partialRejected(s.resp), 0, nil
	case code == http.StatusTooManyRequests || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout:
		return 0, parseRetryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("%w: HTTP %d", errRetryable, code)
	default:
		return 0, 0, fmt.Errorf("otlp: collector answered HTTP %d", code)
	}
}

func readAtMost(dst []byte, r io.Reader, n int64) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	_, err := buf.ReadFrom(io.LimitReader(r, n))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20)) // let the connection be reused
	return buf.Bytes(), err
}

// partialRejected reads rejected_spans from an ExportTraceServiceResponse.
func partialRejected(b []byte) int {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0
		}
		b = b[n:]
		if num == fPartialSuccess && typ == protowire.BytesType {
			ps, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return 0
			}
			for len(ps) > 0 {
				f, t, k := protowire.ConsumeTag(ps)
				if k < 0 {
					return 0
				}
				ps = ps[k:]
				if f == fPartialRejectedSpans && t == protowire.VarintType {
					v, k := protowire.ConsumeVarint(ps)
					if k < 0 {
						return 0
					}
					return int(min(v, 1<<31))
				}
				k = protowire.ConsumeFieldValue(f, t, ps)
				if k < 0 {
					return 0
				}
				ps = ps[k:]
			}
			return 0
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0
		}
		b = b[m:]
	}
	return 0
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
