package otlp

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/xraykey"
	"github.com/seed-c77c9410/sidelight/internal/xrayotel"
)

// Limits shared with the X-Ray document rules.
const (
	maxHTTPFieldLength = 250 // http request fields and user, in characters
	annotationsKey     = "aws.xray.annotations"
	metadataNSPrefix   = "aws.xray.metadata."
	resourcePrefix     = "otel.resource."
)

// errInvalidSegment is returned for segments the X-Ray → OTLP rules
// cannot translate: a zero trace or span ID, an independent subsegment
// without a parent, a time before 1970 or after 2514, subsegments nested
// deeper than xrayotel.MaxSubsegmentDepth.
var errInvalidSegment = errors.New("otlp: segment cannot be translated")

type keyEntry struct{ off, n, idx int }

type metaEntry struct {
	nsOff, nsN int
	kOff, kN   int
	idx        int
	nsFirst    int // where the namespace first appears, when that matters
	node       int
	ok         bool // the JSON parsed
}

// encoder turns one segment into OTLP protobuf. It is reused through a
// pool; its slices keep their capacity.
type encoder struct {
	spans  []byte // ScopeSpans.spans fields
	res    []byte // Resource.attributes fields
	nspans int
	badMD  int // metadata values that were not JSON

	keys     []byte
	anns     []keyEntry
	meta     []metaEntry
	ent      *resourceEntry
	resMeta  bool   // the segment has otel.resource.* metadata
	resKeys  []byte // the keys it wrote, ending at resOffs
	resOffs  []int
	builtins [16]string
	nb       int
	tmp      []byte
	json     jsonTree
}

// encode writes seg as spans into e.spans and its resource into e.res.
func (e *encoder) encode(seg *xray.Segment, rc *resourceCache) error {
	e.spans, e.res, e.nspans, e.badMD = e.spans[:0], e.res[:0], 0, 0
	if !seg.TraceID.IsValid() || seg.Independent && !seg.ParentID.IsValid() {
		return errInvalidSegment
	}
	var parent []byte
	if seg.ParentID.IsValid() {
		parent = seg.ParentID[:]
	}
	name := xray.SanitizeName(seg.Name)
	e.ent = rc.lookup(seg, name)
	e.resKeys, e.resOffs = e.resKeys[:0], e.resOffs[:0]
	e.resMeta = false
	if err := e.span(seg, name, seg.TraceID[:], parent, !seg.Independent, 0); err != nil {
		return err
	}
	if !e.resMeta {
		e.res = append(e.res, e.ent.full...)
		return nil
	}
	for _, a := range rc.configured {
		if slices.Contains(e.ent.keys, a.key) || e.resMetaHas(a.key) {
			continue
		}
		e.res = appendStringAttr(e.res, fResourceAttributes, a.key, a.value)
	}
	return nil
}

// resMetaHas reports whether an otel.resource.* metadata entry wrote key.
func (e *encoder) resMetaHas(key string) bool {
	start := 0
	for _, end := range e.resOffs {
		if string(e.resKeys[start:end]) == key {
			return true
		}
		start = end
	}
	return false
}

// addResourceMetadata writes a segment's "otel.resource.KEY" metadata as
// resource attribute KEY: after the document's attributes, before the
// configured ones, the first value of a key kept.
func (e *encoder) addResourceMetadata(key []byte, node int) {
	if !e.resMeta {
		e.resMeta = true
		e.res = append(e.res, e.ent.doc...)
	}
	if slices.Contains(e.ent.keys, string(key)) || !e.json.present(node, 0) {
		return
	}
	e.res = e.appendJSONAttr(e.res, fResourceAttributes, key, node)
	e.resKeys = append(e.resKeys, key...)
	e.resOffs = append(e.resOffs, len(e.resKeys))
}

// nanos converts a time written to a document in microseconds back to the
// nanoseconds the document's reader gets, or reports that the reader
// refuses it.
func nanos(us int64) (uint64, bool) {
	if us < 0 {
		return 0, false
	}
	if us < (1<<32)*1e6 {
		return uint64(us) * 1000, true
	}
	// Far in the future a float64 of seconds no longer holds every
	// microsecond: read it back as the document's reader does.
	var buf [32]byte
	f, err := strconv.ParseFloat(string(jsonenc.AppendSeconds(buf[:0], us)), 64)
	if err != nil || f >= 1<<34 {
		return 0, false
	}
	return uint64(math.Round(f*1e6)) * 1000, true
}

