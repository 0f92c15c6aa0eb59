package xrayotel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
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
	start := len(dst)
	out, err := t.appendDocument(dst, res, span, false)
	if err != nil {
		return dst, err
	}
	if len(out)-start <= MaxDocumentBytes {
		return out, nil
	}
	out, err = t.appendDocument(out[:start], res, span, true)
	if err != nil {
		return dst, err
	}
	if n := len(out) - start; n > MaxDocumentBytes {
		return out[:start], fmt.Errorf("%w: %d bytes without metadata and stacks", ErrTooLarge, n)
	}
	return out, nil
}

// IsSegment reports whether span becomes a segment (rather than a
// subsegment): it is a SERVER or CONSUMER span, or it has no parent.
func IsSegment(span *tracev1.Span) bool {
	switch span.GetKind() {
	case tracev1.Span_SPAN_KIND_SERVER, tracev1.Span_SPAN_KIND_CONSUMER:
		return true
	}
	return len(span.GetParentSpanId()) == 0 || allZero(span.GetParentSpanId())
}

// docState is what one document's rules share.
type docState struct {
	span    *tracev1.Span
	res     *resourcev1.Resource
	f       spanFacts
	rf      resourceFacts
	segment bool
	awsCall bool
	lean    bool
}

func (t *Translator) appendDocument(dst []byte, res *resourcev1.Resource, span *tracev1.Span, lean bool) ([]byte, error) {
	d := &docState{span: span, res: res, segment: IsSegment(span), lean: lean}
	d.f.gather(span.Attributes)
	d.rf.gather(res.GetAttributes())
	d.awsCall = d.f.peek(kRPCSystem) == "aws-api" || d.f.peek(kAWSService) != ""

	var err error
	dst = append(dst, `{"name":`...)
	dst = appendName(dst, t.name(d), "unknown")
	dst = append(dst, `,"id":"`...)
	if dst, err = AppendSpanID(dst, span.SpanId); err != nil {
		return dst, err
	}
	dst = append(dst, `","trace_id":"`...)
	if dst, err = AppendTraceID(dst, span.TraceId); err != nil {
		return dst, err
	}
	dst = append(dst, '"')
	if p := span.ParentSpanId; len(p) != 0 && !allZero(p) {
		if len(p) != 8 {
			return dst, fmt.Errorf("%w: %d bytes %x", ErrParentID, len(p), p)
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
	if span.GetStatus().GetCode() == tracev1.Status_STATUS_CODE_ERROR && !isErr && !fault {
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
	if exs := exceptions(span); len(exs) > 0 {
		dst = appendCause(dst, span.SpanId, exs, lean)
	}
	return append(dst, '}'), nil
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
	kind := d.span.GetKind()
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
	switch d.span.GetKind() {
	case tracev1.Span_SPAN_KIND_CLIENT, tracev1.Span_SPAN_KIND_PRODUCER:
		return "remote"
	}
	return ""
}

// httpBlock is the http block of a document.
type httpBlock struct {
	method, url, userAgent, clientIP string
	xff                              bool
	status, contentLength            int64
	hasStatus, hasLength             bool
}

func (d *docState) http() httpBlock {
	f := &d.f
	h := httpBlock{
		method:    f.str(kHTTPMethod, kHTTPMethodOld),
		url:       f.str(kURLFull, kHTTPURLOld),
		userAgent: f.str(kUserAgent, kUserAgentOld),
	}
	if h.url == "" && h.method != "" {
		h.url = d.buildURL()
	}
	if d.segment {
		if ip := f.str(kClientAddress); ip != "" {
			h.clientIP = ip
		} else if ip := f.str(kHTTPClientIPOld); ip != "" {
			h.clientIP, h.xff = ip, true
		} else {
			h.clientIP = f.str(kNetworkPeerAddress, kNetSockPeerAddrOld)
		}
	}
	h.status, h.hasStatus = f.int(kStatus, kStatusOld)
	h.contentLength, h.hasLength = f.int(kRespBodySize, kRespContentLengthOld)
	return h
}

// buildURL puts a server span's URL together from its parts when it has no
// url.full (current names) or http.url (old names).
func (d *docState) buildURL() string {
	f := &d.f
	path := f.peek(kURLPath)
	if path != "" {
		f.used[kURLPath] = true
		if q := f.str(kURLQuery); q != "" {
			path += "?" + q
		}
	} else if path = f.str(kHTTPTargetOld); path == "" {
		return ""
	}
	host := f.peek(kServerAddress, kHTTPHostOld, kNetHostNameOld)
	if host == "" {
		return path
	}
	if port := f.peek(kServerPort); port != "" && port != "80" && port != "443" && !strings.Contains(host, ":") {
		host += ":" + port
	}
	scheme := f.str(kURLScheme, kHTTPSchemeOld)
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + host + path
}

// flags derives error, throttle and fault from the HTTP status: 4xx is an
// error, 429 also a throttle, 5xx a fault.
func (h *httpBlock) flags() (isErr, throttle, fault bool) {
	if !h.hasStatus {
		return
	}
	switch s := h.status; {
	case s == 429:
		return true, true, false
	case s >= 400 && s < 500:
		return true, false, false
	case s >= 500 && s < 600:
		return false, false, true
	}
	return
}

func (h *httpBlock) append(dst []byte) []byte {
	hasReq := h.method != "" || h.url != "" || h.userAgent != "" || h.clientIP != ""
	hasResp := h.hasStatus || h.hasLength
	if !hasReq && !hasResp {
		return dst
	}
	dst = append(dst, `,"http":{`...)
	if hasReq {
		dst = append(dst, `"request":{`...)
		comma := false
		dst = appendField(dst, "method", h.method, maxHTTPFieldLength, &comma)
		dst = appendField(dst, "url", h.url, maxHTTPFieldLength, &comma)
		dst = appendField(dst, "user_agent", h.userAgent, maxHTTPFieldLength, &comma)
		dst = appendField(dst, "client_ip", h.clientIP, maxHTTPFieldLength, &comma)
		if h.xff {
			dst = append(dst, `,"x_forwarded_for":true`...)
		}
		dst = append(dst, '}')
	}
	if hasResp {
		if hasReq {
			dst = append(dst, ',')
		}
		dst = append(dst, `"response":{`...)
		if h.hasStatus {
			dst = append(dst, `"status":`...)
			dst = jsonenc.AppendInt(dst, h.status)
		}
		if h.hasLength {
			if h.hasStatus {
				dst = append(dst, ',')
			}
			dst = append(dst, `"content_length":`...)
			dst = jsonenc.AppendInt(dst, h.contentLength)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// sqsSystems are messaging.system values naming Amazon SQS.
func isSQS(system string) bool {
	return system == "aws_sqs" || system == "aws.sqs" || system == "AmazonSQS"
}

// appendAWS appends the aws block: the call's operation, region, request
// ID, table and queue for AWS SDK and SQS messaging spans, and for
// segments where the service runs.
func (d *docState) appendAWS(dst []byte) []byte {
	f := &d.f
	mark := len(dst)
	dst = append(dst, `,"aws":{`...)
	comma := false
	if d.awsCall || isSQS(f.peek(kMessagingSystem)) {
		dst = appendField(dst, "operation", f.str(kAWSOperation, kRPCMethod), 0, &comma)
		dst = appendField(dst, "region", f.str(kAWSRegion), 0, &comma)
		dst = appendField(dst, "request_id", f.str(kAWSRequestID, kAWSRequestIDOld), 0, &comma)
		dst = appendField(dst, "table_name", f.str(kAWSTableName, kAWSDynamoTables), 0, &comma)
		dst = appendField(dst, "queue_url", f.str(kAWSQueueURL, kAWSQueueURLDotted, kMessagingURLOld), 0, &comma)
	}
	if d.segment {
		dst = d.rf.appendEnvironment(dst, &comma)
	}
	if !comma {
		return dst[:mark]
	}
	return append(dst, '}')
}

// sqlSystems are the db.system values of SQL databases; other databases
// (DynamoDB, Redis, …) get no sql block.
var sqlSystems = map[string]bool{
	"mysql": true, "mariadb": true, "postgresql": true, "mssql": true, "microsoft.sql_server": true,
	"oracle": true, "oracle.db": true, "db2": true, "ibm.db2": true, "sqlite": true, "h2": true,
	"hsqldb": true, "derby": true, "cockroachdb": true, "redshift": true, "aws.redshift": true,
	"trino": true, "clickhouse": true, "spanner": true, "gcp.spanner": true, "other_sql": true,
}

// appendSQL appends the sql block for spans of a SQL database.
func (d *docState) appendSQL(dst []byte) []byte {
	f := &d.f
	system := f.peek(kDBSystemName, kDBSystem)
	if !sqlSystems[system] {
		return dst
	}
	f.str(kDBSystemName, kDBSystem)
	dst = append(dst, `,"sql":{"database_type":`...)
	dst = jsonenc.AppendString(dst, system)
	comma := true
	if conn := f.str(kDBConnectionOld); strings.Contains(conn, "://") {
		dst = appendField(dst, "url", stripUserinfo(conn), 0, &comma)
	} else {
		dst = appendField(dst, "connection_string", stripPassword(conn), 0, &comma)
	}
	dst = appendField(dst, "sanitized_query", f.str(kDBQueryText, kDBStatementOld), 0, &comma)
	dst = appendField(dst, "user", f.str(kDBUserOld), maxHTTPFieldLength, &comma)
	return append(dst, '}')
}

// stripUserinfo removes user:password@ from a connection URL, so a
// password never reaches X-Ray.
func stripUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndexByte(rest, '@')
	slash := strings.IndexByte(rest, '/')
	if at < 0 || (slash >= 0 && at > slash) {
		return s
	}
	return scheme + "://" + rest[at+1:]
}

// stripPassword removes Password= and Pwd= entries from a key=value;
// connection string (SQL Server, ODBC), as X-Ray asks.
func stripPassword(s string) string {
	if s == "" {
		return s
	}
	parts := strings.Split(s, ";")
	kept := parts[:0]
	for _, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "password", "pwd":
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, ";")
}

// appendAttributes appends annotations and metadata. An attribute a rule
// wrote into a block is not repeated, unless it is indexed.
func (t *Translator) appendAttributes(dst []byte, d *docState) []byte {
	span, f := d.span, &d.f
	extra := xrayAnnotationKeys(f)
	if extra != nil {
		f.used[kXRayAnnotations] = true
	}
	indexed := func(key string) bool {
		if t.indexAll {
			return true
		}
		if _, ok := t.indexed[key]; ok {
			return true
		}
		_, ok := extra[key]
		return ok
	}
	consumed := func(kv *commonv1.KeyValue) bool {
		k := spanKeys[kv.Key]
		return k != kNone && f.used[k]
	}

	// Annotations: at most MaxAnnotations, with distinct sanitised keys.
	var chosen [MaxAnnotations]int32
	var keys [MaxAnnotations]string
	n := 0
	mark := len(dst)
	dst = append(dst, `,"annotations":{`...)
	add := func(i int, key string, v *commonv1.AnyValue) {
		for j := 0; j < n; j++ {
			if sameAnnotationKey(keys[j], key) {
				return
			}
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = AppendAnnotationKey(dst, key)
		dst = append(dst, `":`...)
		dst = appendAnnotationValue(dst, v)
		chosen[n], keys[n] = int32(i), key
		n++
	}
	for i, kv := range span.Attributes {
		if n == MaxAnnotations {
			break
		}
		if kv == nil || kv.Key == "" || !annotatable(kv.Value) || !indexed(kv.Key) {
			continue
		}
		add(i, kv.Key, kv.Value)
	}
	if d.segment && !d.lean {
		for i, kv := range d.res.GetAttributes() {
			if n == MaxAnnotations {
				break
			}
			if kv == nil || kv.Key == "" || !annotatable(kv.Value) || !t.resourceIndexed(kv.Key) {
				continue
			}
			add(-1-i, resourceMetadataPrefix+kv.Key, kv.Value)
		}
	}
	if n == 0 {
		dst = dst[:mark]
	} else {
		dst = append(dst, '}')
	}
	if d.lean {
		return dst
	}

	// Metadata: everything else, in the "default" namespace, plus
	// aws.xray.metadata.<namespace> attributes that hold a JSON object.
	isAnnotation := func(i int) bool {
		for j := 0; j < n; j++ {
			if int(chosen[j]) == i {
				return true
			}
		}
		return false
	}
	mark = len(dst)
	dst = append(dst, `,"metadata":{"default":{`...)
	seen := make(map[string]struct{}, len(span.Attributes)+len(d.res.GetAttributes()))
	comma := false
	var namespaces []int
	for i, kv := range span.Attributes {
		if kv == nil || kv.Value == nil || consumed(kv) {
			continue
		}
		if isAnnotation(i) {
			continue
		}
		if ns, ok := strings.CutPrefix(kv.Key, metadataNamespacePrefix); ok && ns != "" && ns != "default" &&
			!strings.HasPrefix(ns, "AWS.") && jsonObject(kv.Value.GetStringValue()) {
			// Namespaces starting "AWS." are reserved for AWS's SDKs.
			namespaces = append(namespaces, i)
			continue
		}
		if _, dup := seen[jsonKey(kv.Key)]; dup {
			continue
		}
		seen[jsonKey(kv.Key)] = struct{}{}
		dst = jsonenc.AppendKey(dst, kv.Key, comma)
		comma = true
		dst = appendValue(dst, kv.Value, 0)
	}
	if d.segment {
		for i, kv := range d.res.GetAttributes() {
			if kv == nil || kv.Value == nil || isAnnotation(-1-i) {
				continue
			}
			key := resourceMetadataPrefix + kv.Key
			if _, dup := seen[jsonKey(key)]; dup {
				continue
			}
			seen[jsonKey(key)] = struct{}{}
			dst = jsonenc.AppendKey(dst, key, comma)
			comma = true
			dst = appendValue(dst, kv.Value, 0)
		}
	}
	dst = append(dst, '}')
	wrote := comma
	if !comma {
		// No default members: drop the empty "default" namespace.
		dst = dst[:len(dst)-len(`"default":{}`)]
	}
	for _, i := range namespaces {
		kv := span.Attributes[i]
		ns := kv.Key[len(metadataNamespacePrefix):]
		nsKey := "\x00" + jsonKey(ns) // namespaces apart from default's members
		if _, dup := seen[nsKey]; dup || jsonKey(ns) == "default" {
			continue
		}
		seen[nsKey] = struct{}{}
		dst = jsonenc.AppendKey(dst, ns, wrote)
		wrote = true
		dst = appendObjectJSON(dst, kv.Value.GetStringValue())
	}
	if !wrote {
		return dst[:mark]
	}
	return append(dst, '}')
}

// resourceIndexed reports whether resource attribute key is indexed, that
// is whether "otel.resource."+key is listed in IndexedAttributes.
func (t *Translator) resourceIndexed(key string) bool {
	_, ok := t.indexedResource[key]
	return ok
}

// xrayAnnotationKeys returns the keys listed in the span's
// aws.xray.annotations attribute, which asks for those attributes to be
// indexed.
func xrayAnnotationKeys(f *spanFacts) map[string]struct{} {
	vs := f.v[kXRayAnnotations].GetArrayValue().GetValues()
	if len(vs) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(vs))
	for _, v := range vs {
		if s := v.GetStringValue(); s != "" {
			m[s] = struct{}{}
		}
	}
	return m
}

func sameAnnotationKey(a, b string) bool {
	if len(a) > MaxAnnotationKeyLength {
		a = a[:MaxAnnotationKeyLength]
	}
	if len(b) > MaxAnnotationKeyLength {
		b = b[:MaxAnnotationKeyLength]
	}
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if annotationKeyByte(a[i]) != annotationKeyByte(b[i]) {
			return false
		}
	}
	return true
}

// jsonObject reports whether s is a JSON object in valid UTF-8.
func jsonObject(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) > 1 && s[0] == '{' && utf8.ValidString(s) && json.Valid([]byte(s))
}

// appendObjectJSON appends s, already checked by jsonObject, re-encoded so
// that a member given twice appears once (the last, as encoding/json
// decodes it) and members are in key order.
func appendObjectJSON(dst []byte, s string) []byte {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return append(dst, "{}"...)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return append(dst, "{}"...)
	}
	return append(dst, b...)
}

// jsonKey returns key as a JSON decoder reads it back from jsonenc's
// output: each invalid UTF-8 byte becomes U+FFFD. Two keys with the same
// jsonKey would be one member twice.
func jsonKey(key string) string {
	if utf8.ValidString(key) {
		return key
	}
	var b strings.Builder
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(key[i : i+size])
		}
		i += size
	}
	return b.String()
}
