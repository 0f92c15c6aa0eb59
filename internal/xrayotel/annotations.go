package xrayotel

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/internal/xraykey"
)

// appendAttributes appends annotations and metadata. An attribute a rule
// wrote into a block is not repeated, unless it is indexed.
func (t *Translator) appendAttributes(dst []byte, d *docState) []byte {
	attrs, resAttrs, f := d.attrs, d.resAttrs, &d.f
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
	// An attribute is consumed when a rule wrote its key's value into a
	// block. The few used keys are compared by name, cheaper than looking
	// every attribute up in spanKeys again.
	var usedNames [kCount]string
	nUsed := 0
	for k := range kCount {
		if f.used[k] {
			usedNames[nUsed] = keyNames[k]
			nUsed++
		}
	}
	consumed := func(kv *otlpspans.KeyValue) bool {
		for _, name := range usedNames[:nUsed] {
			if len(name) == len(kv.Key) && name == kv.Key {
				return true
			}
		}
		return false
	}

	// Annotations: at most MaxAnnotations, with distinct sanitised keys.
	var chosen [MaxAnnotations]int32
	var keys [MaxAnnotations]string
	n := 0
	mark := len(dst)
	dst = append(dst, `,"annotations":{`...)
	add := func(i int, key string, v otlpspans.Value) {
		for j := 0; j < n; j++ {
			if xraykey.Same(keys[j], key) {
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
	for i := range attrs {
		kv := &attrs[i]
		if n == MaxAnnotations {
			break
		}
		if kv.Key == "" || !annotatable(kv.Value) || !indexed(kv.Key) {
			continue
		}
		add(i, kv.Key, kv.Value)
	}
	if d.segment && !d.lean {
		for i := range resAttrs {
			kv := &resAttrs[i]
			if n == MaxAnnotations {
				break
			}
			if kv.Key == "" || !annotatable(kv.Value) || !t.resourceIndexed(kv.Key) {
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
	seen := getKeySet(len(attrs) + len(resAttrs))
	defer putKeySet(seen)
	comma := false
	var namespaces []int
	for i := range attrs {
		kv := &attrs[i]
		if kv.Value.Kind() == otlpspans.KindNone || consumed(kv) {
			continue
		}
		if isAnnotation(i) {
			continue
		}
		if ns, ok := strings.CutPrefix(kv.Key, metadataNamespacePrefix); ok && ns != "" && ns != "default" &&
			!strings.HasPrefix(ns, "AWS.") && jsonObject(kv.Value.Str()) {
			// Namespaces starting "AWS." are reserved for AWS's SDKs.
			namespaces = append(namespaces, i)
			continue
		}
		if !seen.add(memberKey, jsonKey(kv.Key)) {
			continue
		}
		dst = jsonenc.AppendKey(dst, kv.Key, comma)
		comma = true
		dst = appendValue(dst, kv.Value, 0)
	}
	if d.segment {
		// Resource keys are "otel.resource."+key; the set compares them
		// with span keys without putting that string together.
		for i := range resAttrs {
			kv := &resAttrs[i]
			if kv.Value.Kind() == otlpspans.KindNone || isAnnotation(-1-i) {
				continue
			}
			if !seen.add(resourceKey, jsonKey(kv.Key)) {
				continue
			}
			if comma {
				dst = append(dst, ',')
			}
			comma = true
			dst = append(dst, '"')
			dst = append(dst, resourceMetadataPrefix...)
			dst = jsonenc.AppendStringContents(dst, kv.Key)
			dst = append(dst, `":`...)
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
		kv := &attrs[i]
		ns := kv.Key[len(metadataNamespacePrefix):]
		if k := jsonKey(ns); k == "default" || !seen.add(namespaceKey, k) {
			continue
		}
		dst = jsonenc.AppendKey(dst, ns, wrote)
		wrote = true
		dst = appendObjectJSON(dst, kv.Value.Str())
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
	vs := f.v[kXRayAnnotations].Array()
	if len(vs) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(vs))
	for _, v := range vs {
		if s := v.Value.Str(); s != "" {
			m[s] = struct{}{}
		}
	}
	return m
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
