package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// signal is one of the three OTLP signals.
type signal uint8

const (
	sigTraces signal = iota
	sigMetrics
	sigLogs
)

// items names what a signal counts, as in the counters and the OTLP
// partial-success fields.
func (s signal) items() string {
	return [...]string{"spans", "data_points", "log_records"}[s]
}

// encoding is how an OTLP/HTTP body is encoded.
type encoding uint8

const (
	encProto encoding = iota
	encJSON
)

// decoder decodes request bodies with the receiver's limits.
type decoder struct {
	proto proto.UnmarshalOptions
	json  protojson.UnmarshalOptions
}

func newDecoder(recursionLimit int) decoder {
	return decoder{
		proto: proto.UnmarshalOptions{RecursionLimit: recursionLimit},
		// OTLP/JSON receivers must ignore fields they do not know.
		json: protojson.UnmarshalOptions{RecursionLimit: recursionLimit, DiscardUnknown: true},
	}
}

// newRequest returns an empty export request for s.
func newRequest(s signal) proto.Message {
	switch s {
	case sigTraces:
		return new(coltracepb.ExportTraceServiceRequest)
	case sigMetrics:
		return new(colmetricpb.ExportMetricsServiceRequest)
	default:
		return new(collogspb.ExportLogsServiceRequest)
	}
}

// decode parses body into a new export request for s. The request does
// not alias body. Errors mean the body is malformed (400).
func (d decoder) decode(s signal, enc encoding, body []byte) (proto.Message, error) {
	m := newRequest(s)
	if enc == encProto {
		if err := d.proto.Unmarshal(body, m); err != nil {
			return nil, err
		}
		return m, nil
	}
	if err := d.json.Unmarshal(body, m); err != nil {
		return nil, err
	}
	if err := fixJSONIDs(m); err != nil {
		return nil, err
	}
	return m, nil
}

// OTLP/JSON writes trace and span IDs as hex, where the protobuf JSON
// mapping (protojson) expects base64. Every hex digit is also a base64
// digit, so protojson accepts a hex ID and decodes it as base64: 32 hex
// digits become 24 bytes, 16 become 12. The decoding is undone exactly by
// encoding those bytes as standard base64 again (the lengths are
// multiples of four, so there is no padding and no spare bits), which
// gives back the hex text to decode. Anything that was not hex (real
// base64 with '+', '/' or '=', URL-safe base64, odd lengths) fails here
// or in protojson, and the request is malformed.

var errJSONID = errors.New("trace and span IDs in OTLP/JSON must be hex strings")

// hexID turns a protojson-decoded OTLP/JSON ID back into its bytes; want
// is the ID's length in bytes (16 or 8). Empty stays empty.
func hexID(b []byte, want int) ([]byte, error) {
	if len(b) == 0 {
		return b, nil
	}
	if len(b) != want*2*3/4 {
		return nil, fmt.Errorf("%w: want %d hex digits", errJSONID, want*2)
	}
	var text [32]byte
	base64.StdEncoding.Encode(text[:], b)
	out := make([]byte, want)
	if _, err := hex.Decode(out, text[:want*2]); err != nil {
		return nil, fmt.Errorf("%w: %v", errJSONID, err)
	}
	return out, nil
}

// fixJSONIDs rewrites every trace and span ID of a JSON-decoded request
// (spans, span links, log records, exemplars) from the base64 reading to
// the hex one. One pass over the request.
func fixJSONIDs(m proto.Message) error {
	var err error
	fix := func(b *[]byte, n int) {
		if err != nil {
			return
		}
		*b, err = hexID(*b, n)
	}
	switch r := m.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		for _, rs := range r.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					fix(&sp.TraceId, 16)
					fix(&sp.SpanId, 8)
					fix(&sp.ParentSpanId, 8)
					for _, l := range sp.GetLinks() {
						fix(&l.TraceId, 16)
						fix(&l.SpanId, 8)
					}
				}
			}
		}
	case *collogspb.ExportLogsServiceRequest:
		for _, rl := range r.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					fix(&lr.TraceId, 16)
					fix(&lr.SpanId, 8)
				}
			}
		}
	case *colmetricpb.ExportMetricsServiceRequest:
		fixEx := func(es []*metricspb.Exemplar) {
			for _, e := range es {
				fix(&e.TraceId, 16)
				fix(&e.SpanId, 8)
			}
		}
		for _, rm := range r.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, mt := range sm.GetMetrics() {
					for _, p := range mt.GetGauge().GetDataPoints() {
						fixEx(p.GetExemplars())
					}
					for _, p := range mt.GetSum().GetDataPoints() {
						fixEx(p.GetExemplars())
					}
					for _, p := range mt.GetHistogram().GetDataPoints() {
						fixEx(p.GetExemplars())
					}
					for _, p := range mt.GetExponentialHistogram().GetDataPoints() {
						fixEx(p.GetExemplars())
					}
				}
			}
		}
	}
	return err
}

// countItems returns the spans, data points or log records in a request.
func countItems(m proto.Message) int64 {
	var n int64
	switch r := m.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		for _, rs := range r.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				n += int64(len(ss.GetSpans()))
			}
		}
	case *collogspb.ExportLogsServiceRequest:
		for _, rl := range r.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				n += int64(len(sl.GetLogRecords()))
			}
		}
	case *colmetricpb.ExportMetricsServiceRequest:
		for _, rm := range r.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, mt := range sm.GetMetrics() {
					n += int64(len(mt.GetGauge().GetDataPoints()) +
						len(mt.GetSum().GetDataPoints()) +
						len(mt.GetHistogram().GetDataPoints()) +
						len(mt.GetExponentialHistogram().GetDataPoints()) +
						len(mt.GetSummary().GetDataPoints()))
				}
			}
		}
	}
	return n
}
