package xrayotel

import (
	"encoding/base64"
	"math"
	"strconv"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
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

// keyNames is spanKeys the other way round.
var keyNames = func() (names [kCount]string) {
	for name, k := range spanKeys {
		names[k] = name
	}
	return names
}()

// spanFacts holds the attributes the rules read, found in one pass over a
// span's attributes, and which of them a rule wrote into a block (those
// are not repeated as metadata).
type spanFacts struct {
	v    [kCount]otlpspans.Value
	used [kCount]bool
}

func (f *spanFacts) gather(attrs []otlpspans.KeyValue) {
	for i := range attrs {
		kv := &attrs[i]
		if kv.Value.Kind() == otlpspans.KindNone {
			continue
		}
		if k := spanKeys[kv.Key]; k != kNone && f.v[k].Kind() == otlpspans.KindNone {
			f.v[k] = kv.Value
		}
	}
}

// str returns the first of keys that holds a non-empty value, as text, and
// marks it used.
func (f *spanFacts) str(keys ...key) string {
	for _, k := range keys {
		if s := valueString(&f.v[k]); s != "" {
			f.used[k] = true
			return s
		}
	}
	return ""
}

// peek is str without marking the attribute used.
func (f *spanFacts) peek(keys ...key) string {
	for _, k := range keys {
		if s := valueString(&f.v[k]); s != "" {
			return s
		}
	}
	return ""
}

// int returns the first of keys that holds an integer (or text that is
// one) and marks it used.
func (f *spanFacts) int(keys ...key) (int64, bool) {
	for _, k := range keys {
		if n, ok := valueInt(&f.v[k]); ok {
			f.used[k] = true
			return n, true
		}
	}
	return 0, false
}

func valueString(v *otlpspans.Value) string {
	switch v.Kind() {
	case otlpspans.KindString:
		return v.Str()
	case otlpspans.KindInt:
		return strconv.FormatInt(v.Int(), 10)
	case otlpspans.KindBool:
		return strconv.FormatBool(v.Bool())
	case otlpspans.KindDouble:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case otlpspans.KindArray:
		// A one-element list, such as aws.dynamodb.table_names.
		if vs := v.Array(); len(vs) == 1 && vs[0].Value.Kind() == otlpspans.KindString {
			return vs[0].Value.Str()
		}
	}
	return ""
}

func valueInt(v *otlpspans.Value) (int64, bool) {
	switch v.Kind() {
	case otlpspans.KindInt:
		return v.Int(), true
	case otlpspans.KindDouble:
		if d := v.Double(); d == math.Trunc(d) && math.Abs(d) < 1<<53 {
			return int64(d), true
		}
	case otlpspans.KindString:
		n, err := strconv.ParseInt(v.Str(), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// annotatable reports whether v can be an annotation value: a string,
// bool, integer or finite number.
func annotatable(v otlpspans.Value) bool {
	switch v.Kind() {
	case otlpspans.KindString, otlpspans.KindBool, otlpspans.KindInt:
		return true
	case otlpspans.KindDouble:
		return !math.IsNaN(v.Double()) && !math.IsInf(v.Double(), 0)
	}
	return false
}

// appendAnnotationValue appends an annotatable value, cutting strings to
// MaxAnnotationValueLength characters.
func appendAnnotationValue(dst []byte, v otlpspans.Value) []byte {
	switch v.Kind() {
	case otlpspans.KindString:
		return jsonenc.AppendString(dst, jsonenc.CutRunes(v.Str(), MaxAnnotationValueLength))
	case otlpspans.KindBool:
		return jsonenc.AppendBool(dst, v.Bool())
	case otlpspans.KindInt:
		return jsonenc.AppendInt(dst, v.Int())
	case otlpspans.KindDouble:
		return jsonenc.AppendFloat(dst, v.Double())
	}
	return append(dst, "null"...)
}

// maxValueDepth bounds how deeply nested lists and maps are written;
// deeper values are written as null.
const maxValueDepth = 16

// appendValue appends any attribute value as JSON: lists as arrays, maps
// as objects, bytes as base64 text, and non-finite numbers as text (JSON
// has no NaN or infinity).
func appendValue(dst []byte, v otlpspans.Value, depth int) []byte {
	switch v.Kind() {
	case otlpspans.KindString:
		return jsonenc.AppendString(dst, v.Str())
	case otlpspans.KindBool:
		return jsonenc.AppendBool(dst, v.Bool())
	case otlpspans.KindInt:
		return jsonenc.AppendInt(dst, v.Int())
	case otlpspans.KindDouble:
		if d := v.Double(); math.IsNaN(d) || math.IsInf(d, 0) {
			return jsonenc.AppendString(dst, strconv.FormatFloat(d, 'g', -1, 64))
		}
		return jsonenc.AppendFloat(dst, v.Double())
	case otlpspans.KindBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, []byte(v.BytesValue()))
		return append(dst, '"')
	case otlpspans.KindArray:
		if depth >= maxValueDepth {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, e := range v.Array() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e.Value, depth+1)
		}
		return append(dst, ']')
	case otlpspans.KindMap:
		if depth >= maxValueDepth {
			return append(dst, "null"...)
		}
		return appendKVObject(dst, v.List(), depth+1)
	}
	return append(dst, "null"...)
}

// appendKVObject appends key-value pairs as a JSON object. A key that
// repeats keeps its first value, so the object has no duplicate members.
func appendKVObject(dst []byte, kvs []otlpspans.KeyValue, depth int) []byte {
	dst = append(dst, '{')
	var seen *keySet
	if len(kvs) > 1 {
		seen = getKeySet(len(kvs))
		defer putKeySet(seen)
	}
	comma := false
	for i := range kvs {
		kv := &kvs[i]
		if seen != nil && !seen.add(objectKey, jsonKey(kv.Key)) {
			continue
		}
		dst = jsonenc.AppendKey(dst, kv.Key, comma)
		comma = true
		dst = appendValue(dst, kv.Value, depth)
	}
	return append(dst, '}')
}
