package otlp

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
)

// OTLP/HTTP paths (the specification's defaults).
const (
	PathTraces  = "/v1/traces"
	PathMetrics = "/v1/metrics"
	PathLogs    = "/v1/logs"
)

const (
	mediaProto = "application/x-protobuf"
	mediaJSON  = "application/json"
)

func (r *Receiver) newHTTPServer() *http.Server {
	return &http.Server{
		Handler:           http.HandlerFunc(r.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second, // a body trickled in slower is dropped
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return r.baseCtx },
		ErrorLog:          slog.NewLogLogger(r.cfg.Logger.Handler(), slog.LevelWarn),
	}
}

// Handler returns the OTLP/HTTP handler, for serving on a caller's own
// server (tests, or sharing a port). Start serves it on HTTPAddr.
func (r *Receiver) Handler() http.Handler { return http.HandlerFunc(r.serveHTTP) }

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	r.handlersMu.Lock()
	if r.handlersOff {
		r.handlersMu.Unlock()
		r.refuse(w, encProto, ReasonShuttingDown, http.StatusServiceUnavailable, codes.Unavailable, ErrShuttingDown.Error())
		return
	}
	r.handlers.Add(1)
	r.handlersMu.Unlock()
	defer r.handlers.Done()
	r.requests["http"].Add(1)
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !r.cfg.AllowHost(host) {
		r.refuse(w, encProto, ReasonBadHost, http.StatusForbidden, codes.PermissionDenied, "host not allowed")
		return
	}
	var s signal
	switch req.URL.Path {
	case PathTraces:
		s = sigTraces
	case PathMetrics:
		s = sigMetrics
	case PathLogs:
		s = sigLogs
	default:
		r.refuse(w, encProto, ReasonNotFound, http.StatusNotFound, codes.NotFound, "not an OTLP path")
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.refuse(w, encProto, ReasonBadMethod, http.StatusMethodNotAllowed, codes.Unimplemented, "OTLP requests are POST")
		return
	}
	// Only the two OTLP media types: this also refuses the types a web
	// page may send cross-origin without a preflight (text/plain, forms).
	var enc encoding
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch mt {
	case mediaProto:
		enc = encProto
	case mediaJSON:
		enc = encJSON
	default:
		r.refuse(w, encProto, ReasonMediaType, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			"Content-Type must be application/x-protobuf or application/json")
		return
	}
	var gz bool
	switch ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
	case "gzip":
		gz = true
	default:
		r.refuse(w, enc, ReasonMediaType, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			"Content-Encoding must be gzip or identity")
		return
	}
	limit := r.cfg.MaxRequestBytes
	if req.ContentLength > limit {
		r.refuse(w, enc, ReasonTooLarge, http.StatusRequestEntityTooLarge, codes.InvalidArgument, tooLargeMsg(limit))
		return
	}
	src := http.MaxBytesReader(w, req.Body, limit)
	hint := int64(0)
	if !gz {
		hint = req.ContentLength
	}
	// On the span path with ReuseTraceBodies nothing points into the
	// body once the request is answered: read it into a pooled buffer.
	var start []byte
	pooled := s == sigTraces && enc == encProto && r.spans != nil && r.cfg.ReuseTraceBodies
	if pooled {
		start = r.getBody()
	}
	body, held, _, err := readBounded(src, gz, hint, limit, r.budget, start)
	defer r.budget.Release(held)
	if pooled {
		defer func() { r.putBody(body, start) }()
	}
	if err != nil {
		switch {
		case errors.Is(err, errTooLarge):
			r.refuse(w, enc, ReasonTooLarge, http.StatusRequestEntityTooLarge, codes.InvalidArgument, tooLargeMsg(limit))
		case errors.Is(err, errNoMemory):
			r.refuse(w, enc, r.noMemory, http.StatusTooManyRequests, codes.ResourceExhausted, err.Error())
		case errors.Is(err, errBadGzip):
			r.refuse(w, enc, ReasonMalformed, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		default:
			r.refuse(w, enc, ReasonReadError, http.StatusBadRequest, codes.InvalidArgument, "reading body: "+err.Error())
		}
		return
	}
	if s == sigTraces && r.cfg.AdmitTraces != nil && !r.cfg.AdmitTraces(int64(len(body))) {
		// Refused before decoding: a request the Consumer has no room
		// for costs its read only.
		r.refuse(w, enc, ReasonBudgetFull, http.StatusTooManyRequests, codes.ResourceExhausted, ErrBudgetFull.Error())
		return
	}
	var rejected int64
	var msg string
	var refused bool
	var out outcome
	if s == sigTraces && enc == encProto && r.spans != nil {
		// Straight into the flat span model, which points into body.
		b := r.getBatch()
		defer r.putBatch(b)
		est, ok := r.decodeSpans(w, enc, body, held, b)
		defer r.budget.Release(est)
		if !ok {
			return // answered
		}
		rejected, msg, refused, out, _ = r.deliverSpans(req.Context(), r.spans, b) // counts refusals
	} else {
		est, ok := r.reserveDecoded(w, s, enc, body, held, 0)
		defer r.budget.Release(est)
		if !ok {
			return // answered
		}
		m, err := r.dec.decode(s, enc, body)
		if err != nil {
			r.refuse(w, enc, ReasonMalformed, http.StatusBadRequest, codes.InvalidArgument, "decoding request: "+err.Error())
			return
		}
		body = nil                                                      // the request does not alias it; the budget is released on return
		rejected, msg, refused, out, _ = r.deliver(req.Context(), s, m) // deliver counts refusals
	}
	if refused {
		switch out {
		case outOverloaded:
			r.answerRetry(w, enc, http.StatusTooManyRequests, codes.ResourceExhausted, msg)
		case outUnavailable:
			r.answerRetry(w, enc, http.StatusServiceUnavailable, codes.Unavailable, msg)
		default:
			writeMessage(w, enc, http.StatusBadRequest, &spb.Status{Code: int32(codes.InvalidArgument), Message: msg})
		}
		return
	}
	writeMessage(w, enc, http.StatusOK, exportResponse(s, rejected, msg))
}

