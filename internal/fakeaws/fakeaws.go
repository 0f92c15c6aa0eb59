package fakeaws

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Service names one of the faked APIs.
type Service int

const (
	// XRay is AWS X-Ray.
	XRay Service = iota
	// CloudWatch is Amazon CloudWatch (metrics).
	CloudWatch
	// Logs is Amazon CloudWatch Logs.
	Logs
	numServices
)

func (s Service) String() string {
	switch s {
	case XRay:
		return "xray"
	case CloudWatch:
		return "cloudwatch"
	case Logs:
		return "logs"
	}
	return "unknown"
}

// Fault is an injected error answer.
type Fault int

const (
	// Fault500 answers 500 Internal Server Error.
	Fault500 Fault = iota + 1
	// Fault503 answers 503 Service Unavailable.
	Fault503
	// FaultThrottle answers the service's throttling error.
	FaultThrottle
	// FaultBadRequest answers a non-retryable 400 validation error.
	FaultBadRequest
)

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever something is recorded
	faults    [numServices][]Fault
	hang      [numServices]chan struct{} // non-nil: requests block until closed
	unproc    int                        // next documents to report as unprocessed
	unprocErr string
	requests  map[string]int
	actions   map[string]bool // "xray:PutTraceSegments" of signed requests
	unsigned  int
	badSig    int
	lastSig   string // why the last badly signed request was refused
	segments  []string
	metrics   []MetricRequest
	logs      []LogRequest
	streams   map[string]bool // "group\x00stream" that exist
	needCreat bool
	rules     []byte
	targets   []byte
	lastBody  map[string][]byte
	hanging   int
	noRetain  bool
	segCount  int
	refuse    func(MetricDatum) bool // extra PutMetricData rule, see RefuseMetrics
	otlp      otlpState
}

// Option configures a Server.
type Option interface{ apply(*Server) }

type optionFunc func(*Server)

func (f optionFunc) apply(s *Server) { f(s) }

// WithLogStreamsRequired makes PutLogEvents fail with
// ResourceNotFoundException until CreateLogGroup/CreateLogStream were called
// for the stream, as the real service does.
func WithLogStreamsRequired() Option {
	return optionFunc(func(s *Server) { s.needCreat = true })
}

// WithoutRetention makes the server count accepted segment documents
// without keeping them (Segments returns nil; SegmentCount still counts),
// for load tests that send millions.
func WithoutRetention() Option {
	return optionFunc(func(s *Server) { s.noRetain = true })
}

// New starts a Server on 127.0.0.1. Close it when done.
func New(opts ...Option) *Server {
	s := &Server{
		changed:  make(chan struct{}),
		requests: map[string]int{},
		actions:  map[string]bool{},
		streams:  map[string]bool{},
		lastBody: map[string][]byte{},
		rules:    []byte(`{"SamplingRuleRecords":[]}`),
		targets:  []byte(`{"SamplingTargetDocuments":[],"LastRuleModification":0,"UnprocessedStatistics":[]}`),
		otlp:     otlpState{retryAfter: 1},
	}
	for _, o := range opts {
		o.apply(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL of the server, for every service.
func (s *Server) URL() string { return s.srv.URL }

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	for svc := Service(0); svc < numServices; svc++ {
		s.Hang(svc, false)
	}
	s.srv.Close()
}

// SetEnv points the AWS SDK's default configuration at the server for the
// duration of the test: endpoint URLs for X-Ray, CloudWatch and CloudWatch
// Logs, static credentials and region us-east-1. It also clears variables
// that would make the SDK look elsewhere for configuration.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
}

// Env returns the environment SetEnv sets, for starting a child process.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_XRAY":            s.srv.URL,
		"AWS_ENDPOINT_URL_CLOUDWATCH":      s.srv.URL,
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": s.srv.URL,
		"AWS_ACCESS_KEY_ID":                AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":            SecretAccessKey,
		"AWS_SESSION_TOKEN":                "",
		"AWS_REGION":                       Region,
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE":      "/dev/null",
		"AWS_EC2_METADATA_DISABLED":        "true",
	}
}

// Fail makes the next n requests to svc answer with fault f. Calls add up
// in order.
func (s *Server) Fail(svc Service, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[svc] = append(s.faults[svc], f)
	}
}

