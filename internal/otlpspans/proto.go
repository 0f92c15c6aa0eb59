package otlpspans

import (
	"math"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

// AddResource appends res (which may be nil) to b and returns its index,
// for AddSpan.
func (b *Batch) AddResource(res *resourcev1.Resource) int32 {
	r := Resource{Present: res != nil}
	r.Attrs = b.addAttributes(res.GetAttributes())
	b.Resources = append(b.Resources, r)
	return int32(len(b.Resources) - 1)
}

// AddSpan appends span, recorded by the resource AddResource returned
// res for, to b: the same Span Decode gives for its protobuf encoding.
// The Batch shares span's strings and bytes.
func (b *Batch) AddSpan(res int32, span *tracev1.Span) {
	sp := Span{
		TraceID: span.GetTraceId(), SpanID: span.GetSpanId(), ParentSpanID: span.GetParentSpanId(),
		Name: span.GetName(), Kind: int32(span.GetKind()),
		StartTimeUnixNano: span.GetStartTimeUnixNano(), EndTimeUnixNano: span.GetEndTimeUnixNano(),
		StatusCode: int32(span.GetStatus().GetCode()), StatusMessage: span.GetStatus().GetMessage(),
		Resource: res,
	}
	sp.Attrs = b.addAttributes(span.GetAttributes())
	evs := span.GetEvents()
	lo := len(b.events)
	b.events = extend(b.events, len(evs))
	for i, ev := range evs {
		b.events[lo+i] = Event{Name: ev.GetName(), TimeUnixNano: ev.GetTimeUnixNano(), Attrs: b.addAttributes(ev.GetAttributes())}
	}
	sp.Events = Range{lo: int32(lo), n: int32(len(evs))}
	b.Spans = append(b.Spans, sp)
}

// FromProto appends every span of the generated request's resource
// spans to b.
func (b *Batch) FromProto(rss []*tracev1.ResourceSpans) {
	for _, rs := range rss {
		if len(rs.GetScopeSpans()) == 0 {
			continue
		}
		ri := b.AddResource(rs.GetResource())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if sp != nil {
					b.AddSpan(ri, sp)
				}
			}
		}
	}
}

// addAttributes appends kvs (without nil entries, which have no encoding)
// and returns their range.
func (b *Batch) addAttributes(kvs []*commonv1.KeyValue) Range {
	n := 0
	for _, kv := range kvs {
		if kv != nil {
			n++
		}
	}
	lo := len(b.kvs)
	if lo+n > math.MaxInt32 {
		n = 0
	}
	b.kvs = extend(b.kvs, n)
	i := lo
	for _, kv := range kvs {
		if kv == nil || i == lo+n {
			continue
		}
		k := KeyValue{Key: kv.GetKey()}
		if kv.Value != nil {
			k.Value = b.value(kv.Value)
		}
		b.kvs[i] = k
		i++
	}
	return Range{lo: int32(lo), n: int32(n)}
}

func (b *Batch) value(v *commonv1.AnyValue) Value {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return Value{kind: KindString, str: x.StringValue}
	case *commonv1.AnyValue_BoolValue:
		var n uint64
		if x.BoolValue {
			n = 1
		}
		return Value{kind: KindBool, num: n}
	case *commonv1.AnyValue_IntValue:
		return Value{kind: KindInt, num: uint64(x.IntValue)}
	case *commonv1.AnyValue_DoubleValue:
		return Value{kind: KindDouble, num: math.Float64bits(x.DoubleValue)}
	case *commonv1.AnyValue_BytesValue:
		return Value{kind: KindBytes, str: string(x.BytesValue)}
	case *commonv1.AnyValue_ArrayValue:
		vals := x.ArrayValue.GetValues()
		lo := len(b.kvs)
		b.kvs = extend(b.kvs, len(vals))
		for i, e := range vals {
			ev := Value{kind: KindEmpty}
			if e != nil {
				ev = b.value(e)
			}
			b.kvs[lo+i] = KeyValue{Value: ev}
		}
		return Value{kind: KindArray, list: Range{lo: int32(lo), n: int32(len(vals))}, b: b}
	case *commonv1.AnyValue_KvlistValue:
		return Value{kind: KindMap, list: b.addAttributes(x.KvlistValue.GetValues()), b: b}
	}
	return Value{kind: KindEmpty}
}
