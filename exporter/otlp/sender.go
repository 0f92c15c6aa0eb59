package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// maxInFlight is how many requests the sender has in flight at once when
// more than one batch waits. A single request at a time makes the
// sender's throughput one batch per round trip, and while the process's
// own goroutines keep its CPUs busy (GOMAXPROCS 1 under load) a round trip
// can last a scheduler time slice (10 ms).
const maxInFlight = 8

// sender is the state of the background goroutine.
type sender struct {
	spare   [][]byte // the chunk list not in use
	records []record
	slots   [maxInFlight]slot
}

// slot is the state of one request in flight.
type slot struct {
	body  []byte
	gz    *gzip.Writer
	gzBuf bytes.Buffer
	resp  []byte
}

// record is one exported segment as queued: its resource and its spans.
type record struct {
	res, spans []byte
	n          int
}

func (x *Exporter) run() {
	defer close(x.done)
	t := time.NewTicker(x.cfg.batchTimeout)
	defer t.Stop()
	for {
		select {
		case <-x.stop:
			x.sendAll()
			return
		case ch := <-x.flushes:
			ch <- x.sendAll()
		case <-x.wake:
			x.sendAll()
		case <-t.C:
			x.sendAll()
		}
	}
}

// sendAll takes the queue and sends it in requests of at most maxBatch
// spans. It returns the last request's error.
func (x *Exporter) sendAll() error {
	s := &x.snd
	x.mu.Lock()
	chunks := x.chunks
	x.chunks = s.spare[:0]
	x.pendingSpans, x.pendingBytes = 0, 0
	x.mu.Unlock()
	defer x.recycle(chunks)
	if len(chunks) == 0 {
		return nil
	}
	s.records = s.records[:0]
	for _, b := range chunks {
		for len(b) > 0 {
			res, n := protowire.ConsumeBytes(b)
			if n < 0 {
				break // cannot happen: the queue holds what ExportSegment wrote
			}
			b = b[n:]
			spans, m := protowire.ConsumeBytes(b)
			if m < 0 {
				break
			}
			b = b[m:]
			count, k := protowire.ConsumeVarint(b)
			if k < 0 {
				break
			}
			b = b[k:]
			s.records = append(s.records, record{res, spans, int(count)})
		}
	}
	// Cut the records into batches of at most maxBatch spans (a segment
	// is never split), and send up to maxInFlight of them at once.
	var batches [maxInFlight][]batch
	nb := 0
	for lo := 0; lo < len(s.records); nb++ {
		hi, n := lo, 0
		for hi < len(s.records) && (hi == lo || n+s.records[hi].n <= x.cfg.maxBatch) {
			n += s.records[hi].n
			hi++
		}
		w := nb % maxInFlight
		batches[w] = append(batches[w], batch{s.records[lo:hi], n})
		lo = hi
	}
	var errs [maxInFlight]error
	send := func(w int) {
		for _, b := range batches[w] {
			if e := x.send(&s.slots[w], b.recs, b.n); e != nil {
				errs[w] = e
			}
		}
	}
	if nb == 1 {
		send(0)
		return errs[0]
	}
	var wg sync.WaitGroup
	for w := 1; w < min(nb, maxInFlight); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(w)
		}()
	}
	send(0)
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// recycle keeps sent chunks for reuse, as many as the queue's byte bound
// can fill, and the chunk list for the next swap.
func (x *Exporter) recycle(chunks [][]byte) {
	x.mu.Lock()
	for i, c := range chunks {
		if cap(c) == chunkSize && (len(x.free)+1)*chunkSize <= x.cfg.queueBytes+chunkSize {
			x.free = append(x.free, c[:0])
		}
		chunks[i] = nil
	}
	x.mu.Unlock()
	x.snd.spare = chunks[:0]
}

type batch struct {
	recs []record
	n    int
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
		if time.Since(first)+wait > r.MaxElapsedTime {
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
