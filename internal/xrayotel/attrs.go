package xrayotel

import (
	"encoding/base64"
	"math"
	"strconv"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// key names one span attribute that a rule reads. Where the semantic
// conventions renamed an attribute, both names have a key; the rules
// prefer the current name.
type key uint8

const (
	kNone key = iota
	kHTTPMethod
	kHTTPMethodOld
	kURLFull
	kHTTPURLOld
	kURLScheme
	kHTTPSchemeOld
	kURLPath
	kURLQuery
	kHTTPTargetOld
	kServerAddress
	kServerPort
	kHTTPHostOld
	kNetHostNameOld
	kNetPeerNameOld
	kStatus
	kStatusOld
	kUserAgent
	kUserAgentOld
	kClientAddress
	kHTTPClientIPOld
	kNetworkPeerAddress
	kNetSockPeerAddrOld
	kRespBodySize
	kRespContentLengthOld
	kPeerService
	kRPCSystem
	kRPCService
	kRPCMethod
	kAWSService
	kAWSOperation
	kAWSRegion
	kAWSRequestID
	kAWSRequestIDOld
	kAWSTableName
	kAWSDynamoTables
	kAWSQueueURL
	kAWSQueueURLDotted
	kMessagingURLOld
	kMessagingSystem
	kDBSystem
	kDBSystemName
	kDBNamespace
	kDBNameOld
	kDBQueryText
	kDBStatementOld
	kDBConnectionOld
	kDBUserOld
	kEndUserID
	kXRayAnnotations
	kCount
)

var spanKeys = map[string]key{
	"http.request.method":          kHTTPMethod,
	"http.method":                  kHTTPMethodOld,
	"url.full":                     kURLFull,
	"http.url":                     kHTTPURLOld,
	"url.scheme":                   kURLScheme,
	"http.scheme":                  kHTTPSchemeOld,
	"url.path":                     kURLPath,
	"url.query":                    kURLQuery,
	"http.target":                  kHTTPTargetOld,
	"server.address":               kServerAddress,
	"server.port":                  kServerPort,
	"http.host":                    kHTTPHostOld,
	"net.host.name":                kNetHostNameOld,
	"net.peer.name":                kNetPeerNameOld,
	"http.response.status_code":    kStatus,
	"http.status_code":             kStatusOld,
	"user_agent.original":          kUserAgent,
	"http.user_agent":              kUserAgentOld,
	"client.address":               kClientAddress,
	"http.client_ip":               kHTTPClientIPOld,
	"network.peer.address":         kNetworkPeerAddress,
	"net.sock.peer.addr":           kNetSockPeerAddrOld,
	"http.response.body.size":      kRespBodySize,
	"http.response_content_length": kRespContentLengthOld,
	"peer.service":                 kPeerService,
	"rpc.system":                   kRPCSystem,
	"rpc.service":                  kRPCService,
	"rpc.method":                   kRPCMethod,
	"aws.service":                  kAWSService,
	"aws.operation":                kAWSOperation,
	"aws.region":                   kAWSRegion,
	"aws.request_id":               kAWSRequestID,
	"aws.requestId":                kAWSRequestIDOld,
	"aws.table_name":               kAWSTableName,
	"aws.dynamodb.table_names":     kAWSDynamoTables,
	"aws.queue_url":                kAWSQueueURL,
	"aws.queue.url":                kAWSQueueURLDotted,
	"messaging.url":                kMessagingURLOld,
	"messaging.system":             kMessagingSystem,
	"db.system":                    kDBSystem,
	"db.system.name":               kDBSystemName,
	"db.namespace":                 kDBNamespace,
	"db.name":                      kDBNameOld,
	"db.query.text":                kDBQueryText,
	"db.statement":                 kDBStatementOld,
	"db.connection_string":         kDBConnectionOld,
	"db.user":                      kDBUserOld,
	"enduser.id":                   kEndUserID,
	"aws.xray.annotations":         kXRayAnnotations,
}

// spanFacts holds the attributes the rules read, found in one pass over a
// span's attributes, and which of them a rule wrote into a block (those
// are not repeated as metadata).
type spanFacts struct {
	v    [kCount]*commonv1.AnyValue
	used [kCount]bool
}

func (f *spanFacts) gather(attrs []*commonv1.KeyValue) {
	for _, kv := range attrs {
		if kv == nil || kv.Value == nil {
			continue
		}
		if k := spanKeys[kv.Key]; k != kNone && f.v[k] == nil {
			f.v[k] = kv.Value
		}
	}
}

// str returns the first of keys that holds a non-empty value, as text, and
// marks it used.
func (f *spanFacts) str(keys ...key) string {
	for _, k := range keys {
		if s := valueString(f.v[k]); s != "" {
			f.used[k] = true
			return s
		}
	}
	return ""
}

// peek is str without marking the attribute used.
func (f *spanFacts) peek(keys ...key) string {
	for _, k := range keys {
		if s := valueString(f.v[k]); s != "" {
			return s
		}
	}
	return ""
}

// int returns the first of keys that holds an integer (or text that is
// one) and marks it used.
func (f *spanFacts) int(keys ...key) (int64, bool) {
	for _, k := range keys {
		if n, ok := valueInt(f.v[k]); ok {
			f.used[k] = true
			return n, true
		}
	}
	return 0, false
}

func valueString(v *commonv1.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return x.StringValue
	case *commonv1.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonv1.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonv1.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonv1.AnyValue_ArrayValue:
		// A one-element list, such as aws.dynamodb.table_names.
		if vs := x.ArrayValue.GetValues(); len(vs) == 1 {
			if s, ok := vs[0].GetValue().(*commonv1.AnyValue_StringValue); ok {
				return s.StringValue
			}
		}
	}
	return ""
}

