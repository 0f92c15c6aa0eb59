package xray

import (
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/xraykey"
)

// Limits X-Ray places on what a document may hold.
const (
	MaxNameLength            = 200
	MaxAnnotationKeyLength   = xraykey.MaxLength
	MaxAnnotationValueLength = 1000

	// maxHTTPFieldLength bounds the http request fields and user.
	maxHTTPFieldLength = 250
)

// AppendDocument appends s as an X-Ray segment document. Names are trimmed
// to the characters and length X-Ray accepts, annotation keys are rewritten
// to [A-Za-z0-9_], and annotations or metadata that share a key keep the
// last value. An independent subsegment carries "type", "trace_id" and
// "parent_id"; embedded subsegments carry neither.
func AppendDocument(dst []byte, s *Segment) []byte {
	return appendSegment(dst, s, true)
}

func appendSegment(dst []byte, s *Segment, top bool) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendName(dst, s.Name)
	dst = append(dst, `,"id":"`...)
	dst = AppendSpanID(dst, s.ID)
	dst = append(dst, '"')
	if top {
		dst = append(dst, `,"trace_id":"`...)
		dst = AppendTraceID(dst, s.TraceID)
		dst = append(dst, '"')
		if s.ParentID.IsValid() {
			dst = append(dst, `,"parent_id":"`...)
			dst = AppendSpanID(dst, s.ParentID)
			dst = append(dst, '"')
		}
		if s.Independent {
			dst = append(dst, `,"type":"subsegment"`...)
		}
	}
	dst = append(dst, `,"start_time":`...)
	dst = jsonenc.AppendSeconds(dst, s.Start.UnixMicro())
	if s.End.IsZero() {
		dst = append(dst, `,"in_progress":true`...)
	} else {
		end := s.End.UnixMicro()
		if start := s.Start.UnixMicro(); end < start {
			end = start
		}
		dst = append(dst, `,"end_time":`...)
		dst = jsonenc.AppendSeconds(dst, end)
	}
	if s.Namespace != "" {
		dst = append(dst, `,"namespace":`...)
		dst = jsonenc.AppendString(dst, s.Namespace)
	}
	if s.Error {
		dst = append(dst, `,"error":true`...)
	}
	if s.Throttle {
		dst = append(dst, `,"throttle":true`...)
	}
	if s.Fault {
		dst = append(dst, `,"fault":true`...)
	}
	if s.Origin != "" && top && !s.Independent {
		dst = append(dst, `,"origin":`...)
		dst = jsonenc.AppendString(dst, s.Origin)
	}
	if s.ServiceVersion != "" && top && !s.Independent {
		dst = append(dst, `,"service":{"version":`...)
		dst = jsonenc.AppendString(dst, jsonenc.CutRunes(s.ServiceVersion, maxHTTPFieldLength))
		dst = append(dst, '}')
	}
	if s.User != "" {
		dst = append(dst, `,"user":`...)
		dst = jsonenc.AppendString(dst, jsonenc.CutRunes(s.User, maxHTTPFieldLength))
	}
	if s.ResourceARN != "" {
		dst = append(dst, `,"resource_arn":`...)
		dst = jsonenc.AppendString(dst, s.ResourceARN)
	}
	dst = appendHTTP(dst, &s.HTTP)
	if !s.AWS.empty() {
		dst = appendAWS(dst, &s.AWS)
	}
	if len(s.Annotations) > 0 {
		dst = appendAnnotations(dst, s.Annotations)
	}
	if len(s.Metadata) > 0 {
		dst = appendMetadata(dst, s.Metadata)
	}
	if s.Cause != nil && len(s.Cause.Exceptions) > 0 {
		dst = appendCause(dst, s.Cause)
	}
	if len(s.Subsegments) > 0 {
		dst = append(dst, `,"subsegments":[`...)
		for i, sub := range s.Subsegments {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendSegment(dst, sub, false)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendHTTP(dst []byte, h *HTTP) []byte {
	hasReq := h.Method != "" || h.URL != "" || h.UserAgent != "" || h.ClientIP != "" || h.Traced
	hasResp := h.Status != 0
	if !hasReq && !hasResp {
		return dst
	}
	dst = append(dst, `,"http":{`...)
	if hasReq {
		dst = append(dst, `"request":{`...)
		comma := false
		dst, comma = appendHTTPField(dst, comma, `"method":`, h.Method)
		dst, comma = appendHTTPField(dst, comma, `"url":`, h.URL)
		dst, comma = appendHTTPField(dst, comma, `"user_agent":`, h.UserAgent)
		dst, comma = appendHTTPField(dst, comma, `"client_ip":`, h.ClientIP)
		if h.XForwardedFor {
			if comma {
				dst = append(dst, ',')
			}
			dst = append(dst, `"x_forwarded_for":true`...)
			comma = true
		}
		if h.Traced {
			if comma {
				dst = append(dst, ',')
			}
			dst = append(dst, `"traced":true`...)
		}
		dst = append(dst, '}')
	}
	if hasResp {
		if hasReq {
			dst = append(dst, ',')
		}
		dst = append(dst, `"response":{"status":`...)
		dst = appendInt(dst, int64(h.Status))
		if h.ContentLength >= 0 {
			dst = append(dst, `,"content_length":`...)
			dst = appendInt(dst, h.ContentLength)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendHTTPField appends key (a quoted key and its colon, written as a
// constant) and v cut to the http field limit, unless v is empty.
func appendHTTPField(dst []byte, comma bool, key, v string) ([]byte, bool) {
	if v == "" {
		return dst, comma
	}
	if comma {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	dst = jsonenc.AppendString(dst, jsonenc.CutRunes(v, maxHTTPFieldLength))
	return dst, true
}

// appendInt appends v in decimal; status codes and small lengths, the
// common case, take no trip through strconv.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 && v < 1000 {
		switch {
		case v < 10:
			return append(dst, byte('0'+v))
		case v < 100:
			return append(dst, byte('0'+v/10), byte('0'+v%10))
		default:
			return append(dst, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
		}
	}
	return strconv.AppendInt(dst, v, 10)
}

func appendAWS(dst []byte, a *AWS) []byte {
	dst = append(dst, `,"aws":{`...)
	comma := false
	field := func(key, v string) {
		if v == "" {
			return
		}
		dst = jsonenc.AppendKey(dst, key, comma)
		dst = jsonenc.AppendString(dst, v)
		comma = true
	}
	field("operation", a.Operation)
	field("region", a.Region)
	field("request_id", a.RequestID)
	field("table_name", a.TableName)
	field("queue_url", a.QueueURL)
	if a.Retries > 0 {
		dst = jsonenc.AppendKey(dst, "retries", comma)
		dst = strconv.AppendInt(dst, int64(a.Retries), 10)
		comma = true
	}
	if len(a.Environment) > 0 {
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, a.Environment...)
	}
	return append(dst, '}')
}

func appendAnnotations(dst []byte, anns []Annotation) []byte {
	dst = append(dst, `,"annotations":{`...)
	comma := false
	for i := range anns {
		a := &anns[i]
		if a.Key == "" || annotationShadowed(anns, i) {
			continue
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, '"')
		dst = xraykey.Append(dst, a.Key)
		dst = append(dst, `":`...)
		switch a.Kind {
		case NumberAnnotation:
			if math.IsNaN(a.Number) || math.IsInf(a.Number, 0) {
				// JSON has no such numbers; keep the value as text.
				dst = jsonenc.AppendString(dst, strconv.FormatFloat(a.Number, 'g', -1, 64))
			} else {
				dst = jsonenc.AppendFloat(dst, a.Number)
			}
		case BoolAnnotation:
			dst = jsonenc.AppendBool(dst, a.Bool)
		default:
			dst = jsonenc.AppendString(dst, jsonenc.CutRunes(a.String, MaxAnnotationValueLength))
		}
	}
	return append(dst, '}')
}

// annotationShadowed reports whether a later annotation writes the same key.
func annotationShadowed(anns []Annotation, i int) bool {
	for j := i + 1; j < len(anns); j++ {
		if xraykey.Same(anns[i].Key, anns[j].Key) {
			return true
		}
	}
	return false
}

func appendMetadata(dst []byte, meta []Metadata) []byte {
	dst = append(dst, `,"metadata":{`...)
	firstNS := true
	for i := range meta {
		ns := metadataNamespace(&meta[i])
		if namespaceSeenBefore(meta, i, ns) {
			continue
		}
		if !firstNS {
			dst = append(dst, ',')
		}
		firstNS = false
		dst = jsonenc.AppendString(dst, ns)
		dst = append(dst, ":{"...)
		first := true
		for j := i; j < len(meta); j++ {
			m := &meta[j]
			if metadataNamespace(m) != ns || metadataShadowed(meta, j) {
				continue
			}
			dst = jsonenc.AppendKey(dst, m.Key, !first)
			first = false
			if len(m.JSON) == 0 {
				dst = append(dst, "null"...)
			} else {
				dst = append(dst, m.JSON...)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func metadataNamespace(m *Metadata) string {
	if m.Namespace == "" {
		return "default"
	}
	return m.Namespace
}

func namespaceSeenBefore(meta []Metadata, i int, ns string) bool {
	for j := 0; j < i; j++ {
		if metadataNamespace(&meta[j]) == ns {
			return true
		}
	}
	return false
}

func metadataShadowed(meta []Metadata, i int) bool {
	ns := metadataNamespace(&meta[i])
	for j := i + 1; j < len(meta); j++ {
		if meta[j].Key == meta[i].Key && metadataNamespace(&meta[j]) == ns {
			return true
		}
	}
	return false
}

func appendCause(dst []byte, c *Cause) []byte {
	dst = append(dst, `,"cause":{`...)
	if c.WorkingDirectory != "" {
		dst = append(dst, `"working_directory":`...)
		dst = jsonenc.AppendString(dst, c.WorkingDirectory)
		dst = append(dst, ',')
	}
	dst = append(dst, `"exceptions":[`...)
	for i := range c.Exceptions {
		e := &c.Exceptions[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		id := e.ID
		if !id.IsValid() {
			id = NewSpanID()
		}
		dst = append(dst, `{"id":"`...)
		dst = AppendSpanID(dst, id)
		dst = append(dst, '"')
		if e.Type != "" {
			dst = append(dst, `,"type":`...)
			dst = jsonenc.AppendString(dst, e.Type)
		}
		if e.Message != "" {
			dst = append(dst, `,"message":`...)
			dst = jsonenc.AppendString(dst, e.Message)
		}
		if e.Remote {
			dst = append(dst, `,"remote":true`...)
		}
		if e.Truncated > 0 {
			dst = append(dst, `,"truncated":`...)
			dst = strconv.AppendInt(dst, int64(e.Truncated), 10)
		}
		if len(e.Stack) > 0 {
			dst = append(dst, `,"stack":[`...)
			for j := range e.Stack {
				f := &e.Stack[j]
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"path":`...)
				dst = jsonenc.AppendString(dst, f.Path)
				dst = append(dst, `,"line":`...)
				dst = strconv.AppendInt(dst, int64(f.Line), 10)
				dst = append(dst, `,"label":`...)
				dst = jsonenc.AppendString(dst, f.Label)
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendName appends name as a JSON string holding only the characters
// X-Ray accepts in names (letters, numbers, spaces and _.:/%&#=+-@), cut to
// 200 characters. An empty result is written as "unknown".
func appendName(dst []byte, name string) []byte {
	if validName(name) {
		return jsonenc.AppendString(dst, name)
	}
	dst = append(dst, '"')
	start := len(dst)
	n := 0
	for _, r := range name {
		if n == MaxNameLength {
			break
		}
		if !nameRune(r) {
			continue
		}
		dst = utf8.AppendRune(dst, r)
		n++
	}
	if len(dst) == start {
		dst = append(dst, "unknown"...)
	}
	return append(dst, '"')
}

// SanitizeName returns name as it will be written in a document.
func SanitizeName(name string) string {
	if validName(name) {
		return name
	}
	var buf []byte
	buf = appendName(buf, name)
	// appendName escapes nothing: every character it keeps is plain in JSON.
	return string(buf[1 : len(buf)-1])
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			return validNameSlow(name)
		}
		if !asciiNameByte(c) {
			return false
		}
		n++
	}
	return n <= MaxNameLength
}

func validNameSlow(name string) bool {
	n := 0
	for _, r := range name {
		if !nameRune(r) {
			return false
		}
		n++
	}
	return n <= MaxNameLength
}

func asciiNameByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case ' ', '_', '.', ':', '/', '%', '&', '#', '=', '+', '-', '@':
		return true
	}
	return false
}

func nameRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiNameByte(byte(r))
	}
	if r == utf8.RuneError {
		return false
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Zs, r) || r == '\u2028' || r == '\u2029'
}

// AppendJSONString appends s as a JSON string; it is a convenience for
// building Metadata values.
func AppendJSONString(dst []byte, s string) []byte {
	return jsonenc.AppendString(dst, s)
}
