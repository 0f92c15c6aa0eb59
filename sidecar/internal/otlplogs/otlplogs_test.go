package otlplogs_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

func sv(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func TestEvents(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			{Key: "service.name", Value: sv("api")},
			{Key: "aws.log.group.names", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{sv("/app/api")}}}}},
		}}, ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "slog"}, LogRecords: []*logspb.LogRecord{
			{TimeUnixNano: 1_700_000_000_123_000_000, SeverityText: "WARN", SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN,
				Body: sv("disk \"full\"\n"), TraceId: []byte{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8},
				Attributes: []*commonpb.KeyValue{{Key: "n", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 7}}},
					{Key: "x", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.Inf(1)}}}}},
			{ObservedTimeUnixNano: 1_700_000_001_000_000_000, Body: sv("\xff")},
			{},
		}}}},
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: sv("plain")}}}}},
	}}
	got := otlplogs.Events(req, now)
	if len(got) != 2 || got[0].Group != "/app/api" || got[0].Stream != "" || got[1].Group != "" || len(got[0].Events) != 3 {
		t.Fatalf("batches %+v", got)
	}
	e := got[0].Events[0]
	var m map[string]any
	if err := json.Unmarshal([]byte(e.Message), &m); err != nil {
		t.Fatalf("%s: %v", e.Message, err)
	}
	if e.TimestampMs != 1_700_000_000_123 || m["body"] != "disk \"full\"\n" || m["severity_text"] != "WARN" || m["severity_number"] != 13.0 ||
		m["trace_id"] != "ab0102030405060708090a0b0c0d0e0f" || m["span_id"] != "0102030405060708" ||
		m["attributes"].(map[string]any)["n"] != 7.0 || m["attributes"].(map[string]any)["x"] != "+Inf" || m["scope"] != "slog" ||
		m["resource"].(map[string]any)["service.name"] != "api" {
		t.Fatalf("message %s", e.Message)
	}
	if got[0].Events[1].TimestampMs != 1_700_000_001_000 || got[0].Events[1].Message[:12] != `{"body":"`+"\ufffd" {
		t.Fatalf("second %+v", got[0].Events[1])
	}
	if got[0].Events[2].TimestampMs != now.UnixMilli() || got[1].Events[0].Message != `{"body":"plain"}` {
		t.Fatalf("third %+v, other resource %+v", got[0].Events[2], got[1].Events[0])
	}
}

// FuzzMessage: any record decoded from bytes gives a valid JSON message.
func FuzzMessage(f *testing.F) {
	b, _ := proto.Marshal(&logspb.LogRecord{Body: sv("x\x00\"y"), Attributes: []*commonpb.KeyValue{{Key: "k\xff", Value: sv("v")}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var lr logspb.LogRecord
		if proto.Unmarshal(b, &lr) != nil {
			return
		}
		msg := otlplogs.AppendMessage(nil, &lr, "scope", []byte(`{"a":1}`))
		if !json.Valid(msg) {
			t.Fatalf("invalid JSON %q", msg)
		}
	})
}

func TestRecords(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tid := []byte{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: sv("api")}}},
			ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "slog"}, LogRecords: []*logspb.LogRecord{
				{TimeUnixNano: 1_700_000_000_123_000_000, SeverityText: "WARN", SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN,
					Body: sv("disk \"full\""), TraceId: tid, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, EventName: "disk.full",
					Attributes: []*commonpb.KeyValue{{Key: "n", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 7}}}}},
				{ObservedTimeUnixNano: 1_700_000_001_000_000_000, TraceId: make([]byte, 16), SpanId: []byte{1, 2}},
				{TraceId: []byte{1, 2, 3}},
			}}}},
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{
			KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{{Key: "k", Value: sv("v")}}}}}}}}}},
	}}
	got := otlplogs.Records(req, now)
	if len(got) != 4 {
		t.Fatalf("%d records", len(got))
	}
	r := got[0]
	if r.TimeUnixNano != 1_700_000_000_123_000_000 || r.SeverityText != "WARN" || r.SeverityNumber != 13 || string(r.Body) != `"disk \"full\""` ||
		string(r.Attributes) != `{"n":7}` || !r.HasTraceID || r.TraceID != [16]byte(tid) || !r.HasSpanID || r.SpanID != [8]byte{1, 2, 3, 4, 5, 6, 7, 8} ||
		r.EventName != "disk.full" || r.Scope != "slog" || r.Service != "api" {
		t.Fatalf("first record %+v", r)
	}
	if r.Size() <= int64(len(r.Body)+len(r.Attributes)) {
		t.Fatalf("size %d", r.Size())
	}
	// All-zero and wrong-length IDs are no IDs.
	if r := got[1]; r.TimeUnixNano != 1_700_000_001_000_000_000 || r.HasTraceID || r.HasSpanID || r.Body != nil || r.Attributes != nil {
		t.Fatalf("second record %+v", r)
	}
	if r := got[2]; r.TimeUnixNano != now.UnixNano() || r.HasTraceID {
		t.Fatalf("third record %+v", r)
	}
	if r := got[3]; string(r.Body) != `{"k":"v"}` || r.Service != "" {
		t.Fatalf("fourth record %+v", r)
	}
}

// FuzzRecords: any request decoded from bytes gives records whose body
// and attributes are valid JSON, one per log record.
func FuzzRecords(f *testing.F) {
	b, _ := proto.Marshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: sv("a\xff")}}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: sv("x\x00"), TraceId: make([]byte, 16), Attributes: []*commonpb.KeyValue{{Key: "k", Value: sv("v")}}}}}},
	}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var req collogspb.ExportLogsServiceRequest
		if (proto.UnmarshalOptions{RecursionLimit: 32}).Unmarshal(b, &req) != nil {
			return
		}
		n := 0
		for _, rl := range req.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				n += len(sl.GetLogRecords())
			}
		}
		recs := otlplogs.Records(&req, time.Unix(0, 1))
		if len(recs) != n {
			t.Fatalf("%d records for %d", len(recs), n)
		}
		for _, r := range recs {
			if r.Body != nil && !json.Valid(r.Body) || r.Attributes != nil && !json.Valid(r.Attributes) {
				t.Fatalf("invalid JSON %q %q", r.Body, r.Attributes)
			}
		}
	})
}
