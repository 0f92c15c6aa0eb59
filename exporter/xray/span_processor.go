package xray

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// NewSpanProcessor returns an OpenTelemetry SDK span processor that sends
// every sampled span, as it ends, to e as an X-Ray subsegment of its parent
// (or as a segment when it has no parent). Register it with
// sdktrace.WithSpanProcessor. Spans made inside a handler wrapped by
// Sidelight's middleware then nest under the request's segment.
//
// Conversion: the span name is the subsegment name; an Error status is a
// fault with the status description as the exception; exception events
// become the cause's exceptions; client and producer spans are "remote"
// subsegments; http.request.method, url.full and http.response.status_code
// fill the http block; other attributes are metadata, except those named in
// indexed, which are annotations.
func NewSpanProcessor(e SegmentExporter, indexed ...string) sdktrace.SpanProcessor {
	p := &spanProcessor{exporter: e}
	if len(indexed) > 0 {
		p.indexed = make(map[attribute.Key]bool, len(indexed))
		for _, k := range indexed {
			p.indexed[attribute.Key(k)] = true
		}
	}
	return p
}

type spanProcessor struct {
	exporter SegmentExporter
	indexed  map[attribute.Key]bool
}

var _ sdktrace.SpanProcessor = (*spanProcessor)(nil)

func (p *spanProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *spanProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	if !sc.IsSampled() {
		return
	}
	seg := getSegment()
	SpanToSegment(s, seg, p.indexed)
	p.exporter.ExportSegment(seg)
	putSegment(seg)
}

// Shutdown flushes the exporter but does not shut it down: the exporter
// is shared with the middleware, whose owner shuts it down.
func (p *spanProcessor) Shutdown(ctx context.Context) error   { return p.exporter.ForceFlush(ctx) }
func (p *spanProcessor) ForceFlush(ctx context.Context) error { return p.exporter.ForceFlush(ctx) }

// SpanToSegment fills seg from an ended OpenTelemetry span; see
// NewSpanProcessor for the mapping. Attributes whose keys are in indexed
// become annotations.
func SpanToSegment(s sdktrace.ReadOnlySpan, seg *Segment, indexed map[attribute.Key]bool) {
	sc := s.SpanContext()
	seg.Name = s.Name()
	seg.TraceID = sc.TraceID()
	seg.ID = sc.SpanID()
	if parent := s.Parent(); parent.IsValid() {
		seg.ParentID = parent.SpanID()
		seg.Independent = true
	}
	seg.Start = s.StartTime()
	seg.End = s.EndTime()
	switch s.SpanKind() {
	case trace.SpanKindClient, trace.SpanKindProducer:
		seg.Namespace = "remote"
	}
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case "http.request.method", "http.method":
			seg.HTTP.Method = kv.Value.Emit()
			continue
		case "url.full", "http.url":
			seg.HTTP.URL = kv.Value.Emit()
			continue
		case "http.response.status_code", "http.status_code":
			seg.SetHTTPStatus(int(kv.Value.AsInt64()))
			seg.HTTP.ContentLength = -1
			continue
		}
		if indexed[kv.Key] {
			seg.Annotations = append(seg.Annotations, attributeAnnotation(kv))
			continue
		}
		seg.Metadata = append(seg.Metadata, Metadata{Key: string(kv.Key), JSON: appendAttributeValue(nil, kv.Value)})
	}
	if st := s.Status(); st.Code == codes.Error {
		seg.Fault = true
		if st.Description != "" {
			seg.Cause = &Cause{Exceptions: []Exception{{Type: "error", Message: st.Description}}}
		}
	}
	for _, ev := range s.Events() {
		if ev.Name != "exception" {
			continue
		}
		ex := Exception{}
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case "exception.type":
				ex.Type = kv.Value.Emit()
			case "exception.message":
				ex.Message = kv.Value.Emit()
			case "exception.stacktrace":
				ex.Stack = parseGoStack(kv.Value.AsString(), 50)
			}
		}
		if seg.Cause == nil {
			seg.Cause = &Cause{}
		}
		seg.Cause.Exceptions = append(seg.Cause.Exceptions, ex)
		if !seg.Error && !seg.Throttle {
			seg.Fault = true
		}
	}
}

func attributeAnnotation(kv attribute.KeyValue) Annotation {
	switch kv.Value.Type() {
	case attribute.BOOL:
		return BoolAttr(string(kv.Key), kv.Value.AsBool())
	case attribute.INT64:
		return NumberAttr(string(kv.Key), float64(kv.Value.AsInt64()))
	case attribute.FLOAT64:
		return NumberAttr(string(kv.Key), kv.Value.AsFloat64())
	default:
		return StringAttr(string(kv.Key), kv.Value.Emit())
	}
}

func appendAttributeValue(dst []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		return jsonenc.AppendBool(dst, v.AsBool())
	case attribute.INT64:
		return jsonenc.AppendInt(dst, v.AsInt64())
	case attribute.FLOAT64:
		return jsonenc.AppendFloat(dst, v.AsFloat64())
	case attribute.STRING:
		return jsonenc.AppendString(dst, v.AsString())
	case attribute.BOOLSLICE:
		return appendArray(dst, v.AsBoolSlice(), jsonenc.AppendBool)
	case attribute.INT64SLICE:
		return appendArray(dst, v.AsInt64Slice(), jsonenc.AppendInt)
	case attribute.FLOAT64SLICE:
		return appendArray(dst, v.AsFloat64Slice(), jsonenc.AppendFloat)
	case attribute.STRINGSLICE:
		return appendArray(dst, v.AsStringSlice(), jsonenc.AppendString)
	default:
		return jsonenc.AppendString(dst, v.Emit())
	}
}

// appendArray appends vs as a JSON array, each element written by elem.
func appendArray[T any](dst []byte, vs []T, elem func([]byte, T) []byte) []byte {
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = elem(dst, v)
	}
	return append(dst, ']')
}

// parseGoStack turns a Go stack trace as printed by runtime/debug.Stack
// ("function\n\tfile:line +0x..") into frames, keeping at most max.
func parseGoStack(s string, max int) []StackFrame {
	var frames []StackFrame
	lines := strings.Split(s, "\n")
	for i := 0; i+1 < len(lines) && len(frames) < max; i++ {
		fn := strings.TrimSpace(lines[i])
		loc := lines[i+1]
		if !strings.HasPrefix(loc, "\t") {
			continue
		}
		loc = strings.TrimSpace(loc)
		if sp := strings.LastIndexByte(loc, ' '); sp > 0 {
			loc = loc[:sp]
		}
		colon := strings.LastIndexByte(loc, ':')
		if colon < 0 {
			continue
		}
		line := 0
		for _, c := range loc[colon+1:] {
			if c < '0' || c > '9' {
				break
			}
			line = line*10 + int(c-'0')
		}
		if p := strings.LastIndexByte(fn, '('); p > 0 {
			fn = fn[:p]
		}
		frames = append(frames, StackFrame{Path: loc[:colon], Line: line, Label: fn})
		i++
	}
	return frames
}