func (e *encoder) span(s *xray.Segment, name string, traceID, parent []byte, segment bool, depth int) error {
	if depth > xrayotel.MaxSubsegmentDepth || !s.ID.IsValid() {
		return errInvalidSegment
	}
	startUs := s.Start.UnixMicro()
	start, ok := nanos(startUs)
	if !ok {
		return errInvalidSegment
	}
	var end uint64
	if !s.End.IsZero() {
		if end, ok = nanos(max(s.End.UnixMicro(), startUs)); !ok {
			return errInvalidSegment
		}
	}
	kind := uint64(kindInternal)
	switch {
	case segment:
		kind = kindServer
	case s.Namespace == "aws" || s.Namespace == "remote":
		kind = kindClient
	}

	b, sp := openLen(e.spans, fScopeSpansSpans)
	b = appendBytes(b, fSpanTraceID, traceID)
	b = appendBytes(b, fSpanSpanID, s.ID[:])
	flags := uint64(flagSampled)
	if parent != nil {
		b = appendBytes(b, fSpanParentSpanID, parent)
		flags |= flagHasIsRemote
		if depth == 0 && segment {
			flags |= flagIsRemote
		}
	}
	b = appendBytes(b, fSpanName, []byte(name))
	b = appendVarintField(b, fSpanKind, kind)
	b = appendFixed64Field(b, fSpanStart, start)
	if end != 0 {
		b = appendFixed64Field(b, fSpanEnd, end)
	}
	b = e.appendAttributes(b, s, name, segment, depth == 0)
	nEvents := 0
	var message string
	if c := s.Cause; c != nil {
		at := end
		if at == 0 {
			at = start
		}
		for i := range c.Exceptions {
			b = e.appendException(b, &c.Exceptions[i], at)
			nEvents++
		}
		if nEvents == 1 {
			message = c.Exceptions[0].Message
		}
	}
	if s.Fault || s.Error && (kind == kindClient || s.HTTP.Status == 0) {
		var st int
		b, st = openLen(b, fSpanStatus)
		if message != "" {
			b = appendString(b, fStatusMessage, message)
		}
		b = appendVarintField(b, fStatusCode, statusError)
		b = closeLen(b, st)
	}
	b = protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, uint32(flags))
	e.spans = closeLen(b, sp)
	e.nspans++
	for _, sub := range s.Subsegments {
		if sub == nil {
			continue
		}
		if err := e.span(sub, xray.SanitizeName(sub.Name), traceID, s.ID[:], false, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) appendException(b []byte, x *xray.Exception, at uint64) []byte {
	b, ev := openLen(b, fSpanEvents)
	b = appendFixed64Field(b, fEventTime, at)
	b = appendBytes(b, fEventName, []byte("exception"))
	if x.Type != "" {
		b = appendStringAttr(b, fEventAttributes, "exception.type", x.Type)
	}
	if x.Message != "" {
		b = appendStringAttr(b, fEventAttributes, "exception.message", x.Message)
	}
	if len(x.Stack) > 0 {
		// Go's form, which the X-Ray rules parse back to the same frames.
		t := e.tmp[:0]
		for _, f := range x.Stack {
			t = appendValidUTF8(t, f.Label)
			t = append(t, "()\n\t"...)
			t = appendValidUTF8(t, f.Path)
			t = append(t, ':')
			t = strconv.AppendInt(t, int64(f.Line), 10)
			t = append(t, '\n')
		}
		e.tmp = t
		var kv, v int
		b, kv = openLen(b, fEventAttributes)
		b = appendBytes(b, fKeyValueKey, []byte("exception.stacktrace"))
		b, v = openLen(b, fKeyValueValue)
		b = appendBytes(b, fAnyString, t)
		b = closeLen(b, v)
		b = closeLen(b, kv)
	}
	return closeLen(b, ev)
}

// str writes a string attribute the blocks give, unless it is empty.
func (e *encoder) str(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	e.builtins[e.nb] = key
	e.nb++
	return appendStringAttr(b, fSpanAttributes, key, v)
}

func (e *encoder) num(b []byte, key string, v float64) []byte {
	e.builtins[e.nb] = key
	e.nb++
	return appendNumberAttr(b, fSpanAttributes, key, v)
}

func (e *encoder) appendAttributes(b []byte, s *xray.Segment, name string, segment, top bool) []byte {
	e.nb = 0
	h := &s.HTTP
	if h.Method != "" || h.URL != "" || h.UserAgent != "" || h.ClientIP != "" || h.Traced {
		b = e.str(b, "http.request.method", jsonenc.CutRunes(h.Method, maxHTTPFieldLength))
		b = e.str(b, "url.full", jsonenc.CutRunes(h.URL, maxHTTPFieldLength))
		b = e.str(b, "user_agent.original", jsonenc.CutRunes(h.UserAgent, maxHTTPFieldLength))
		ip := jsonenc.CutRunes(h.ClientIP, maxHTTPFieldLength)
		if h.XForwardedFor {
			b = e.str(b, "http.client_ip", ip)
		} else {
			b = e.str(b, "client.address", ip)
		}
	}
	if h.Status != 0 {
		b = e.num(b, "http.response.status_code", float64(h.Status))
		if h.ContentLength >= 0 {
			b = e.num(b, "http.response.body.size", float64(h.ContentLength))
		}
	}
	hasAWS := !awsEmpty(&s.AWS)
	if hasAWS && !segment || s.Namespace == "aws" {
		if s.Namespace == "aws" {
			b = e.str(b, "rpc.system", "aws-api")
			b = e.str(b, "rpc.service", name)
		}
		if hasAWS {
			b = e.str(b, "rpc.method", s.AWS.Operation)
			b = e.str(b, "aws.region", s.AWS.Region)
			b = e.str(b, "aws.request_id", s.AWS.RequestID)
			b = e.str(b, "aws.table_name", s.AWS.TableName)
			b = e.str(b, "aws.queue_url", s.AWS.QueueURL)
		}
	} else if hasAWS && s.AWS.QueueURL != "" {
		b = e.str(b, "messaging.system", "aws_sqs")
		b = e.str(b, "aws.queue_url", s.AWS.QueueURL)
	}
	b = e.str(b, "enduser.id", jsonenc.CutRunes(s.User, maxHTTPFieldLength))
	e.keys = e.keys[:0]
	b = e.appendAnnotations(b, s.Annotations)
	if len(s.Metadata) > 0 {
		b = e.appendMetadata(b, s.Metadata, segment && top)
	}
	return b
}

func (e *encoder) key(k keyEntry) []byte { return e.keys[k.off : k.off+k.n] }

// appendAnnotations writes annotations in key order (keys rewritten as
// X-Ray requires; of keys that become the same, the last annotation
// kept), then aws.xray.annotations listing their keys.
func (e *encoder) appendAnnotations(b []byte, anns []xray.Annotation) []byte {
	e.anns = e.anns[:0]
	for i := range anns {
		if anns[i].Key == "" {
			continue
		}
		off := len(e.keys)
		e.keys = xraykey.Append(e.keys, anns[i].Key)
		e.anns = append(e.anns, keyEntry{off: off, n: len(e.keys) - off, idx: i})
	}
	if len(e.anns) == 0 {
		return b
	}
	slices.SortFunc(e.anns, func(x, y keyEntry) int {
		if c := bytes.Compare(e.key(x), e.key(y)); c != 0 {
			return c
		}
		return cmp.Compare(x.idx, y.idx)
	})
	w := 0
	for i := range e.anns {
		if i+1 < len(e.anns) && bytes.Equal(e.key(e.anns[i]), e.key(e.anns[i+1])) {
			continue
		}
		e.anns[w] = e.anns[i]
		w++
	}
	e.anns = e.anns[:w]
	for _, k := range e.anns {
		a := &anns[k.idx]
		var kv, v int
		b, kv = openLen(b, fSpanAttributes)
		b = appendBytes(b, fKeyValueKey, e.key(k))
		b, v = openLen(b, fKeyValueValue)
		switch a.Kind {
		case xray.NumberAnnotation:
			if math.IsNaN(a.Number) || math.IsInf(a.Number, 0) {
				e.tmp = strconv.AppendFloat(e.tmp[:0], a.Number, 'g', -1, 64)
				b = appendBytes(b, fAnyString, e.tmp)
			} else {
				b = appendNumber(b, a.Number)
			}
		case xray.BoolAnnotation:
			b = appendVarintField(b, fAnyBool, protowire.EncodeBool(a.Bool))
		default:
			b = appendString(b, fAnyString, jsonenc.CutRunes(a.String, xray.MaxAnnotationValueLength))
		}
		b = closeLen(b, v)
		b = closeLen(b, kv)
	}
	var kv, v, arr int
	b, kv = openLen(b, fSpanAttributes)
	b = appendBytes(b, fKeyValueKey, []byte(annotationsKey))
	b, v = openLen(b, fKeyValueValue)
	b, arr = openLen(b, fAnyArray)
	for _, k := range e.anns {
		var item int
		b, item = openLen(b, fArrayValues)
		b = appendBytes(b, fAnyString, e.key(k))
		b = closeLen(b, item)
	}
	b = closeLen(b, arr)
	b = closeLen(b, v)
	return closeLen(b, kv)
}

func (e *encoder) ns(m *metaEntry) []byte   { return e.keys[m.nsOff : m.nsOff+m.nsN] }
func (e *encoder) mkey(m *metaEntry) []byte { return e.keys[m.kOff : m.kOff+m.kN] }

var defaultNS = []byte("default")

// appendMetadata writes metadata as the X-Ray rules read it back: the
// "default" namespace's members as attributes (otel.resource.* ones of a
// segment go to the resource), every other namespace as one attribute
// aws.xray.metadata.NAME holding it as JSON; namespaces and keys in
// order, the last of equal keys kept, a key an earlier attribute has
// left out.
func (e *encoder) appendMetadata(b []byte, md []xray.Metadata, segment bool) []byte {
	e.meta = e.meta[:0]
	e.json.reset()
	badNS := false
	for i := range md {
		m := &md[i]
		ns := m.Namespace
		if ns == "" {
			ns = "default"
		}
		badNS = badNS || !utf8.ValidString(ns)
		ent := metaEntry{idx: i, nsOff: len(e.keys)}
		e.keys = appendValidUTF8(e.keys, ns)
		ent.nsN = len(e.keys) - ent.nsOff
		ent.kOff = len(e.keys)
		e.keys = appendValidUTF8(e.keys, m.Key)
		ent.kN = len(e.keys) - ent.kOff
		e.meta = append(e.meta, ent)
	}
	if badNS {
		e.markNamespaceOrder(md)
	}
	slices.SortFunc(e.meta, func(x, y metaEntry) int {
		if c := bytes.Compare(e.ns(&x), e.ns(&y)); c != 0 {
			return c
		}
		if c := cmp.Compare(x.nsFirst, y.nsFirst); c != 0 {
			return c
		}
		if c := bytes.Compare(e.mkey(&x), e.mkey(&y)); c != 0 {
			return c
		}
		return cmp.Compare(x.idx, y.idx)
	})
	w := 0
	for i := range e.meta {
		if i+1 < len(e.meta) && bytes.Equal(e.ns(&e.meta[i]), e.ns(&e.meta[i+1])) &&
			e.meta[i].nsFirst == e.meta[i+1].nsFirst && bytes.Equal(e.mkey(&e.meta[i]), e.mkey(&e.meta[i+1])) {
			// Replaced by a later value of the same key, as the X-Ray
			// document's reader would do; but written there, so a value
			// that is not JSON spoils that document and is counted.
			if raw := md[e.meta[i].idx].JSON; len(raw) > 0 {
				if _, err := e.json.parse(raw); err != nil {
					e.badMD++
				}
			}
			continue
		}
		e.meta[w] = e.meta[i]
		w++
	}
	e.meta = e.meta[:w]
	if badNS {
		e.keepLastNamespaces(md)
	}
	for i := range e.meta {
		m := &e.meta[i]
		raw := md[m.idx].JSON
		if len(raw) == 0 {
			raw = []byte("null")
		}
		n, err := e.json.parse(raw)
		m.node, m.ok = n, err == nil
		if !m.ok {
			e.badMD++
		}
	}
	defLo, defHi := e.nsRange(defaultNS)
	for lo := 0; lo < len(e.meta); {
		hi := lo + 1
		for hi < len(e.meta) && bytes.Equal(e.ns(&e.meta[hi]), e.ns(&e.meta[lo])) {
			hi++
		}
		if bytes.Equal(e.ns(&e.meta[lo]), defaultNS) {
			b = e.appendDefaultMetadata(b, e.meta[lo:hi], lo, segment)
		} else {
			b = e.appendNamespace(b, e.meta[lo:hi], defLo, defHi)
		}
		lo = hi
	}
	return b
}

// markNamespaceOrder sets each entry's nsFirst to where its namespace
// first appears in md, which is where the document writes it. It runs
// only when a namespace is not UTF-8 (and so may read as another's name).
func (e *encoder) markNamespaceOrder(md []xray.Metadata) {
	first := make(map[string]int)
	norm := func(ns string) string {
		if ns == "" {
			return "default"
		}
		return ns
	}
	for i := range md {
		if _, ok := first[norm(md[i].Namespace)]; !ok {
			first[norm(md[i].Namespace)] = i
		}
	}
	for i := range e.meta {
		e.meta[i].nsFirst = first[norm(md[e.meta[i].idx].Namespace)]
	}
}

// keepLastNamespaces keeps, of namespaces whose names differ only in bytes
// that are not UTF-8 (one key of the document's metadata object once
// read), the one the document writes last, which replaces the others.
func (e *encoder) keepLastNamespaces(md []xray.Metadata) {
	w := 0
	for lo := 0; lo < len(e.meta); {
		hi := lo + 1
		for hi < len(e.meta) && bytes.Equal(e.ns(&e.meta[hi]), e.ns(&e.meta[lo])) {
			hi++
		}
		last := e.meta[hi-1].nsFirst
		for i := lo; i < hi; i++ {
			if e.meta[i].nsFirst == last {
				e.meta[w] = e.meta[i]
				w++
			} else if raw := md[e.meta[i].idx].JSON; len(raw) > 0 {
				// Left out as the X-Ray document's reader would leave it,
				// but written there: a value that is not JSON spoils that
				// document, so it is counted like any bad value.
				if _, err := e.json.parse(raw); err != nil {
					e.badMD++
				}
			}
		}
		lo = hi
	}
	e.meta = e.meta[:w]
}

// nsRange returns the entries of namespace ns in the sorted e.meta.
func (e *encoder) nsRange(ns []byte) (int, int) {
	lo, _ := slices.BinarySearchFunc(e.meta, ns, func(m metaEntry, t []byte) int { return bytes.Compare(e.ns(&m), t) })
	hi := lo
	for hi < len(e.meta) && bytes.Equal(e.ns(&e.meta[hi]), ns) {
		hi++
	}
	return lo, hi
}

func (e *encoder) appendDefaultMetadata(b []byte, group []metaEntry, base int, segment bool) []byte {
	for j := range group {
		m := &group[j]
		if !m.ok {
			continue
		}
		key := e.mkey(m)
		if segment && bytes.HasPrefix(key, []byte(resourcePrefix)) {
			e.addResourceMetadata(key[len(resourcePrefix):], m.node)
			continue
		}
		if !e.json.present(m.node, 0) || e.taken(key) {
			continue
		}
		b = e.appendJSONAttr(b, fSpanAttributes, key, m.node)
	}
	return b
}

// taken reports whether an attribute written before the default
// metadata namespace has key.
func (e *encoder) taken(key []byte) bool {
	for _, k := range e.builtins[:e.nb] {
		if string(key) == k {
			return true
		}
	}
	if len(e.anns) > 0 {
		if string(key) == annotationsKey {
			return true
		}
		if _, found := slices.BinarySearchFunc(e.anns, key, func(k keyEntry, t []byte) int { return bytes.Compare(e.key(k), t) }); found {
			return true
		}
	}
	if ns, ok := bytes.CutPrefix(key, []byte(metadataNSPrefix)); ok && bytes.Compare(ns, defaultNS) < 0 {
		lo, hi := e.nsRange(ns)
		for _, m := range e.meta[lo:hi] {
			if m.ok {
				return true
			}
		}
	}
	return false
}

func (e *encoder) appendNamespace(b []byte, group []metaEntry, defLo, defHi int) []byte {
	ns := e.ns(&group[0])
	e.tmp = append(append(e.tmp[:0], metadataNSPrefix...), ns...)
	if bytes.Compare(ns, defaultNS) > 0 {
		// A default member of this name was written first.
		def := e.meta[defLo:defHi]
		if i, found := slices.BinarySearchFunc(def, e.tmp, func(m metaEntry, t []byte) int { return bytes.Compare(e.mkey(&m), t) }); found &&
			def[i].ok && e.json.present(def[i].node, 0) {
			return b
		}
	}
	valid := false
	for _, m := range group {
		valid = valid || m.ok
	}
	if !valid {
		return b
	}
	var kv, v, s int
	b, kv = openLen(b, fSpanAttributes)
	b = appendBytes(b, fKeyValueKey, e.tmp)
	b, v = openLen(b, fKeyValueValue)
	b, s = openLen(b, fAnyString)
	b = append(b, '{')
	first := true
	for _, m := range group {
		if !m.ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendMarshalString(b, e.mkey(&m))
		b = append(b, ':')
		b = e.json.appendJSON(b, m.node)
	}
	b = append(b, '}')
	b = closeLen(b, s)
	b = closeLen(b, v)
	return closeLen(b, kv)
}

func (e *encoder) appendJSONAttr(b []byte, f protowire.Number, key []byte, node int) []byte {
	if !e.json.present(node, 0) {
		return b
	}
	var kv, v int
	b, kv = openLen(b, f)
	b = appendBytes(b, fKeyValueKey, key)
	b, v = openLen(b, fKeyValueValue)
	b = e.json.appendAnyValue(b, node, 0)
	b = closeLen(b, v)
	return closeLen(b, kv)
}
