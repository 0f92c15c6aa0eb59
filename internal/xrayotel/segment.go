package xrayotel

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
)

var errNilSpan = errors.New("xrayotel: nil span")

// Prefixes of attribute keys with a meaning of their own.
const (
	resourceMetadataPrefix  = "otel.resource."
	metadataNamespacePrefix = "aws.xray.metadata."
)

// AppendSegment appends to dst the X-Ray document for span, which was
// recorded by the service res describes (res may be nil). The document is
// a segment for SERVER and CONSUMER spans and for spans without a parent,
// and an independent subsegment ("type": "subsegment", with trace_id and
// parent_id) otherwise; PutTraceSegments and the X-Ray daemon accept both.
// See the package documentation for the rules.
//
// A document over MaxDocumentBytes is written again without metadata and
// stack traces; if it is still too large, AppendSegment returns dst
// unchanged and an error wrapping ErrTooLarge. An invalid trace, span or
// parent ID gives an error wrapping ErrTraceID, ErrSpanID or ErrParentID.
func (t *Translator) AppendSegment(dst []byte, res *resourcev1.Resource, span *tracev1.Span) ([]byte, error) {
	if span == nil {
		return dst, errNilSpan
	}
	b := getBatch(res, span)
	defer batches.Put(b)
	out, _, err := t.appendSegment(dst, b, &b.Spans[0])
	return out, err
}

// batches holds the one-span Batches AppendSegment builds from the
// generated types: the rules read otlpspans only.
var batches = sync.Pool{New: func() any { return new(otlpspans.Batch) }}

func getBatch(res *resourcev1.Resource, span *tracev1.Span) *otlpspans.Batch {
	b := batches.Get().(*otlpspans.Batch)
	b.Reset()
	b.AddSpan(b.AddResource(res), span)
	return b
}

// AppendSpan is AppendSegment for span i of b (which Decode or FromProto
// filled), also returning the document's Layout (the zero Layout on
// error). It gives the same document as AppendSegment for the span and
// resource b was made from.
func (t *Translator) AppendSpan(dst []byte, b *otlpspans.Batch, i int) ([]byte, Layout, error) {
	return t.appendSegment(dst, b, &b.Spans[i])
}

// Layout says where AppendSegmentLayout wrote parts of a document, as
// byte offsets from the document's start: what a reader of the document
// would otherwise have to find by parsing it.
type Layout struct {
	// Subsegment reports "type":"subsegment".
	Subsegment bool
	// ID is where the 16 hex digits of the "id" member start.
	ID int
	// AWS is the "aws" member's value (an object), [AWS[0], AWS[1]);
	// both are 0 when the document has none.
	AWS [2]int
	// ECS is the "ecs" member's value within the aws object, like AWS.
	ECS [2]int
}

// AppendSegmentLayout is AppendSegment, also returning the document's
// Layout (the zero Layout on error).
func (t *Translator) AppendSegmentLayout(dst []byte, res *resourcev1.Resource, span *tracev1.Span) ([]byte, Layout, error) {
	if span == nil {
		return dst, Layout{}, errNilSpan
	}
	b := getBatch(res, span)
	defer batches.Put(b)
	return t.AppendSpan(dst, b, 0)
}

// appendSegment returns the Layout by value (the zero Layout on error):
// a pointer kept in docState would make every Layout a heap allocation.
func (t *Translator) appendSegment(dst []byte, b *otlpspans.Batch, span *otlpspans.Span) ([]byte, Layout, error) {
	start := len(dst)
	out, lay, err := t.appendDocument(dst, b, span, false)
	if err != nil {
		return dst, Layout{}, err
	}
	if len(out)-start <= MaxDocumentBytes {
		return out, lay, nil
	}
	out, lay, err = t.appendDocument(out[:start], b, span, true)
	if err != nil {
		return dst, Layout{}, err
	}
	if n := len(out) - start; n > MaxDocumentBytes {
		return out[:start], Layout{}, fmt.Errorf("%w: %d bytes without metadata and stacks", ErrTooLarge, n)
	}
	return out, lay, nil
}

// IsSegment reports whether span becomes a segment (rather than a
// subsegment): it is a SERVER or CONSUMER span, or it has no parent.
func IsSegment(span *tracev1.Span) bool {
	return isSegment(int32(span.GetKind()), span.GetParentSpanId())
}

func isSegment(kind int32, parent []byte) bool {
	switch tracev1.Span_SpanKind(kind) {
	case tracev1.Span_SPAN_KIND_SERVER, tracev1.Span_SPAN_KIND_CONSUMER:
		return true
	}
	return len(parent) == 0 || allZero(parent)
}

// docState is what one document's rules share.
type docState struct {
	span     *otlpspans.Span
	attrs    []otlpspans.KeyValue // the span's
	resAttrs []otlpspans.KeyValue // its resource's
	f        spanFacts
	rf       resourceFacts
	segment  bool
	awsCall  bool
	lean     bool
	lay      Layout // where parts were written
	start    int    // where the document starts in dst
}

