package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// deployValues are parameter values a user passes to
// `aws cloudformation deploy` (those without defaults).
var deployValues = map[string]string{
	"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
	"AppImage":     "123456789012.dkr.ecr.us-east-1.amazonaws.com/sidelight-orders:v1",
	"SidecarImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sidelight-sidecar:v1",
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

var (
	loadOnce sync.Once
	tmpl     *cfn.Template
	schemas  *cfn.Schemas
	loadErr  error
)

// load parses template.json and compiles the resource schemas once.
func load(t *testing.T) (*cfn.Template, *cfn.Schemas) {
	t.Helper()
	loadOnce.Do(func() {
		raw, err := os.ReadFile("template.json")
		if err != nil {
			loadErr = err
			return
		}
		if tmpl, loadErr = cfn.Parse(raw); loadErr != nil {
			return
		}
		schemas, loadErr = cfn.LoadSchemas(schematest.CloudFormationSchemas())
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return tmpl, schemas
}

// resolve checks the template against the schemas with values and returns
// it resolved.
func resolve(t *testing.T, values map[string]string) *cfn.Resolved {
	t.Helper()
	tm, s := load(t)
	r, err := s.Check(tm, values)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Spellings of the SDK's field names: the ECS API's JSON (lower-case
// first letter) and CloudFormation's (as in Go).
var (
	apiName = func(goName string) string { return strings.ToLower(goName[:1]) + goName[1:] }
	cfnName = func(goName string) string { return goName }
)

// decodeExact is decodeStrict after checking that every name is spelt
// exactly as spell spells the SDK's field: encoding/json matches names
// case-insensitively, the AWS API (and the CLI's --cli-input-json) and
// CloudFormation do not.
func decodeExact(data []byte, v any, spell func(string) string) error {
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if err := exactNames(raw, reflect.TypeOf(v), "$", spell); err != nil {
		return err
	}
	return decodeStrict(data, v)
}

// decodeStrict decodes data into v, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

const errTrailing = errString("data after the JSON value")

// containerEnv returns a container's environment from the resolved
// template's task definition.
func containerEnv(t *testing.T, r *cfn.Resolved, container string) map[string]string {
	t.Helper()
	td := r.Resources["TaskDefinition"].Properties
	defs, _ := td["ContainerDefinitions"].([]any)
	for _, d := range defs {
		m, _ := d.(map[string]any)
		if m["Name"] != container {
			continue
		}
		env := map[string]string{}
		list, _ := m["Environment"].([]any)
		for _, e := range list {
			kv, _ := e.(map[string]any)
			name, _ := kv["Name"].(string)
			value, ok := kv["Value"].(string)
			if !ok {
				t.Fatalf("container %s: %s is not a string: %#v", container, name, kv["Value"])
			}
			env[name] = value
		}
		return env
	}
	t.Fatalf("no container %q in the template's task definition", container)
	return nil
}

func exactNames(v any, t reflect.Type, path string, spell func(string) string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil // a map (such as log options): free-form keys
		}
		for k, e := range x {
			f, ok := fieldBySpelling(t, k, spell)
			if !ok {
				return fmt.Errorf("%s: unknown field %q (names are case-sensitive)", path, k)
			}
			if err := exactNames(e, f.Type, path+"."+k, spell); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, e := range x {
			if err := exactNames(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), spell); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldBySpelling(t reflect.Type, name string, spell func(string) string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && spell(f.Name) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