// reserveDecoded reserves, beside the held bytes of the body, an
// estimate of what decoding body takes (estimateDecoded), of which
// already bytes are reserved. It answers the request itself and returns
// false when that cannot be: 413 when the estimate alone is over
// DecodeMemory, 429 when there is no room now. It returns the bytes
// reserved in all (already included), to release after use.
func (r *Receiver) reserveDecoded(w http.ResponseWriter, s signal, enc encoding, body []byte, held, already int64) (int64, bool) {
	// Decoded, a request takes up to 62 times its wire size (a million
	// empty attributes in 2 MB): hold the estimate, not just the body.
	est := estimateDecoded(s, enc, body, r.cfg.RecursionLimit)
	if est+held > r.cfg.DecodeMemory {
		r.refuse(w, enc, ReasonTooLarge, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
			fmt.Sprintf("request would take about %d bytes once decoded, over the receiver's %d", est, r.cfg.DecodeMemory))
		return already, false
	}
	if est > already && !r.budget.TryReserve(est-already) {
		r.refuse(w, enc, r.noMemory, http.StatusTooManyRequests, codes.ResourceExhausted, errNoMemory.Error())
		return already, false
	}
	return max(est, already), true
}

// spanModelPerWireByte is what decodeSpans reserves first per byte of
// protobuf: the flat span model of a typical request takes about 2 (the
// load test's 512-span requests of 121,017 bytes decode into 0.26 MB of
// spans and attributes, TestTypicalRequestDecodedAtOnce), so 3 leaves
// room. The generated types took about 7 (decodedMessageCost).
const spanModelPerWireByte = 3

// decodeSpans decodes an OTLP/HTTP protobuf traces body into b, holding
// its memory in the budget. It first reserves what a typical request
// takes (at most what DecodeMemory has beside the body) and decodes
// within that, so a typical request is decoded without counting its
// messages first; only one that needs more (many tiny attributes) is
// counted, reserved for and decoded again, as the other paths are. It
// answers the request itself and returns false when it cannot be
// decoded, and returns the bytes reserved, to release after use.
func (r *Receiver) decodeSpans(w http.ResponseWriter, enc encoding, body []byte, held int64, b *otlpspans.Batch) (int64, bool) {
	est := min(spanModelPerWireByte*int64(len(body))+4<<10, r.cfg.DecodeMemory-held)
	if est > 0 {
		if !r.budget.TryReserve(est) {
			r.refuse(w, enc, r.noMemory, http.StatusTooManyRequests, codes.ResourceExhausted, errNoMemory.Error())
			return 0, false
		}
		err := b.DecodeWithin(body, r.cfg.RecursionLimit, est)
		if err == nil {
			return est, true
		}
		if !errors.Is(err, otlpspans.ErrTooLarge) {
			r.refuse(w, enc, ReasonMalformed, http.StatusBadRequest, codes.InvalidArgument, "decoding request: "+err.Error())
			return est, false
		}
		b.Reset()
	} else {
		est = 0
	}
	est, ok := r.reserveDecoded(w, sigTraces, enc, body, held, est)
	if !ok {
		return est, false
	}
	if err := b.Decode(body, r.cfg.RecursionLimit); err != nil {
		r.refuse(w, enc, ReasonMalformed, http.StatusBadRequest, codes.InvalidArgument, "decoding request: "+err.Error())
		return est, false
	}
	return est, true
}

func tooLargeMsg(limit int64) string {
	return fmt.Sprintf("request body larger than %d bytes (after decompression)", limit)
}

