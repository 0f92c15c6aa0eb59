// Package otlpspans holds OTLP trace spans decoded into a flat form: one
// reusable Batch per export request, whose spans, attributes and events
// live in a few slices of the Batch and whose strings and bytes point
// into the request's protobuf, so that decoding a request allocates
// nothing per span or attribute once the Batch has grown to its size.
//
// Decode reads an ExportTraceServiceRequest with protowire; FromProto
// builds the same form from the generated go.opentelemetry.io/proto/otlp
// types. Translators (internal/xrayotel) read this form only, whichever
// way a span arrived.
package otlpspans

import (
	"slices"
	"unsafe"
)

// Kind is the type of a Value.
type Kind uint8

// Kinds of Value. KindNone is an attribute without a value at all;
// KindEmpty an AnyValue with none of its fields set.
const (
	KindNone Kind = iota
	KindEmpty
	KindString
	KindBool
	KindInt
	KindDouble
	KindBytes
	KindArray
	KindMap
)

// Value is an attribute value (OTLP AnyValue).
type Value struct {
	kind Kind
	num  uint64 // bool (0/1), int64 or float64 bits
	str  string // string, or bytes as a string
	list Range  // array elements (keys empty) or map members
	b    *Batch // holds the list
}

// KeyValue is an attribute (OTLP KeyValue).
type KeyValue struct {
	Key   string
	Value Value
}

// Range is a run of a Batch's attributes, or of its events.
type Range struct{ lo, n int32 }

// Len is the number of items in r.
func (r Range) Len() int { return int(r.n) }

// Span is one span (OTLP Span) with the fields translators read. Its
// attributes and events are in its Batch (Batch.Attributes,
// Batch.Events).
type Span struct {
	TraceID, SpanID, ParentSpanID []byte
	Name                          string
	Kind                          int32 // OTLP Span.SpanKind
	StartTimeUnixNano             uint64
	EndTimeUnixNano               uint64
	StatusCode                    int32 // OTLP Status.StatusCode
	StatusMessage                 string
	Attrs, Events                 Range
	// Resource indexes Batch.Resources: the resource of the span.
	Resource int32
	// Raw is the span's protobuf encoding (nil from FromProto).
	Raw []byte
}

// Event is a span event (OTLP Span.Event).
type Event struct {
	Name         string
	TimeUnixNano uint64
	Attrs        Range
}

// Resource is the resource of a group of spans (OTLP Resource).
type Resource struct {
	Attrs Range
	// Present reports whether the request had a resource message at all.
	Present bool
	// Raw is the resource's protobuf encoding (nil from FromProto).
	Raw []byte
}

// Batch is the spans of one export request. The zero Batch is empty and
// ready; Reset empties it for reuse, keeping its memory.
type Batch struct {
	// Raw is the request Decode decoded last (nil from FromProto).
	Raw       []byte
	Spans     []Span
	Resources []Resource
	kvs       []KeyValue
	events    []Event
}

// Reset empties b, keeping its memory (and dropping its references into
// the last request's bytes).
func (b *Batch) Reset() {
	clear(b.Spans)
	clear(b.Resources)
	clear(b.kvs)
	clear(b.events)
	b.Raw = nil
	b.Spans, b.Resources, b.kvs, b.events = b.Spans[:0], b.Resources[:0], b.kvs[:0], b.events[:0]
}

// Attributes returns the attributes in r.
func (b *Batch) Attributes(r Range) []KeyValue { return b.kvs[r.lo : r.lo+r.n : r.lo+r.n] }

// Events returns the events in r.
func (b *Batch) Events(r Range) []Event { return b.events[r.lo : r.lo+r.n : r.lo+r.n] }

// ResourceOf returns the attributes of span's resource.
func (b *Batch) ResourceOf(sp *Span) []KeyValue {
	if sp.Resource < 0 || int(sp.Resource) >= len(b.Resources) {
		return nil
	}
	return b.Attributes(b.Resources[sp.Resource].Attrs)
}

// Bytes is the memory b holds, for budgets: its slices' capacity.
func (b *Batch) Bytes() int64 {
	return int64(cap(b.Spans))*int64(unsafe.Sizeof(Span{})) + int64(cap(b.Resources))*int64(unsafe.Sizeof(Resource{})) +
		int64(cap(b.kvs))*int64(unsafe.Sizeof(KeyValue{})) + int64(cap(b.events))*int64(unsafe.Sizeof(Event{}))
}

// Kind returns v's kind.
func (v Value) Kind() Kind { return v.kind }

// Str returns a string value, or "" for other kinds.
func (v Value) Str() string {
	if v.kind == KindString {
		return v.str
	}
	return ""
}

// Bool returns a bool value.
func (v Value) Bool() bool { return v.kind == KindBool && v.num != 0 }

// Int returns an int value.
func (v Value) Int() int64 {
	if v.kind == KindInt {
		return int64(v.num)
	}
	return 0
}

// Double returns a double value.
func (v Value) Double() float64 {
	if v.kind == KindDouble {
		return float64frombits(v.num)
	}
	return 0
}

// BytesValue returns a bytes value (as a string, not to be modified).
func (v Value) BytesValue() string {
	if v.kind == KindBytes {
		return v.str
	}
	return ""
}

// List returns an array's elements (with empty keys) or a map's members,
// nil for other kinds.
func (v Value) List() []KeyValue {
	if (v.kind != KindArray && v.kind != KindMap) || v.b == nil {
		return nil
	}
	return v.b.Attributes(v.list)
}

// Array returns an array's elements, nil for other kinds.
func (v Value) Array() []KeyValue {
	if v.kind != KindArray {
		return nil
	}
	return v.List()
}

// extend returns s with n zero items appended, allocating only when s
// has no room (append(s, make([]T, n)...) does the same, but not under
// the race detector).
func extend[T any](s []T, n int) []T {
	s = slices.Grow(s, n)
	s = s[:len(s)+n]
	clear(s[len(s)-n:])
	return s
}

// aliasString returns b as a string sharing its bytes.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
