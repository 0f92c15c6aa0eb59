package otlp

import (
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the OTLP trace protobuf messages this package writes
// (opentelemetry-proto, trace/v1, common/v1, resource/v1 and
// collector/trace/v1).
const (
	fRequestResourceSpans protowire.Number = 1

	fResourceSpansResource   protowire.Number = 1
	fResourceSpansScopeSpans protowire.Number = 2

	fResourceAttributes protowire.Number = 1

	fScopeSpansScope protowire.Number = 1
	fScopeSpansSpans protowire.Number = 2

	fScopeName    protowire.Number = 1
	fScopeVersion protowire.Number = 2

	fSpanTraceID      protowire.Number = 1
	fSpanSpanID       protowire.Number = 2
	fSpanParentSpanID protowire.Number = 4
	fSpanName         protowire.Number = 5
	fSpanKind         protowire.Number = 6
	fSpanStart        protowire.Number = 7
	fSpanEnd          protowire.Number = 8
	fSpanAttributes   protowire.Number = 9
	fSpanEvents       protowire.Number = 11
	fSpanStatus       protowire.Number = 15
	fSpanFlags        protowire.Number = 16

	fEventTime       protowire.Number = 1
	fEventName       protowire.Number = 2
	fEventAttributes protowire.Number = 3

	fStatusMessage protowire.Number = 2
	fStatusCode    protowire.Number = 3

	fKeyValueKey   protowire.Number = 1
	fKeyValueValue protowire.Number = 2

	fAnyString protowire.Number = 1
	fAnyBool   protowire.Number = 2
	fAnyInt    protowire.Number = 3
	fAnyDouble protowire.Number = 4
	fAnyArray  protowire.Number = 5
	fAnyKVList protowire.Number = 6

	fArrayValues  protowire.Number = 1
	fKVListValues protowire.Number = 1

	fPartialSuccess        protowire.Number = 1
	fPartialRejectedSpans  protowire.Number = 1
	fPartialSuccessMessage protowire.Number = 2
)

// Span kinds and status codes as OTLP numbers them.
const (
	kindInternal = 1
	kindServer   = 2
	kindClient   = 3

	statusError = 2

	// Span flags: the W3C sampled bit, and "whether the parent is remote
	// is known" with "the parent is remote".
	flagSampled     = 0x01
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// openLen appends the tag of a length-delimited field and a one-byte
// length placeholder, and returns where the field's contents start. Pass
// that to closeLen once the contents are written.
func openLen(b []byte, f protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, f, protowire.BytesType)
	b = append(b, 0)
	return b, len(b)
}

// closeLen writes the length of the field opened at start, moving the
// contents when the length needs more than the one byte reserved.
func closeLen(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	k := protowire.SizeVarint(uint64(n))
	for range k - 1 {
		b = append(b, 0)
	}
	copy(b[start-1+k:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

// appendString appends a string field, replacing each byte that is not
// part of valid UTF-8 with U+FFFD (protobuf strings must be UTF-8, and the
// X-Ray document path turns such bytes into U+FFFD the same way).
func appendString(b []byte, f protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, f, protowire.BytesType)
	if utf8.ValidString(s) {
		b = protowire.AppendVarint(b, uint64(len(s)))
		return append(b, s...)
	}
	b, start := openLenAfterTag(b)
	b = appendValidUTF8(b, s)
	return closeLen(b, start)
}

func openLenAfterTag(b []byte) ([]byte, int) {
	b = append(b, 0)
	return b, len(b)
}

// appendValidUTF8 appends s with each invalid byte replaced by U+FFFD.
func appendValidUTF8(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// appendBytes appends a bytes (or known-valid string) field.
func appendBytes(b []byte, f protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, f, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarintField(b []byte, f protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, f, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed64Field(b []byte, f protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, f, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// Attribute values. Each append* writes a whole KeyValue (field f of the
// enclosing message) with the value in the named AnyValue case.

func appendStringAttr(b []byte, f protowire.Number, key, v string) []byte {
	if utf8.ValidString(key) && utf8.ValidString(v) {
		// Sizes known up front: no length to patch afterwards.
		val := 1 + protowire.SizeVarint(uint64(len(v))) + len(v)
		kvLen := 1 + protowire.SizeVarint(uint64(len(key))) + len(key) + 1 + protowire.SizeVarint(uint64(val)) + val
		b = protowire.AppendTag(b, f, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(kvLen))
		b = append(b, tagKeyValueKey)
		b = protowire.AppendVarint(b, uint64(len(key)))
		b = append(b, key...)
		b = append(b, tagKeyValueValue)
		b = protowire.AppendVarint(b, uint64(val))
		b = append(b, tagAnyString)
		b = protowire.AppendVarint(b, uint64(len(v)))
		return append(b, v...)
	}
	b, kv := openLen(b, f)
	b = appendString(b, fKeyValueKey, key)
	b, av := openLen(b, fKeyValueValue)
	b = appendString(b, fAnyString, v)
	b = closeLen(b, av)
	return closeLen(b, kv)
}

// appendNumberAttr writes a number the way a JSON number read back from an
// X-Ray document becomes an attribute: an integer when it is whole and
// within ±2^53, a double otherwise.
func appendNumberAttr(b []byte, f protowire.Number, key string, v float64) []byte {
	b, kv := openLen(b, f)
	b = appendString(b, fKeyValueKey, key)
	b, av := openLen(b, fKeyValueValue)
	b = appendNumber(b, v)
	b = closeLen(b, av)
	return closeLen(b, kv)
}

func appendNumber(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
		return appendVarintField(b, fAnyInt, uint64(int64(v)))
	}
	return appendFixed64Field(b, fAnyDouble, math.Float64bits(v))
}

func appendBoolAttr(b []byte, f protowire.Number, key string, v bool) []byte {
	b, kv := openLen(b, f)
	b = appendString(b, fKeyValueKey, key)
	b, av := openLen(b, fKeyValueValue)
	b = appendVarintField(b, fAnyBool, protowire.EncodeBool(v))
	b = closeLen(b, av)
	return closeLen(b, kv)
}

// One-byte tags of the length-delimited fields appendStringAttr writes.
var (
	tagKeyValueKey   = byte(protowire.EncodeTag(fKeyValueKey, protowire.BytesType))
	tagKeyValueValue = byte(protowire.EncodeTag(fKeyValueValue, protowire.BytesType))
	tagAnyString     = byte(protowire.EncodeTag(fAnyString, protowire.BytesType))
)