// refuse counts a refused request and answers it. Retryable refusals get
// Retry-After.
func (r *Receiver) refuse(w http.ResponseWriter, enc encoding, reason Reason, code int, gc codes.Code, msg string) {
	r.refused[reason].Add(1)
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		r.answerRetry(w, enc, code, gc, msg)
		return
	}
	if code == http.StatusRequestEntityTooLarge || code == http.StatusBadRequest {
		// Do not let net/http read on through a large unread body.
		w.Header().Set("Connection", "close")
	}
	writeMessage(w, enc, code, &spb.Status{Code: int32(gc), Message: msg})
}

func (r *Receiver) answerRetry(w http.ResponseWriter, enc encoding, code int, gc codes.Code, msg string) {
	w.Header().Set("Retry-After", strconv.FormatInt(r.retryAfterSeconds(), 10))
	writeMessage(w, enc, code, &spb.Status{Code: int32(gc), Message: msg})
}

// writeMessage answers with m in the request's encoding.
func writeMessage(w http.ResponseWriter, enc encoding, code int, m proto.Message) {
	var b []byte
	var err error
	if enc == encJSON {
		w.Header().Set("Content-Type", mediaJSON)
		b, err = protojson.Marshal(m)
	} else {
		w.Header().Set("Content-Type", mediaProto)
		b, err = proto.Marshal(m)
	}
	if err != nil { // cannot happen for these small messages
		b = nil
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// exportResponse is the success answer, with partial success when items
// were rejected or the Consumer left a message.
func exportResponse(s signal, rejected int64, msg string) proto.Message {
	partial := rejected > 0 || msg != ""
	switch s {
	case sigTraces:
		resp := &coltracepb.ExportTraceServiceResponse{}
		if partial {
			resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rejected, ErrorMessage: msg}
		}
		return resp
	case sigMetrics:
		resp := &colmetricpb.ExportMetricsServiceResponse{}
		if partial {
			resp.PartialSuccess = &colmetricpb.ExportMetricsPartialSuccess{RejectedDataPoints: rejected, ErrorMessage: msg}
		}
		return resp
	default:
		resp := &collogspb.ExportLogsServiceResponse{}
		if partial {
			resp.PartialSuccess = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: rejected, ErrorMessage: msg}
		}
		return resp
	}
}

var (
	errTooLarge = errors.New("body too large")
	errNoMemory = errors.New("receiver decode memory full, retry later")
	errBadGzip  = errors.New("malformed gzip body")
)

// readBounded reads a request body of at most limit bytes (after gzip
// decompression when gz), reserving the memory it grows into from budget
// before allocating it. It reads at most limit+1 bytes out of the
// decompressor, so a gzip bomb costs limit bytes, not its inflated size.
// hint, when positive, is the expected size. start, when its capacity is
// at least the first size it reserves, is read into instead of a new
// buffer (its contents are overwritten). It returns the body, the
// bytes held in budget (to release after use, also on error) and the
// bytes pulled from the decompressor or body.
func readBounded(src io.Reader, gz bool, hint, limit int64, budget *queue.Budget, start []byte) (body []byte, held, pulled int64, err error) {
	in := src
	if gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, 0, 0, classifyReadErr(err, true)
		}
		defer zr.Close()
		in = zr
	}
	ceiling := limit + 1 // one byte more tells "too large" from "exactly limit"
	size := int64(32 << 10)
	if hint > 0 {
		size = hint + 1 // room to see EOF without growing
	}
	size = min(size, ceiling)
	if !budget.TryReserve(size) {
		return nil, 0, 0, errNoMemory
	}
	held = size
	var buf []byte
	if int64(cap(start)) >= size {
		buf = start[:0:size] // capped at what is reserved: growing reserves more
	} else {
		buf = make([]byte, 0, size)
	}
	for {
		if int64(len(buf)) == int64(cap(buf)) {
			if int64(len(buf)) >= ceiling {
				return nil, held, pulled, errTooLarge
			}
			next := min(int64(cap(buf))*2, ceiling)
			if !budget.TryReserve(next) {
				return nil, held, pulled, errNoMemory
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			budget.Release(held)
			held, buf = next, grown
		}
		n, rerr := in.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		pulled += int64(n)
		if rerr == io.EOF {
			if int64(len(buf)) > limit {
				return nil, held, pulled, errTooLarge
			}
			return buf, held, pulled, nil
		}
		if rerr != nil {
			return nil, held, pulled, classifyReadErr(rerr, gz)
		}
	}
}

func classifyReadErr(err error, gz bool) error {
	var mbe *http.MaxBytesError
	var corrupt flate.CorruptInputError
	switch {
	case errors.As(err, &mbe):
		return errTooLarge
	case gz && (errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) ||
		errors.As(err, &corrupt) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return fmt.Errorf("%w: %v", errBadGzip, err)
	}
	return err
}