// ClearFaults drops every pending injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		s.faults[i] = nil
	}
}

// Hang makes requests to svc block (until Hang(svc, false), the client
// gives up, or Close) when on is true.
func (s *Server) Hang(svc Service, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.hang[svc] == nil:
		s.hang[svc] = make(chan struct{})
	case !on && s.hang[svc] != nil:
		close(s.hang[svc])
		s.hang[svc] = nil
	}
}

// Hanging reports how many requests are blocked by Hang right now.
func (s *Server) Hanging() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hanging
}

// UnprocessSegments makes PutTraceSegments report the next n documents it
// receives as UnprocessedTraceSegments with the given error code (and not
// record them).
func (s *Server) UnprocessSegments(n int, errorCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unproc, s.unprocErr = n, errorCode
}

// SetSamplingResponses sets the JSON bodies returned by GetSamplingRules and
// GetSamplingTargets.
func (s *Server) SetSamplingResponses(rules, targets []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules, s.targets = rules, targets
}

// Requests reports how many requests reached the named operation
// ("PutTraceSegments", "PutMetricData", ...), faults included.
func (s *Server) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op]
}

// Unsigned reports how many requests lacked SigV4 headers (they were
// answered 403 and not recorded).
func (s *Server) Unsigned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsigned
}

// BadSignatures reports how many requests carried a SigV4 signature that
// did not match the one the fake recomputed from the request and its
// credentials (wrong key, scope, clock, tampered body or signed header).
// They were answered 403 and not recorded.
func (s *Server) BadSignatures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badSig
}

// LastSignatureError says why the last badly signed request was refused
// ("" if none was).
func (s *Server) LastSignatureError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSig
}

// LastBody returns the last raw (decompressed) request body of op.
func (s *Server) LastBody(op string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.lastBody[op])
}

// Actions returns the IAM actions of the signed requests received so far,
// such as "xray:PutTraceSegments" and "cloudwatch:PutMetricData", sorted:
// what a role must allow for the same calls to succeed in AWS.
func (s *Server) Actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.actions))
}

// Changed returns a channel closed the next time the server records data.
// Tests wait on it instead of sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitFor blocks until cond returns true (it is checked after every
// recorded request) or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := s.Changed()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakeaws: condition not met: %w", ctx.Err())
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// takeFault pops the next fault for svc and returns the hang channel.
func (s *Server) begin(svc Service, op string, body []byte) (Fault, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[op]++
	s.actions[iamAction(svc, op)] = true
	s.lastBody[op] = body
	var f Fault
	if q := s.faults[svc]; len(q) > 0 {
		f, s.faults[svc] = q[0], q[1:]
	}
	defer s.notifyLocked()
	return f, s.hang[svc]
}

const maxBody = 8 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	svc, op := route(r)
	if op == "" {
		http.Error(w, "fakeaws: unknown operation "+r.URL.Path, http.StatusNotFound)
		return
	}
	if !s.checkSignature(w, r, raw, svc, op) {
		return
	}
	body := raw
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		var tooBig bool
		body, tooBig, err = gunzip(raw, maxBody)
		if err != nil || tooBig {
			s.recordInvalid()
			switch {
			case isOTLP(op) && tooBig:
				writeOTLPError(w, r, http.StatusRequestEntityTooLarge, "more than 8 MiB uncompressed")
			case isOTLP(op):
				writeOTLPError(w, r, http.StatusBadRequest, "bad gzip body")
			default:
				http.Error(w, "bad gzip body", http.StatusBadRequest)
			}
			return
		}
	}
	fault, hang := s.begin(svc, op, body)
	if hang != nil {
		s.mu.Lock()
		s.hanging++
		s.mu.Unlock()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.hanging--
		s.notifyLocked()
		s.mu.Unlock()
		if r.Context().Err() != nil {
			return
		}
	}
	if fault != 0 && isOTLP(op) {
		s.otlpFault(w, r, fault)
		return
	}
	switch fault {
	case Fault500:
		writeError(w, svc, http.StatusInternalServerError, internalCode(svc), "injected 500")
		return
	case Fault503:
		writeError(w, svc, http.StatusServiceUnavailable, "ServiceUnavailable", "injected 503")
		return
	case FaultThrottle:
		writeError(w, svc, throttleStatus(svc), throttleCode(svc), "Rate exceeded")
		return
	case FaultBadRequest:
		writeError(w, svc, http.StatusBadRequest, validationCode(svc), "injected validation error")
		return
	}
	switch op {
	case "PutTraceSegments":
		s.putTraceSegments(w, body)
	case "GetSamplingRules":
		s.mu.Lock()
		b := s.rules
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case "GetSamplingTargets":
		s.mu.Lock()
		b := s.targets
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case "PutMetricData":
		s.putMetricData(w, body)
	case "PutLogEvents", "CreateLogGroup", "CreateLogStream":
		s.logsOp(w, op, body)
	case opOTLPTraces:
		s.otlpTraces(w, r, body)
	case opOTLPMetrics:
		s.otlpMetrics(w, r, body)
	case opOTLPLogs:
		s.otlpLogs(w, r, body)
	}
}