func valueInt(v *commonv1.AnyValue) (int64, bool) {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_IntValue:
		return x.IntValue, true
	case *commonv1.AnyValue_DoubleValue:
		if x.DoubleValue == math.Trunc(x.DoubleValue) && math.Abs(x.DoubleValue) < 1<<53 {
			return int64(x.DoubleValue), true
		}
	case *commonv1.AnyValue_StringValue:
		n, err := strconv.ParseInt(x.StringValue, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// annotatable reports whether v can be an annotation value: a string,
// bool, integer or finite number.
func annotatable(v *commonv1.AnyValue) bool {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue, *commonv1.AnyValue_BoolValue, *commonv1.AnyValue_IntValue:
		return true
	case *commonv1.AnyValue_DoubleValue:
		return !math.IsNaN(x.DoubleValue) && !math.IsInf(x.DoubleValue, 0)
	}
	return false
}

// appendAnnotationValue appends an annotatable value, cutting strings to
// MaxAnnotationValueLength characters.
func appendAnnotationValue(dst []byte, v *commonv1.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return jsonenc.AppendString(dst, jsonenc.CutRunes(x.StringValue, MaxAnnotationValueLength))
	case *commonv1.AnyValue_BoolValue:
		return jsonenc.AppendBool(dst, x.BoolValue)
	case *commonv1.AnyValue_IntValue:
		return jsonenc.AppendInt(dst, x.IntValue)
	case *commonv1.AnyValue_DoubleValue:
		return jsonenc.AppendFloat(dst, x.DoubleValue)
	}
	return append(dst, "null"...)
}

// maxValueDepth bounds how deeply nested lists and maps are written;
// deeper values are written as null.
const maxValueDepth = 16

// appendValue appends any attribute value as JSON: lists as arrays, maps
// as objects, bytes as base64 text, and non-finite numbers as text (JSON
// has no NaN or infinity).
func appendValue(dst []byte, v *commonv1.AnyValue, depth int) []byte {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return jsonenc.AppendString(dst, x.StringValue)
	case *commonv1.AnyValue_BoolValue:
		return jsonenc.AppendBool(dst, x.BoolValue)
	case *commonv1.AnyValue_IntValue:
		return jsonenc.AppendInt(dst, x.IntValue)
	case *commonv1.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return jsonenc.AppendString(dst, strconv.FormatFloat(x.DoubleValue, 'g', -1, 64))
		}
		return jsonenc.AppendFloat(dst, x.DoubleValue)
	case *commonv1.AnyValue_BytesValue:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, x.BytesValue)
		return append(dst, '"')
	case *commonv1.AnyValue_ArrayValue:
		if depth >= maxValueDepth {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e, depth+1)
		}
		return append(dst, ']')
	case *commonv1.AnyValue_KvlistValue:
		if depth >= maxValueDepth {
			return append(dst, "null"...)
		}
		return appendKVObject(dst, x.KvlistValue.GetValues(), depth+1)
	}
	return append(dst, "null"...)
}

// appendKVObject appends key-value pairs as a JSON object. A key that
// repeats keeps its first value, so the object has no duplicate members.
func appendKVObject(dst []byte, kvs []*commonv1.KeyValue, depth int) []byte {
	dst = append(dst, '{')
	var seen map[string]struct{}
	if len(kvs) > 1 {
		seen = make(map[string]struct{}, len(kvs))
	}
	comma := false
	for _, kv := range kvs {
		if kv == nil {
			continue
		}
		if seen != nil {
			k := jsonKey(kv.Key)
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
		}
		dst = jsonenc.AppendKey(dst, kv.Key, comma)
		comma = true
		dst = appendValue(dst, kv.Value, depth)
	}
	return append(dst, '}')
}
