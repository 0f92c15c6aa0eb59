package cfn

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schemas are compiled CloudFormation resource provider schemas by type
// name.
type Schemas struct {
	byType map[string]*resourceSchema

	mu        sync.Mutex
	unchecked []string // patterns Go's regexp cannot express
}

type resourceSchema struct {
	schema     *jsonschema.Schema
	readOnly   map[string]bool // "/properties/Arn"
	properties map[string]bool
}

// LoadSchemas compiles every aws-*.json provider schema at the top of
// fsys (such as os.DirFS(dir)).
func LoadSchemas(fsys fs.FS) (*Schemas, error) {
	files, err := fs.Glob(fsys, "aws-*.json")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("cfn: no aws-*.json schemas")
	}
	s := &Schemas{byType: map[string]*resourceSchema{}}
	for _, f := range files {
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("cfn: %s: %w", f, err)
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("cfn: %s: not an object", f)
		}
		typeName, _ := m["typeName"].(string)
		if typeName == "" {
			return nil, fmt.Errorf("cfn: %s: no typeName", f)
		}
		// The provider meta-schema is not fetched: the schemas are read as
		// draft-07, which their keywords follow.
		delete(m, "$schema")
		rs := &resourceSchema{readOnly: map[string]bool{}, properties: map[string]bool{}}
		for _, p := range asStrings(m["readOnlyProperties"]) {
			rs.readOnly[p] = true
		}
		if props, ok := m["properties"].(map[string]any); ok {
			for k := range props {
				rs.properties[k] = true
			}
		}
		// A resource's Properties may not set read-only properties; the
		// schema itself does not say so.
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7)
		c.UseRegexpEngine(s.compileRegexp)
		url := "file:///" + filepath.Base(f)
		if err := c.AddResource(url, m); err != nil {
			return nil, fmt.Errorf("cfn: %s: %w", f, err)
		}
		rs.schema, err = c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("cfn: %s: %w", f, err)
		}
		s.byType[typeName] = rs
	}
	return s, nil
}

func asStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// compileRegexp reads the schemas' Java-style patterns: \Z becomes \z;
// what RE2 cannot express (look-behind) is recorded and matches anything.
func (s *Schemas) compileRegexp(p string) (jsonschema.Regexp, error) {
	re, err := regexp.Compile(strings.ReplaceAll(p, `\Z`, `\z`))
	if err == nil {
		return re, nil
	}
	s.mu.Lock()
	s.unchecked = append(s.unchecked, p)
	s.mu.Unlock()
	return anything(p), nil
}

type anything string

func (a anything) MatchString(string) bool { return true }
func (a anything) String() string          { return string(a) }

// Unchecked lists the schema patterns that could not be compiled and are
// not enforced.
func (s *Schemas) Unchecked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unchecked)
}

// Types lists the resource types there is a schema for.
func (s *Schemas) Types() []string { return slices.Sorted(maps.Keys(s.byType)) }

// Check resolves t with values (see Template.Resolve) and validates every
// resource against its type's schema: unknown and read-only properties,
// required properties, types, enums, patterns and lengths. It also checks
// that every Fn::GetAtt names an attribute the type has.
func (s *Schemas) Check(t *Template, values map[string]string) (*Resolved, error) {
	r, err := t.Resolve(values)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(r.Resources)) {
		res := r.Resources[name]
		rs, ok := s.byType[res.Type]
		if !ok {
			errs = append(errs, fmt.Errorf("cfn: resource %s: no schema for type %s", name, res.Type))
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(res.Properties)) {
			if rs.readOnly["/properties/"+k] {
				errs = append(errs, fmt.Errorf("cfn: resource %s (%s): %s is read-only", name, res.Type, k))
			}
		}
		if err := rs.schema.Validate(toSchemaValue(res.Properties)); err != nil {
			var ve *jsonschema.ValidationError
			if errors.As(err, &ve) {
				errs = append(errs, fmt.Errorf("cfn: resource %s (%s):\n%s", name, res.Type, leafErrors(ve)))
			} else {
				errs = append(errs, fmt.Errorf("cfn: resource %s (%s): %w", name, res.Type, err))
			}
		}
	}
	for _, g := range r.GetAtts {
		typ := t.Resources[g.Resource].Type
		rs, ok := s.byType[typ]
		if !ok {
			continue // reported above
		}
		if !rs.readOnly["/properties/"+strings.ReplaceAll(g.Attribute, ".", "/")] {
			errs = append(errs, fmt.Errorf("cfn: %s: %s has no attribute %s (its schema's readOnlyProperties)", g.At, typ, g.Attribute))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// toSchemaValue converts the resolved values to what the validator
// expects (it treats float64 and json.Number alike, but not []string).
func toSchemaValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toSchemaValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toSchemaValue(e)
		}
		return out
	}
	return v
}

var english = message.NewPrinter(language.English)

// leafErrors lists the innermost causes, which say what is wrong where,
// rather than the whole tree.
func leafErrors(ve *jsonschema.ValidationError) string {
	var b strings.Builder
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			fmt.Fprintf(&b, "  at /%s: %s\n", strings.Join(e.InstanceLocation, "/"), e.ErrorKind.LocalizedString(english))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return b.String()
}