// checkSignature verifies r's SigV4 signature; when it fails it counts
// the request, answers 403 and returns false.
func (s *Server) checkSignature(w http.ResponseWriter, r *http.Request, raw []byte, svc Service, op string) bool {
	err := verifySigV4(r, raw, signingName(svc), map[string]string{AccessKeyID: SecretAccessKey}, time.Now())
	if err == nil {
		return true
	}
	code, msg := "MissingAuthenticationTokenException", err.Error()
	var se *sigError
	s.mu.Lock()
	if errors.As(err, &se) {
		s.badSig++
		s.lastSig = se.Error()
		code, msg = se.code, se.msg
	} else {
		s.unsigned++
	}
	s.notifyLocked()
	s.mu.Unlock()
	if isOTLP(op) {
		writeOTLPError(w, r, http.StatusForbidden, code+": "+msg)
		return false
	}
	writeError(w, svc, http.StatusForbidden, code, msg)
	return false
}

// gunzip decompresses b, reading at most limit bytes of output; tooBig
// reports that there was more.
func gunzip(b []byte, limit int) (out []byte, tooBig bool, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, false, err
	}
	out, err = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return nil, true, nil
	}
	return out, false, nil
}

func route(r *http.Request) (Service, string) {
	switch r.URL.Path {
	case "/TraceSegments":
		return XRay, "PutTraceSegments"
	case "/GetSamplingRules":
		return XRay, "GetSamplingRules"
	case "/SamplingTargets":
		return XRay, "GetSamplingTargets"
	case "/service/GraniteServiceVersion20100801/operation/PutMetricData":
		return CloudWatch, "PutMetricData"
	case "/v1/traces":
		return XRay, opOTLPTraces
	case "/v1/metrics":
		return CloudWatch, opOTLPMetrics
	case "/v1/logs":
		return Logs, opOTLPLogs
	case "/":
		if t, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328."); ok {
			switch t {
			case "PutLogEvents", "CreateLogGroup", "CreateLogStream":
				return Logs, t
			}
		}
	}
	return 0, ""
}

func internalCode(svc Service) string {
	if svc == Logs {
		return "ServiceUnavailableException"
	}
	return "InternalFailure"
}

func throttleCode(svc Service) string {
	switch svc {
	case XRay:
		return "ThrottledException"
	case CloudWatch:
		return "Throttling"
	}
	return "ThrottlingException"
}

func throttleStatus(svc Service) int {
	if svc == XRay {
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}

func validationCode(svc Service) string {
	switch svc {
	case XRay:
		return "InvalidRequestException"
	case CloudWatch:
		return "InvalidParameterValue"
	}
	return "InvalidParameterException"
}

// writeError writes an error in the service's protocol.
func writeError(w http.ResponseWriter, svc Service, status int, code, msg string) {
	switch svc {
	case XRay:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", code)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":%q}`, msg)
	case CloudWatch:
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		sender := "Sender"
		if status >= 500 {
			sender = "Receiver"
		}
		w.Header().Set("X-Amzn-Query-Error", code+";"+sender)
		w.WriteHeader(status)
		_, _ = w.Write(cborError(code, msg))
	case Logs:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
