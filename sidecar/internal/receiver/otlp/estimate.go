package otlp

import (
	"bytes"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// decodedMessageCost is the heap a decoded message costs beyond its wire
// bytes: the generated struct, its pointer in the parent's slice and that
// slice's growth. Measured with protobuf-go v1.36: a million empty
// attributes (2 MB of protobuf) decode into 125 MB, 125 bytes each.
const decodedMessageCost = 128

// protojson allocates more on the way (tokens, reflection): measured at
// about 150 bytes per message plus a fixed part.
const (
	jsonMessageCost = 192
	jsonFixedCost   = 64 << 10
)

// requestDescriptors are the export request schemas, by signal.
var requestDescriptors = [...]protoreflect.MessageDescriptor{
	sigTraces:  newRequest(sigTraces).ProtoReflect().Descriptor(),
	sigMetrics: newRequest(sigMetrics).ProtoReflect().Descriptor(),
	sigLogs:    newRequest(sigLogs).ProtoReflect().Descriptor(),
}

// estimateDecoded returns an upper estimate of the memory decoding body
// into a request of s takes, computed in one pass without allocating:
// the body's bytes (strings and bytes fields are copied) plus
// decodedMessageCost per message. Protobuf messages are counted exactly
// by walking the wire format along the schema (each byte is visited once:
// a sub-message is skipped at its parent's level and walked at its own);
// for JSON every '{' is counted as a message (strings may hold some, so
// this errs high), at JSON's higher cost. It is how the receiver holds a million tiny
// attributes, 62 times their wire size once decoded, within DecodeMemory.
// Malformed or too deeply nested protobuf is counted as far as it goes;
// decoding then refuses it.
func estimateDecoded(s signal, enc encoding, body []byte, depth int) int64 {
	if enc == encJSON {
		return jsonFixedCost + 4*int64(len(body)) + jsonMessageCost*int64(bytes.Count(body, []byte{'{'}))
	}
	n, _ := countMessages(body, requestDescriptors[s], depth)
	return int64(len(body)) + decodedMessageCost*n
}

// countMessages counts b and the messages nested in it by md's schema,
// at most depth levels deep. ok is false when b is malformed or deeper.
func countMessages(b []byte, md protoreflect.MessageDescriptor, depth int) (n int64, ok bool) {
	n = 1
	if depth <= 0 {
		return n, false
	}
	fields := md.Fields()
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return n, false
		}
		b = b[l:]
		if typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return n, false
			}
			b = b[l:]
			if fd := fields.ByNumber(num); fd != nil && fd.Message() != nil {
				k, ok := countMessages(v, fd.Message(), depth-1)
				n += k
				if !ok {
					return n, false
				}
			}
			continue
		}
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			return n, false
		}
		b = b[l:]
	}
	return n, true
}
