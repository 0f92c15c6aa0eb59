package fakeaws

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
)

// The OTLP endpoints AWS runs (CloudWatch User Guide, "OTLP Endpoints",
// CloudWatch-OTLPEndpoint.html): X-Ray's at https://xray.<region>.amazonaws.com/v1/traces
// (SigV4 service xray), CloudWatch's metrics at
// https://monitoring.<region>.amazonaws.com/v1/metrics (SigV4 monitoring)
// and CloudWatch Logs' at https://logs.<region>.amazonaws.com/v1/logs
// (SigV4 logs; headers x-aws-log-group and x-aws-log-stream name an
// existing group and stream). All are HTTP/1.1 only, take OTLP 1.x as
// binary protobuf or JSON, uncompressed or gzip.
const (
	opOTLPTraces  = "OTLPTraces"
	opOTLPMetrics = "OTLPMetrics"
	opOTLPLogs    = "OTLPLogs"
)

// The trace endpoint's limits, from the same page's "Endpoint limits and
// restrictions" table. AWS writes "MB" and "KB"; the fake reads them as
// the smaller, decimal units, so what passes here passes there.
const (
	// "Maximum uncompressed bytes / request: 5 MB".
	maxOTLPTraceBytes = 5_000_000
	// "Maximum events / request: 10,000 spans".
	maxOTLPSpans = 10_000
	// "Single span maximum size: 200 KB".
	maxOTLPSpanBytes = 200_000
	// "Single resource and scope size: 16 KB. The size of each unique
	// resource and corresponding scope should not exceed 16 KB" (the
	// whole call is rejected otherwise).
	maxOTLPResourceScopeBytes = 16_000
	// "Span created timestamps: 2 hours in the future and 14 days in the
	// past" (none of the spans in the batch may be outside).
	maxOTLPSpanFuture = 2 * time.Hour
	maxOTLPSpanPast   = 14 * 24 * time.Hour
	// "Maximum time gap in events / request: 24 hours".
	maxOTLPSpanGap = 24 * time.Hour
)

// iamAction is the IAM action AWS authorises a request with. The OTLP
// endpoints are not API operations of their own:
//   - /v1/traces needs xray:PutSpans (listed in the Service Authorization
//     Reference for AWS X-Ray, list_awsx-ray.html, next to
//     xray:PutSpansForIndexing, which X-Ray checks only when it indexes
//     spans as trace summaries under Transaction Search);
//   - /v1/metrics needs cloudwatch:PutMetricData ("Send metrics using
//     OpenTelemetry", metrics-otel-send.html: the endpoint is CloudWatch's
//     and takes the same permission as the PutMetricData API);
//   - /v1/logs needs logs:PutLogEvents on the group (CloudWatch Logs'
//     OTLP endpoint writes to an existing stream like PutLogEvents does).
func iamAction(svc Service, op string) string {
	switch op {
	case opOTLPTraces:
		return "xray:PutSpans"
	case opOTLPMetrics:
		return "cloudwatch:PutMetricData"
	case opOTLPLogs:
		return "logs:PutLogEvents"
	}
	return svc.String() + ":" + op
}

func isOTLP(op string) bool {
	return op == opOTLPTraces || op == opOTLPMetrics || op == opOTLPLogs
}

// otlpState is what the OTLP endpoints recorded and what tests injected.
type otlpState struct {
	traces     []*coltracepb.ExportTraceServiceRequest
	metrics    []*colmetricpb.ExportMetricsServiceRequest
	logs       []OTLPLogRequest
	spans      int
	records    int
	reject     [numServices]int // items to report as rejected next
	retryAfter int              // seconds in Retry-After of 429/503 answers (New sets 1)
}

// OTLPLogRequest is one accepted request to the OTLP logs endpoint with
// the log group and stream it named.
type OTLPLogRequest struct {
	LogGroup, LogStream string
	Request             *collogspb.ExportLogsServiceRequest
}

