// Package schematest validates documents that Sidelight emits against the
// public schemas kept in testdata/reference, plus the rules those schemas
// cannot express, and serves the public samples kept there to other
// packages' tests. It is used only by tests; everything it reads is in the
// repository (see testdata/reference/README.md for where each file came
// from and under which licence).
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	loadOnce  sync.Once
	segSchema *jsonschema.Schema
	emfSchema *jsonschema.Schema
	loadErr   error
)

// unicodeEscape matches \u and four hex digits inside a JSON-encoded regular expression
// (written with a doubled backslash in the file), which RE2 does not accept.
var unicodeEscape = regexp.MustCompile(`\\\\u([0-9a-fA-F]{4})`)

func load() {
	seg, err := ReadReference("xray-segment-schema-v1.0.0.json")
	if err != nil {
		loadErr = err
		return
	}
	seg = unicodeEscape.ReplaceAll(seg, []byte(`\\x{$1}`))
	emf, err := ReadReference("emf-schema.json")
	if err != nil {
		loadErr = err
		return
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	for name, raw := range map[string][]byte{"xray.json": seg, "emf.json": emf} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			loadErr = fmt.Errorf("schematest: %s: %w", name, err)
			return
		}
		if err := c.AddResource(name, doc); err != nil {
			loadErr = fmt.Errorf("schematest: %s: %w", name, err)
			return
		}
	}
	if segSchema, loadErr = c.Compile("xray.json"); loadErr != nil {
		return
	}
	emfSchema, loadErr = c.Compile("emf.json")
}

// Segment validates one X-Ray segment or independent subsegment document
// against the published schema and the rules it leaves out: exactly one of
// end_time and in_progress, parent_id and type together on independent
// subsegments, well-formed IDs, and error/throttle/fault consistent with
// the HTTP status.
func Segment(doc []byte) error {
	loadOnce.Do(load)
	if loadErr != nil {
		return loadErr
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := segSchema.Validate(v); err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return err
	}
	if err := segmentRules(m, true); err != nil {
		return err
	}
	if t, _ := m["type"].(string); t == "subsegment" {
		if _, ok := m["parent_id"].(string); !ok {
			return fmt.Errorf("independent subsegment without parent_id")
		}
	}
	return nil
}

var (
	traceIDRE = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	idRE      = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

func segmentRules(m map[string]any, top bool) error {
	name, _ := m["name"].(string)
	_, hasEnd := m["end_time"]
	inProgress, _ := m["in_progress"].(bool)
	if hasEnd == inProgress {
		return fmt.Errorf("%q: exactly one of end_time and in_progress must be set", name)
	}
	id, _ := m["id"].(string)
	if !idRE.MatchString(id) {
		return fmt.Errorf("%q: id %q is not 16 lowercase hex digits", name, id)
	}
	if p, ok := m["parent_id"].(string); ok && !idRE.MatchString(p) {
		return fmt.Errorf("%q: parent_id %q is not 16 lowercase hex digits", name, p)
	}
	if top {
		tid, _ := m["trace_id"].(string)
		if !traceIDRE.MatchString(tid) {
			return fmt.Errorf("%q: trace_id %q is malformed", name, tid)
		}
	}
	if st, ok := m["start_time"].(float64); ok {
		if et, ok := m["end_time"].(float64); ok && et < st {
			return fmt.Errorf("%q: end_time before start_time", name)
		}
	}
	if h, ok := m["http"].(map[string]any); ok {
		if resp, ok := h["response"].(map[string]any); ok {
			if s, ok := resp["status"].(float64); ok {
				flag := func(k string) bool { b, _ := m[k].(bool); return b }
				switch {
				case s == 429 && !flag("throttle"):
					return fmt.Errorf("%q: status 429 without throttle", name)
				case s >= 400 && s < 500 && !flag("error"):
					return fmt.Errorf("%q: status %v without error", name, s)
				case s >= 500 && !flag("fault"):
					return fmt.Errorf("%q: status %v without fault", name, s)
				case s < 400 && (flag("error") || flag("throttle")) && m["cause"] == nil:
					return fmt.Errorf("%q: status %v flagged error/throttle with no cause", name, s)
				}
			}
		}
	}
	if subs, ok := m["subsegments"].([]any); ok {
		for _, s := range subs {
			sm, ok := s.(map[string]any)
			if !ok {
				return fmt.Errorf("%q: subsegment is not an object", name)
			}
			if err := segmentRules(sm, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// EMF validates one Embedded Metric Format document against the published
// schema and the specification rules it leaves out: every referenced metric
// and dimension is present at the root, metric values are numbers or arrays
// of at most 100 numbers, dimension values are strings, at most 100 metrics
// per document, and names within CloudWatch's 255-character limit.
func EMF(doc []byte) error {
	loadOnce.Do(load)
	if loadErr != nil {
		return loadErr
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := emfSchema.Validate(v); err != nil {
		return err
	}
	var root map[string]any
	if err := json.Unmarshal(doc, &root); err != nil {
		return err
	}
	aws := root["_aws"].(map[string]any)
	directives := aws["CloudWatchMetrics"].([]any)
	metrics := 0
	for _, d := range directives {
		dir := d.(map[string]any)
		if ns := dir["Namespace"].(string); len(ns) > 255 || strings.TrimSpace(ns) == "" {
			return fmt.Errorf("namespace %q: empty or over 255 characters", ns)
		}
		for _, set := range dir["Dimensions"].([]any) {
			for _, k := range set.([]any) {
				val, ok := root[k.(string)]
				if !ok {
					return fmt.Errorf("dimension %q is not at the root", k)
				}
				s, ok := val.(string)
				if !ok || s == "" {
					return fmt.Errorf("dimension %q has a value that is not a non-empty string: %v", k, val)
				}
			}
		}
		for _, mdef := range dir["Metrics"].([]any) {
			metrics++
			name := mdef.(map[string]any)["Name"].(string)
			if len(name) > 255 {
				return fmt.Errorf("metric name %q over 255 characters", name)
			}
			if r, ok := mdef.(map[string]any)["StorageResolution"].(float64); ok && r != 1 && r != 60 {
				return fmt.Errorf("metric %q: StorageResolution %v is not 1 or 60", name, r)
			}
			val, ok := root[name]
			if !ok {
				return fmt.Errorf("metric %q is not at the root", name)
			}
			switch x := val.(type) {
			case float64:
			case []any:
				if len(x) == 0 || len(x) > 100 {
					return fmt.Errorf("metric %q has %d values (1 to 100 allowed)", name, len(x))
				}
				for _, e := range x {
					if _, ok := e.(float64); !ok {
						return fmt.Errorf("metric %q has a non-number value %v", name, e)
					}
				}
			default:
				return fmt.Errorf("metric %q value %v is not a number or array of numbers", name, val)
			}
		}
	}
	if metrics > 100 {
		return fmt.Errorf("%d metrics in one document (at most 100)", metrics)
	}
	return nil
}
