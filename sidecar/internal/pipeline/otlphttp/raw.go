package otlphttp

import (
	"errors"
	"fmt"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ErrMalformed is wrapped by QueueTracesRaw's error for a request that
// is not a valid ExportTraceServiceRequest; nothing was queued.
var ErrMalformed = errors.New("otlphttp: malformed OTLP traces request")

// Field numbers of the OTLP trace messages the raw path reads.
const (
	fRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans
	fResource             = 1 // ResourceSpans.resource
	fScopeSpans           = 2 // ResourceSpans.scope_spans
	fSchemaURL            = 3 // ResourceSpans.schema_url, ScopeSpans.schema_url
	fScope                = 1 // ScopeSpans.scope
	fSpans                = 2 // ScopeSpans.spans
	fTraceID              = 1 // Span.trace_id
	fSpanID               = 2 // Span.span_id
	fTraceState           = 3 // Span.trace_state
	fStart                = 7 // Span.start_time_unix_nano
	fEnd                  = 8 // Span.end_time_unix_nano
	fLinks                = 13
)

// rawSpan is what the raw path reads of one span.
type rawSpan struct {
	b                []byte
	start, end       uint64
	validIDs         bool // a valid trace ID and span ID
	traceState, link bool // has a trace state or links, to validate
}

// rawField is one field of a message: its number, wire type, and value
// (the contents for BytesType, the varint or fixed value otherwise).
type rawField struct {
	num protowire.Number
	typ protowire.Type
	v   []byte
	n   uint64
}

// nextField reads the first field of b and returns the rest.
func nextField(b []byte) (rawField, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return rawField{}, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
	}
	b = b[n:]
	f := rawField{num: num, typ: typ}
	switch typ {
	case protowire.BytesType:
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return rawField{}, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(m))
		}
		f.v = v
		return f, b[m:], nil
	case protowire.VarintType:
		x, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return rawField{}, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(m))
		}
		f.n = x
		return f, b[m:], nil
	case protowire.Fixed64Type:
		x, m := protowire.ConsumeFixed64(b)
		if m < 0 {
			return rawField{}, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(m))
		}
		f.n = x
		return f, b[m:], nil
	}
	m := protowire.ConsumeFieldValue(num, typ, b)
	if m < 0 {
		return rawField{}, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(m))
	}
	return f, b[m:], nil
}

