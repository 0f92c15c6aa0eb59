package otlplogs

import (
	"math"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// Record is one OTLP log record in the form a viewer keeps: typed fields
// for what it indexes and sorts by, JSON for the values it only shows.
// It shares no memory with the request it came from.
type Record struct {
	// TimeUnixNano is the record's time, else its observed time, else the
	// time Records was called.
	TimeUnixNano   int64
	SeverityText   string
	SeverityNumber int32
	// Body is the body as one JSON value (nil when the record has none).
	Body []byte
	// Attributes is the record's attributes as a JSON object (nil: none).
	Attributes []byte
	// TraceID and SpanID are the record's IDs; HasTraceID and HasSpanID say
	// whether they were set (16 and 8 bytes, not all zero).
	TraceID    [16]byte
	SpanID     [8]byte
	HasTraceID bool
	HasSpanID  bool
	EventName  string
	Scope      string // instrumentation scope name
	Service    string // the resource's service.name
}

// recordOverhead is what a Record costs besides its variable-length
// fields, for Size.
const recordOverhead = 160

// Size estimates the bytes r holds.
func (r *Record) Size() int64 {
	return recordOverhead + int64(len(r.SeverityText)+len(r.Body)+len(r.Attributes)+len(r.EventName)+len(r.Scope)+len(r.Service))
}

// Records converts req into one Record per log record, in the request's
// order, in one pass over it. now stamps records with neither time.
func Records(req *collogspb.ExportLogsServiceRequest, now time.Time) []Record {
	n := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	out := make([]Record, 0, n)
	for _, rl := range req.GetResourceLogs() {
		service := serviceName(rl.GetResource())
		for _, sl := range rl.GetScopeLogs() {
			scope := sl.GetScope().GetName()
			for _, lr := range sl.GetLogRecords() {
				out = append(out, record(lr, scope, service, now))
			}
		}
	}
	return out
}

func record(lr *logspb.LogRecord, scope, service string, now time.Time) Record {
	r := Record{
		TimeUnixNano: now.UnixNano(), SeverityText: lr.GetSeverityText(), SeverityNumber: int32(lr.GetSeverityNumber()),
		EventName: lr.GetEventName(), Scope: scope, Service: service,
	}
	ts := lr.GetTimeUnixNano()
	if ts == 0 {
		ts = lr.GetObservedTimeUnixNano()
	}
	if ts != 0 && ts <= math.MaxInt64 {
		r.TimeUnixNano = int64(ts)
	}
	if lr.GetBody() != nil {
		r.Body = appendValue(nil, lr.GetBody(), 0)
	}
	if len(lr.GetAttributes()) > 0 {
		r.Attributes = appendAttrs(nil, lr.GetAttributes(), 0)
	}
	if id := lr.GetTraceId(); len(id) == len(r.TraceID) && !allZero(id) {
		copy(r.TraceID[:], id)
		r.HasTraceID = true
	}
	if id := lr.GetSpanId(); len(id) == len(r.SpanID) && !allZero(id) {
		copy(r.SpanID[:], id)
		r.HasSpanID = true
	}
	return r
}

// serviceName is the resource's service.name ("" when it has none or it
// is not a string).
func serviceName(res *resourcepb.Resource) string {
	for _, kv := range res.GetAttributes() {
		if kv.GetKey() == "service.name" {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