func (t *Translator) appendDocument(dst []byte, b *otlpspans.Batch, span *otlpspans.Span, lean bool) ([]byte, Layout, error) {
	d := &docState{span: span, attrs: b.Attributes(span.Attrs), resAttrs: b.ResourceOf(span),
		segment: isSegment(span.Kind, span.ParentSpanID), lean: lean, start: len(dst)}
	d.f.gather(d.attrs)
	d.rf.gather(d.resAttrs)
	d.awsCall = d.f.peek(kRPCSystem) == "aws-api" || d.f.peek(kAWSService) != ""

	var err error
	dst = append(dst, `{"name":`...)
	dst = appendName(dst, t.name(d), "unknown")
	dst = append(dst, `,"id":"`...)
	d.lay.ID = len(dst) - d.start
	d.lay.Subsegment = !d.segment
	if dst, err = AppendSpanID(dst, span.SpanID); err != nil {
		return dst, Layout{}, err
	}
	dst = append(dst, `","trace_id":"`...)
	if dst, err = AppendTraceID(dst, span.TraceID); err != nil {
		return dst, Layout{}, err
	}
	dst = append(dst, '"')
	if p := span.ParentSpanID; len(p) != 0 && !allZero(p) {
		if len(p) != 8 {
			return dst, Layout{}, fmt.Errorf("%w: %d bytes %x", ErrParentID, len(p), p)
		}
		dst = append(dst, `,"parent_id":"`...)
		dst = appendHex(dst, p)
		dst = append(dst, '"')
	}
	if !d.segment {
		dst = append(dst, `,"type":"subsegment"`...)
	}
	dst = appendTimes(dst, span.StartTimeUnixNano, span.EndTimeUnixNano)
	if !d.segment {
		if ns := d.namespace(); ns != "" {
			dst = append(dst, `,"namespace":"`...)
			dst = append(dst, ns...)
			dst = append(dst, '"')
		}
	}
	h := d.http()
	isErr, throttle, fault := h.flags()
	if span.StatusCode == int32(tracev1.Status_STATUS_CODE_ERROR) && !isErr && !fault {
		fault = true
	}
	if isErr {
		dst = append(dst, `,"error":true`...)
	}
	if throttle {
		dst = append(dst, `,"throttle":true`...)
	}
	if fault {
		dst = append(dst, `,"fault":true`...)
	}
	if d.segment {
		if o := d.rf.origin(); o != "" {
			dst = append(dst, `,"origin":"`...)
			dst = append(dst, o...)
			dst = append(dst, '"')
		}
		comma := true
		dst = appendField(dst, "user", d.f.str(kEndUserID), maxHTTPFieldLength, &comma)
	}
	dst = h.append(dst)
	dst = d.appendAWS(dst)
	dst = d.appendSQL(dst)
	if d.segment {
		if v := d.rf.str(rServiceVersion); v != "" {
			dst = append(dst, `,"service":{"version":`...)
			dst = jsonenc.AppendString(dst, v)
			dst = append(dst, '}')
		}
	}
	dst = t.appendAttributes(dst, d)
	if exs := exceptions(b, span); len(exs) > 0 {
		dst = appendCause(dst, span.SpanID, exs, lean)
	}
	return append(dst, '}'), d.lay, nil
}

// appendTimes appends start_time and end_time (or in_progress when the span
// has no end time) in seconds with microsecond precision. An end before the
// start is written as the start.
func appendTimes(dst []byte, startNanos, endNanos uint64) []byte {
	start := int64(startNanos / 1000)
	dst = append(dst, `,"start_time":`...)
	dst = jsonenc.AppendSeconds(dst, start)
	if endNanos == 0 {
		return append(dst, `,"in_progress":true`...)
	}
	end := int64(endNanos / 1000)
	if end < start {
		end = start
	}
	dst = append(dst, `,"end_time":`...)
	return jsonenc.AppendSeconds(dst, end)
}

// name picks the document's name: the service for segments; for
// subsegments the AWS service, the database, the peer service or host of a
// client call, or else the span name.
func (t *Translator) name(d *docState) string {
	f := &d.f
	if d.segment {
		if s := d.rf.str(rServiceName); s != "" {
			return s
		}
		if t.defaultService != "" {
			return t.defaultService
		}
		return d.span.Name
	}
	if d.awsCall {
		// The name and the "aws" namespace say what these attributes say.
		if f.peek(kRPCSystem) == "aws-api" {
			f.used[kRPCSystem] = true
		}
		if s := f.str(kAWSService, kRPCService); s != "" {
			return strings.TrimPrefix(strings.TrimPrefix(s, "AWS.SDK."), "AWS::")
		}
	}
	kind := tracev1.Span_SpanKind(d.span.Kind)
	if kind == tracev1.Span_SPAN_KIND_CLIENT || kind == tracev1.Span_SPAN_KIND_PRODUCER {
		if s := f.peek(kPeerService); s != "" {
			return s
		}
		if sys := f.peek(kDBSystemName, kDBSystem); sys != "" {
			db := f.peek(kDBNamespace, kDBNameOld)
			if db == "" {
				db = sys
			}
			if host := f.peek(kServerAddress, kNetPeerNameOld); host != "" {
				return db + "@" + host
			}
			return db
		}
		if svc := f.peek(kRPCService); svc != "" {
			return svc
		}
		if host := f.peek(kServerAddress, kNetPeerNameOld, kHTTPHostOld); host != "" {
			return host
		}
		if u := f.peek(kURLFull, kHTTPURLOld); u != "" {
			if p, err := url.Parse(u); err == nil && p.Hostname() != "" {
				return p.Hostname()
			}
		}
	}
	return d.span.Name
}

// namespace is "aws" for AWS SDK calls, "remote" for other CLIENT and
// PRODUCER spans, and "" otherwise.
func (d *docState) namespace() string {
	if d.awsCall {
		return "aws"
	}
	switch tracev1.Span_SpanKind(d.span.Kind) {
	case tracev1.Span_SPAN_KIND_CLIENT, tracev1.Span_SPAN_KIND_PRODUCER:
		return "remote"
	}
	return ""
}