// rawTraces splits req, the protobuf encoding of an
// ExportTraceServiceRequest, as traces splits the decoded request, in
// one pass: the
// parts are the request's own resource, scope and span bytes framed
// anew, never re-encoded. The fields the splitter does not read are
// checked as proto.Unmarshal would check them where a receiver decoding
// with otlpspans may have skipped them (strings of scopes, trace states,
// links and schema URLs), so that one bad request cannot make the
// endpoint refuse a whole batch. A message field sent twice keeps the
// last one (proto.Unmarshal merges them; no encoder sends this).
func (s *splitter) rawTraces(req []byte) error {
	// Parts are queued only after the whole request was read: an error
	// part way leaves nothing queued.
	for len(req) > 0 {
		f, rest, err := nextField(req)
		if err != nil {
			return err
		}
		req = rest
		if f.num == fRequestResourceSpans && f.typ == protowire.BytesType {
			if err := s.rawResourceSpans(f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSpanExtras checks a span's trace state and links.
func checkSpanExtras(b []byte) error {
	for len(b) > 0 {
		f, rest, _ := nextField(b) // framing checked by readSpan
		b = rest
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fTraceState:
			if !utf8.Valid(f.v) {
				return fmt.Errorf("%w: trace state is not valid UTF-8", ErrMalformed)
			}
		case fLinks:
			if err := proto.Unmarshal(f.v, new(tracepb.Span_Link)); err != nil {
				return fmt.Errorf("%w: link: %v", ErrMalformed, err)
			}
		}
	}
	return nil
}

// readSpan reads the fields the splitter needs of one encoded span
// (the last of each, as proto.Unmarshal keeps).
func readSpan(b []byte) (rawSpan, error) {
	sp := rawSpan{b: b}
	var traceID, spanID []byte
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return rawSpan{}, err
		}
		b = rest
		switch {
		case f.num == fTraceID && f.typ == protowire.BytesType:
			traceID = f.v
		case f.num == fSpanID && f.typ == protowire.BytesType:
			spanID = f.v
		case f.num == fStart && f.typ == protowire.Fixed64Type:
			sp.start = f.n
		case f.num == fEnd && f.typ == protowire.Fixed64Type:
			sp.end = f.n
		case f.num == fTraceState && f.typ == protowire.BytesType:
			sp.traceState = true
		case f.num == fLinks && f.typ == protowire.BytesType:
			sp.link = true
		}
	}
	sp.validIDs = validID(traceID, 16) && validID(spanID, 8)
	return sp, nil
}

// rawResourceSpans splits one ResourceSpans message.
func (s *splitter) rawResourceSpans(rs []byte) error {
	var res, schema []byte
	hasRes := false
	for b := rs; len(b) > 0; {
		f, rest, err := nextField(b)
		if err != nil {
			return err
		}
		b = rest
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fResource:
			if err := proto.Unmarshal(f.v, new(resourcepb.Resource)); err != nil {
				return fmt.Errorf("%w: resource: %v", ErrMalformed, err)
			}
			res, hasRes = f.v, true
		case fSchemaURL:
			if !utf8.Valid(f.v) {
				return fmt.Errorf("%w: schema URL is not valid UTF-8", ErrMalformed)
			}
			schema = f.v
		}
	}
	for b := rs; len(b) > 0; {
		f, rest, _ := nextField(b) // read above
		b = rest
		if f.num == fScopeSpans && f.typ == protowire.BytesType {
			if err := s.rawScopeSpans(res, hasRes, schema, f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// rawScopeSpans is spans for one ScopeSpans message of a resource
// (res, present when hasRes) with its schema URL.
func (s *splitter) rawScopeSpans(res []byte, hasRes bool, schema, ss []byte) error {
	var scope, scopeSchema []byte
	hasScope := false
	spans := s.rawSpans[:0]
	defer func() { clear(spans); s.rawSpans = spans[:0] }() // drop the references into the request
	for b := ss; len(b) > 0; {
		f, rest, err := nextField(b)
		if err != nil {
			return err
		}
		b = rest
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fScope:
			if err := proto.Unmarshal(f.v, new(commonpb.InstrumentationScope)); err != nil {
				return fmt.Errorf("%w: scope: %v", ErrMalformed, err)
			}
			scope, hasScope = f.v, true
		case fSchemaURL:
			if !utf8.Valid(f.v) {
				return fmt.Errorf("%w: schema URL is not valid UTF-8", ErrMalformed)
			}
			scopeSchema = f.v
		case fSpans:
			sp, err := readSpan(f.v)
			if err == nil && (sp.traceState || sp.link) {
				err = checkSpanExtras(f.v)
			}
			if err != nil {
				return err
			}
			spans = append(spans, sp)
		}
	}
	head, ok := s.resourceScopeSize(len(res), len(scope), len(spans))
	if !ok {
		return nil
	}
	r := &run{s: s, head: head, encode: func(i, j int) []byte {
		return appendResourceSpans(nil, res, hasRes, schema, scope, hasScope, scopeSchema, spans[i:j])
	}}
	for i, sp := range spans {
		if !sp.validIDs {
			r.drop(i, "a span without a valid trace or span ID")
			continue
		}
		t := sp.start
		if s.inWindow(t) && !s.inWindow(sp.end) {
			t = sp.end // checked by add
		}
		r.add(i, len(sp.b), t)
	}
	r.flush(len(spans))
	return nil
}

// appendResourceSpans appends a ResourceSpans message holding one
// ScopeSpans with spans, framed from their encodings, to b.
func appendResourceSpans(b, res []byte, hasRes bool, schema, scope []byte, hasScope bool, scopeSchema []byte, spans []rawSpan) []byte {
	inner := 0
	if hasScope {
		inner += framed(len(scope))
	}
	for _, sp := range spans {
		inner += framed(len(sp.b))
	}
	if len(scopeSchema) > 0 {
		inner += framed(len(scopeSchema))
	}
	size := framed(inner)
	if hasRes {
		size += framed(len(res))
	}
	if len(schema) > 0 {
		size += framed(len(schema))
	}
	if b == nil {
		b = make([]byte, 0, size)
	}
	if hasRes {
		b = appendField(b, fResource, res)
	}
	b = protowire.AppendTag(b, fScopeSpans, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(inner))
	if hasScope {
		b = appendField(b, fScope, scope)
	}
	for _, sp := range spans {
		b = appendField(b, fSpans, sp.b)
	}
	if len(scopeSchema) > 0 {
		b = appendField(b, fSchemaURL, scopeSchema)
	}
	if len(schema) > 0 {
		b = appendField(b, fSchemaURL, schema)
	}
	return b
}

func appendField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}
