package otlplogs

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/logs"
)

// Batch is the events of one resource and where they go ("" means the
// default group or stream).
type Batch struct {
	Group, Stream string
	Events        []logs.Event
}

// maxDepth bounds how deep nested values are written; deeper ones are
// written as null (the receiver already bounds nesting when decoding).
const maxDepth = 16

// Events converts req into one Batch per resource. now stamps records
// with neither time.
func Events(req *collogspb.ExportLogsServiceRequest, now time.Time) []Batch {
	var out []Batch
	for _, rl := range req.GetResourceLogs() {
		res := rl.GetResource()
		b := Batch{Group: ResourceName(res, "aws.log.group.names"), Stream: ResourceName(res, "aws.log.stream.names")}
		var resJSON []byte
		if len(res.GetAttributes()) > 0 {
			resJSON = appendAttrs(nil, res.GetAttributes(), 0)
		}
		buf := make([]byte, 0, 256)
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				buf = AppendMessage(buf[:0], lr, sl.GetScope().GetName(), resJSON)
				ts := lr.GetTimeUnixNano()
				if ts == 0 {
					ts = lr.GetObservedTimeUnixNano()
				}
				ms := now.UnixMilli()
				if ts != 0 && ts <= math.MaxInt64 {
					ms = int64(ts) / 1e6
				}
				b.Events = append(b.Events, logs.Event{TimestampMs: ms, Message: string(buf)})
			}
		}
		out = append(out, b)
	}
	return out
}

// ResourceName is the first value of res's string or string-array
// attribute key ("" when there is none), as for aws.log.group.names.
func ResourceName(res *resourcepb.Resource, key string) string {
	for _, kv := range res.GetAttributes() {
		if kv.GetKey() != key {
			continue
		}
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_ArrayValue:
			for _, e := range v.ArrayValue.GetValues() {
				if s := e.GetStringValue(); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// AppendMessage appends the JSON message of one record; resJSON is the
// resource's attributes as a JSON object (nil for none).
func AppendMessage(dst []byte, lr *logspb.LogRecord, scope string, resJSON []byte) []byte {
	dst = append(dst, '{')
	first := true
	field := func(name string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, name)
		dst = append(dst, ':')
	}
	if lr.GetBody() != nil {
		field("body")
		dst = appendValue(dst, lr.GetBody(), 0)
	}
	if lr.GetSeverityText() != "" {
		field("severity_text")
		dst = appendString(dst, lr.GetSeverityText())
	}
	if lr.GetSeverityNumber() != 0 {
		field("severity_number")
		dst = strconv.AppendInt(dst, int64(lr.GetSeverityNumber()), 10)
	}
	if len(lr.GetTraceId()) > 0 {
		field("trace_id")
		dst = appendString(dst, hex.EncodeToString(lr.GetTraceId()))
	}
	if len(lr.GetSpanId()) > 0 {
		field("span_id")
		dst = appendString(dst, hex.EncodeToString(lr.GetSpanId()))
	}
	if lr.GetEventName() != "" {
		field("event_name")
		dst = appendString(dst, lr.GetEventName())
	}
	if len(lr.GetAttributes()) > 0 {
		field("attributes")
		dst = appendAttrs(dst, lr.GetAttributes(), 0)
	}
	if scope != "" {
		field("scope")
		dst = appendString(dst, scope)
	}
	if len(resJSON) > 0 {
		field("resource")
		dst = append(dst, resJSON...)
	}
	return append(dst, '}')
}

func appendAttrs(dst []byte, kvs []*commonpb.KeyValue, depth int) []byte {
	dst = append(dst, '{')
	for i, kv := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, kv.GetKey())
		dst = append(dst, ':')
		dst = appendValue(dst, kv.GetValue(), depth+1)
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v *commonpb.AnyValue, depth int) []byte {
	if depth > maxDepth {
		return append(dst, "null"...)
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return appendString(dst, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(dst, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(dst, x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return appendString(dst, strconv.FormatFloat(x.DoubleValue, 'g', -1, 64))
		}
		return strconv.AppendFloat(dst, x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return appendString(dst, base64.StdEncoding.EncodeToString(x.BytesValue))
	case *commonpb.AnyValue_ArrayValue:
		dst = append(dst, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e, depth+1)
		}
		return append(dst, ']')
	case *commonpb.AnyValue_KvlistValue:
		return appendAttrs(dst, x.KvlistValue.GetValues(), depth)
	}
	return append(dst, "null"...)
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c >= 0x20:
				dst = append(dst, c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
