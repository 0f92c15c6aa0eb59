package xrayotel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

// The schema is loaded from this package's testdata (see testdata/SOURCES.md).
var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
	// namePattern is the schema's name pattern, compiled for Go.
	namePattern *regexp.Regexp
)

// goPattern rewrites the schema's \u escapes (four hex digits, written with a doubled backslash in the
// JSON file) in the \x{...} form Go's regexp accepts.
var unicodeEscape = regexp.MustCompile(`\\\\u([0-9a-fA-F]{4})`)

func loadSchema() {
	raw, err := os.ReadFile("testdata/xray-segment-schema-v1.0.0.json")
	if err != nil {
		schemaErr = err
		return
	}
	raw = unicodeEscape.ReplaceAll(raw, []byte(`\\x{$1}`))
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		schemaErr = err
		return
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource("xray.json", doc); err != nil {
		schemaErr = err
		return
	}
	if schema, schemaErr = c.Compile("xray.json"); schemaErr != nil {
		return
	}
	var m struct {
		Properties struct {
			Name struct{ Pattern string } `json:"name"`
		} `json:"properties"`
	}
	if schemaErr = json.Unmarshal(raw, &m); schemaErr == nil {
		namePattern, schemaErr = regexp.Compile(m.Properties.Name.Pattern)
	}
}

var (
	traceIDRE = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	hexIDRE   = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// validate checks one document against the published schema and the rules
// it leaves out: exactly one of end_time and in_progress, lowercase hex
// IDs, type and parent_id together on independent subsegments, no
// duplicate object members, and error/throttle/fault consistent with the
// HTTP status.
func validate(doc []byte) error {
	schemaOnce.Do(loadSchema)
	if schemaErr != nil {
		return schemaErr
	}
	if err := noDuplicateKeys(doc); err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := schema.Validate(v); err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return err
	}
	_, hasEnd := m["end_time"]
	inProgress, _ := m["in_progress"].(bool)
	if hasEnd == inProgress {
		return fmt.Errorf("exactly one of end_time and in_progress must be set")
	}
	if id, _ := m["id"].(string); !hexIDRE.MatchString(id) {
		return fmt.Errorf("id %q", id)
	}
	if id, _ := m["trace_id"].(string); !traceIDRE.MatchString(id) {
		return fmt.Errorf("trace_id %q", id)
	}
	if p, ok := m["parent_id"]; ok {
		if s, _ := p.(string); !hexIDRE.MatchString(s) {
			return fmt.Errorf("parent_id %v", p)
		}
	}
	if typ, ok := m["type"]; ok {
		if typ != "subsegment" {
			return fmt.Errorf("type %v", typ)
		}
		if _, ok := m["parent_id"]; !ok {
			return fmt.Errorf("subsegment without parent_id")
		}
	}
	if st, ok := m["start_time"].(float64); ok {
		if et, ok := m["end_time"].(float64); ok && et < st {
			return fmt.Errorf("end_time before start_time")
		}
	}
	if s, ok := lookup(m, "http.response.status"); ok {
		code := s.(float64)
		flag := func(k string) bool { b, _ := m[k].(bool); return b }
		switch {
		case code == 429 && !(flag("throttle") && flag("error")):
			return fmt.Errorf("status 429 without throttle and error")
		case code >= 400 && code < 500 && !flag("error"):
			return fmt.Errorf("status %v without error", code)
		case code >= 500 && code < 600 && !flag("fault"):
			return fmt.Errorf("status %v without fault", code)
		}
	}
	if len(doc) > MaxDocumentBytes {
		return fmt.Errorf("%d bytes", len(doc))
	}
	return nil
}

// noDuplicateKeys reports an object with a member twice, which the schema
// validator (keeping the last) would not notice.
func noDuplicateKeys(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		obj  bool
		keys map[string]bool
		want bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch x := tok.(type) {
		case json.Delim:
			switch x {
			case '{', '[':
				if top != nil && top.obj {
					top.want = true
				}
				stack = append(stack, &frame{obj: x == '{', keys: map[string]bool{}, want: x == '{'})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].want = true
				}
			}
			continue
		case string:
			if top != nil && top.obj && top.want {
				if top.keys[x] {
					return fmt.Errorf("duplicate member %q", x)
				}
				top.keys[x] = true
				top.want = false
				continue
			}
		}
		if top != nil && top.obj {
			top.want = true
		}
	}
}