// OTLPTraces returns the requests the OTLP trace endpoint accepted, in
// arrival order (without the spans reported as rejected).
func (s *Server) OTLPTraces() []*coltracepb.ExportTraceServiceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*coltracepb.ExportTraceServiceRequest(nil), s.otlp.traces...)
}

// OTLPMetrics returns the requests the OTLP metrics endpoint accepted.
func (s *Server) OTLPMetrics() []*colmetricpb.ExportMetricsServiceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*colmetricpb.ExportMetricsServiceRequest(nil), s.otlp.metrics...)
}

// OTLPLogs returns the requests the OTLP logs endpoint accepted.
func (s *Server) OTLPLogs() []OTLPLogRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OTLPLogRequest(nil), s.otlp.logs...)
}

// SpanCount is how many spans the OTLP trace endpoint accepted (counted
// even WithoutRetention).
func (s *Server) SpanCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.otlp.spans
}

// LogRecordCount is how many log records the OTLP logs endpoint accepted.
func (s *Server) LogRecordCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.otlp.records
}

// RejectOTLP makes svc's OTLP endpoint (XRay: spans, Logs: log records)
// report the next n items it receives as rejected in a partial success
// answer, and not keep them.
func (s *Server) RejectOTLP(svc Service, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.otlp.reject[svc] = n
}

// SetRetryAfter sets the Retry-After (whole seconds, 0 or more) of the
// OTLP endpoints' 429 and 503 answers; the default is 1.
func (s *Server) SetRetryAfter(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.otlp.retryAfter = seconds
}

// errUnsupportedType is a body that is neither protobuf nor JSON.
var errUnsupportedType = errors.New("Content-Type must be application/x-protobuf or application/json")

// decodeOTLP decodes body by r's Content-Type into m.
func decodeOTLP(r *http.Request, body []byte, m proto.Message) error {
	switch mediaType(r) {
	case "application/x-protobuf":
		return proto.Unmarshal(body, m)
	case "application/json":
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, m); err != nil {
			return err
		}
		return fixJSONIDs(m)
	}
	return errUnsupportedType
}

func mediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}

// writeOTLP answers m in the request's encoding.
func writeOTLP(w http.ResponseWriter, r *http.Request, status int, m proto.Message) {
	var b []byte
	if mediaType(r) == "application/json" {
		b, _ = protojson.Marshal(m)
		w.Header().Set("Content-Type", "application/json")
	} else {
		b, _ = proto.Marshal(m)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeOTLPError answers a google.rpc.Status, as the OTLP/HTTP
// specification has servers do for failures.
func writeOTLPError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeOTLP(w, r, status, &spb.Status{Code: int32(grpcCode(status)), Message: msg})
}

func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	}
	return 13 // INTERNAL
}

func (s *Server) retryAfter() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strconv.Itoa(s.otlp.retryAfter)
}

// otlpFault answers an injected fault the OTLP way: throttling is 429 and
// unavailability 503, both with Retry-After.
func (s *Server) otlpFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f {
	case Fault500:
		writeOTLPError(w, r, http.StatusInternalServerError, "injected 500")
	case Fault503:
		w.Header().Set("Retry-After", s.retryAfter())
		writeOTLPError(w, r, http.StatusServiceUnavailable, "injected 503")
	case FaultThrottle:
		w.Header().Set("Retry-After", s.retryAfter())
		writeOTLPError(w, r, http.StatusTooManyRequests, "Rate exceeded")
	case FaultBadRequest:
		writeOTLPError(w, r, http.StatusBadRequest, "injected validation error")
	}
}

// refuseOTLP counts an invalid request and answers status.
func (s *Server) refuseOTLP(w http.ResponseWriter, r *http.Request, status int, format string, args ...any) {
	s.recordInvalid()
	writeOTLPError(w, r, status, fmt.Sprintf(format, args...))
}

// takeRejects takes up to n items of svc's pending rejections.
func (s *Server) takeRejects(svc Service, n int) int {
	k := min(s.otlp.reject[svc], n)
	s.otlp.reject[svc] -= k
	return k
}

