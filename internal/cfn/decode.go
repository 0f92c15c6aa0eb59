package cfn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
)

// DecodeProperties decodes resolved properties into v, a pointer to an AWS
// SDK input type (such as *lambda.CreateAliasInput), the way the service's
// API would read them: every name must be a field of the type spelt
// exactly as in Go, which is CloudFormation's spelling (encoding/json
// alone would match names case-insensitively), no unknown field and no
// wrong type. Numeric strings, as number parameters resolve, become
// numbers where the field is numeric. Maps in the type (such as
// environment variables) take any keys.
func DecodeProperties(props map[string]any, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("cfn: DecodeProperties needs a non-nil pointer")
	}
	typ := rv.Type().Elem()
	if err := exactFields(props, typ, "$"); err != nil {
		return err
	}
	raw, err := json.Marshal(numbersFor(props, typ))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func exactFields(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil // a map: free-form keys
		}
		for k, e := range x {
			f, ok := t.FieldByName(k)
			if !ok || !f.IsExported() || f.Name != k {
				return fmt.Errorf("cfn: %s: unknown field %q (names are case-sensitive)", path, k)
			}
			if err := exactFields(e, f.Type, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, e := range x {
			if err := exactFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// numbersFor turns numeric strings into numbers wherever typ holds a
// number.
func numbersFor(v any, typ reflect.Type) any {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if typ.Kind() != reflect.Struct {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if f, ok := typ.FieldByName(k); ok {
				out[k] = numbersFor(e, f.Type)
			} else {
				out[k] = e
			}
		}
		return out
	case []any:
		if typ.Kind() != reflect.Slice {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = numbersFor(e, typ.Elem())
		}
		return out
	case string:
		switch typ.Kind() {
		case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
			}
		}
	}
	return v
}