// lookup follows a dotted path ("http.request.method",
// "cause.exceptions.0.message") through decoded JSON.
func lookup(m any, path string) (any, bool) {
	cur := m
	for _, part := range splitPath(path) {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// translate runs AppendSegment and checks the document is valid.
func translate(t *testing.T, cfg *Config, res *resourcev1.Resource, span *tracev1.Span) map[string]any {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := tr.AppendSegment(nil, res, span)
	if err != nil {
		t.Fatalf("AppendSegment: %v", err)
	}
	if err := validate(doc); err != nil {
		t.Fatalf("invalid document: %v\n%s", err, doc)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// ruleCase is one row of a rule's table: a span and resource, the fields
// the document must hold (dotted paths, JSON-decoded values) and the paths
// it must not hold.
type ruleCase struct {
	name   string
	cfg    *Config
	res    *resourcev1.Resource
	span   *tracev1.Span
	want   map[string]any
	absent []string
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := translate(t, c.cfg, c.res, c.span)
			for path, want := range c.want {
				got, ok := lookup(m, path)
				if !ok {
					t.Errorf("%s: missing; document %v", path, m)
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			for _, path := range c.absent {
				if got, ok := lookup(m, path); ok {
					t.Errorf("%s = %#v, want absent", path, got)
				}
			}
		})
	}
}

// Test fixtures.
var (
	testTraceID  = []byte{0x5f, 0x84, 0xc7, 0xa1, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7, 0x08, 0x19, 0x2a, 0x3b, 0x4c, 0x5d}
	testSpanID   = []byte{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
	testParentID = []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	testXRayID   = "1-5f84c7a1-a2b3c4d5e6f708192a3b4c5d"
	testStart    = uint64(1_700_000_000_123_456_789)
	testEnd      = uint64(1_700_000_000_623_456_000)
)

// span returns a finished span with fixed IDs, kind and attributes,
// changed by each edit.
func span(kind tracev1.Span_SpanKind, attrs ...*commonv1.KeyValue) *tracev1.Span {
	return &tracev1.Span{
		TraceId: clone(testTraceID), SpanId: clone(testSpanID), ParentSpanId: clone(testParentID),
		Name: "GET /users/{id}", Kind: kind,
		StartTimeUnixNano: testStart, EndTimeUnixNano: testEnd,
		Attributes: attrs,
	}
}

func with(s *tracev1.Span, edit func(*tracev1.Span)) *tracev1.Span { edit(s); return s }

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func resource(attrs ...*commonv1.KeyValue) *resourcev1.Resource {
	return &resourcev1.Resource{Attributes: attrs}
}

func kvStr(k, v string) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: v}}}
}

func kvInt(k string, v int64) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: v}}}
}

func kvFloat(k string, v float64) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_DoubleValue{DoubleValue: v}}}
}

func kvBool(k string, v bool) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_BoolValue{BoolValue: v}}}
}

func kvStrs(k string, vs ...string) *commonv1.KeyValue {
	arr := &commonv1.ArrayValue{}
	for _, v := range vs {
		arr.Values = append(arr.Values, &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: v}})
	}
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_ArrayValue{ArrayValue: arr}}}
}

func exceptionEvent(typ, msg, stack string) *tracev1.Span_Event {
	ev := &tracev1.Span_Event{Name: "exception", TimeUnixNano: testEnd}
	if typ != "" {
		ev.Attributes = append(ev.Attributes, kvStr("exception.type", typ))
	}
	if msg != "" {
		ev.Attributes = append(ev.Attributes, kvStr("exception.message", msg))
	}
	if stack != "" {
		ev.Attributes = append(ev.Attributes, kvStr("exception.stacktrace", stack))
	}
	return ev
}

const (
	server   = tracev1.Span_SPAN_KIND_SERVER
	client   = tracev1.Span_SPAN_KIND_CLIENT
	internal = tracev1.Span_SPAN_KIND_INTERNAL
	producer = tracev1.Span_SPAN_KIND_PRODUCER
	consumer = tracev1.Span_SPAN_KIND_CONSUMER
)

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// splitPath splits a dotted path; `\.` is a dot inside a member name.
func splitPath(path string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path) && path[i+1] == '.':
			cur.WriteByte('.')
			i++
		case path[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(path[i])
		}
	}
	return append(parts, cur.String())
}