func (s *Server) otlpTraces(w http.ResponseWriter, r *http.Request, body []byte) {
	if len(body) > maxOTLPTraceBytes {
		s.refuseOTLP(w, r, http.StatusRequestEntityTooLarge, "request of %d bytes uncompressed exceeds %d", len(body), maxOTLPTraceBytes)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := decodeOTLP(r, body, &req); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errUnsupportedType) {
			status = http.StatusUnsupportedMediaType
		}
		s.refuseOTLP(w, r, status, "bad ExportTraceServiceRequest: %v", err)
		return
	}
	n, err := validateTraces(&req, time.Now())
	if err != nil {
		s.refuseOTLP(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	rejected := s.takeRejects(XRay, n)
	dropSpans(&req, rejected)
	s.otlp.spans += n - rejected
	if !s.noRetain {
		s.otlp.traces = append(s.otlp.traces, &req)
	}
	s.notifyLocked()
	s.mu.Unlock()
	resp := &coltracepb.ExportTraceServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: int64(rejected), ErrorMessage: "injected rejection"}
	}
	writeOTLP(w, r, http.StatusOK, resp)
}

// validateTraces checks X-Ray's documented limits and returns the number
// of spans.
func validateTraces(req *coltracepb.ExportTraceServiceRequest, now time.Time) (int, error) {
	n := 0
	var first, last uint64
	oldest := uint64(now.Add(-maxOTLPSpanPast).UnixNano())
	newest := uint64(now.Add(maxOTLPSpanFuture).UnixNano())
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			if sz := proto.Size(rs.GetResource()) + proto.Size(ss.GetScope()); sz > maxOTLPResourceScopeBytes {
				return 0, fmt.Errorf("resource and scope of %d bytes exceed %d", sz, maxOTLPResourceScopeBytes)
			}
			for _, sp := range ss.GetSpans() {
				n++
				if n > maxOTLPSpans {
					return 0, fmt.Errorf("more than %d spans in one request", maxOTLPSpans)
				}
				if sz := proto.Size(sp); sz > maxOTLPSpanBytes {
					return 0, fmt.Errorf("span %x of %d bytes exceeds %d", sp.GetSpanId(), sz, maxOTLPSpanBytes)
				}
				if len(sp.GetTraceId()) != 16 || len(sp.GetSpanId()) != 8 {
					return 0, fmt.Errorf("span %q has a trace ID of %d bytes and a span ID of %d (want 16 and 8)", sp.GetName(), len(sp.GetTraceId()), len(sp.GetSpanId()))
				}
				for _, t := range []uint64{sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano()} {
					if t < oldest || t > newest {
						return 0, fmt.Errorf("span %x time %s is more than 14 days ago or 2 hours ahead", sp.GetSpanId(), time.Unix(0, int64(t)).UTC().Format(time.RFC3339))
					}
				}
				st := sp.GetStartTimeUnixNano()
				if first == 0 || st < first {
					first = st
				}
				last = max(last, st)
			}
		}
	}
	if n > 0 && time.Duration(last-first) > maxOTLPSpanGap {
		return 0, fmt.Errorf("spans of one request are %s apart, more than %s", time.Duration(last-first), maxOTLPSpanGap)
	}
	return n, nil
}

// dropSpans removes the first k spans of req.
func dropSpans(req *coltracepb.ExportTraceServiceRequest, k int) {
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			d := min(k, len(ss.Spans))
			ss.Spans = ss.Spans[d:]
			k -= d
		}
	}
}

func (s *Server) otlpMetrics(w http.ResponseWriter, r *http.Request, body []byte) {
	var req colmetricpb.ExportMetricsServiceRequest
	if err := decodeOTLP(r, body, &req); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errUnsupportedType) {
			status = http.StatusUnsupportedMediaType
		}
		s.refuseOTLP(w, r, status, "bad ExportMetricsServiceRequest: %v", err)
		return
	}
	s.mu.Lock()
	if !s.noRetain {
		s.otlp.metrics = append(s.otlp.metrics, &req)
	}
	s.notifyLocked()
	s.mu.Unlock()
	writeOTLP(w, r, http.StatusOK, &colmetricpb.ExportMetricsServiceResponse{})
}

func (s *Server) otlpLogs(w http.ResponseWriter, r *http.Request, body []byte) {
	group, stream := r.Header.Get("x-aws-log-group"), r.Header.Get("x-aws-log-stream")
	if group == "" || stream == "" {
		s.refuseOTLP(w, r, http.StatusBadRequest, "headers x-aws-log-group and x-aws-log-stream are required")
		return
	}
	var req collogspb.ExportLogsServiceRequest
	if err := decodeOTLP(r, body, &req); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errUnsupportedType) {
			status = http.StatusUnsupportedMediaType
		}
		s.refuseOTLP(w, r, status, "bad ExportLogsServiceRequest: %v", err)
		return
	}
	n := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	s.mu.Lock()
	if s.needCreat && !s.streams[group+"\x00"+stream] {
		s.mu.Unlock()
		s.refuseOTLP(w, r, http.StatusBadRequest, "The specified log stream does not exist.")
		return
	}
	rejected := s.takeRejects(Logs, n)
	k := rejected
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			d := min(k, len(sl.LogRecords))
			sl.LogRecords = sl.LogRecords[d:]
			k -= d
		}
	}
	s.otlp.records += n - rejected
	if !s.noRetain {
		s.otlp.logs = append(s.otlp.logs, OTLPLogRequest{LogGroup: group, LogStream: stream, Request: &req})
	}
	s.notifyLocked()
	s.mu.Unlock()
	resp := &collogspb.ExportLogsServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: int64(rejected), ErrorMessage: "injected rejection"}
	}
	writeOTLP(w, r, http.StatusOK, resp)
}

// errJSONID is an OTLP/JSON trace or span ID that is not hex.
var errJSONID = errors.New("OTLP/JSON trace and span IDs must be hex")

// fixJSONIDs turns the IDs of a protojson-decoded OTLP/JSON request back
// into bytes. OTLP/JSON writes IDs as hex where protojson expects base64;
// every hex digit is a base64 digit, so protojson read the hex text as
// base64, and encoding the bytes again gives the hex text back.
func fixJSONIDs(m proto.Message) error {
	fix := func(b *[]byte, n int) error {
		if len(*b) == 0 {
			return nil
		}
		text := base64.StdEncoding.EncodeToString(*b)
		if len(text) != 2*n {
			return errJSONID
		}
		out, err := hex.DecodeString(text)
		if err != nil {
			return errJSONID
		}
		*b = out
		return nil
	}
	var errs []error
	switch req := m.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					errs = append(errs, fix(&sp.TraceId, 16), fix(&sp.SpanId, 8), fix(&sp.ParentSpanId, 8))
					for _, l := range sp.GetLinks() {
						errs = append(errs, fix(&l.TraceId, 16), fix(&l.SpanId, 8))
					}
				}
			}
		}
	case *collogspb.ExportLogsServiceRequest:
		for _, rl := range req.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					errs = append(errs, fix(&lr.TraceId, 16), fix(&lr.SpanId, 8))
				}
			}
		}
	case *colmetricpb.ExportMetricsServiceRequest:
		fixEx := func(ex []*metricpb.Exemplar) {
			for _, e := range ex {
				errs = append(errs, fix(&e.TraceId, 16), fix(&e.SpanId, 8))
			}
		}
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, mt := range sm.GetMetrics() {
					for _, p := range mt.GetGauge().GetDataPoints() {
						fixEx(p.Exemplars)
					}
					for _, p := range mt.GetSum().GetDataPoints() {
						fixEx(p.Exemplars)
					}
					for _, p := range mt.GetHistogram().GetDataPoints() {
						fixEx(p.Exemplars)
					}
					for _, p := range mt.GetExponentialHistogram().GetDataPoints() {
						fixEx(p.Exemplars)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}
