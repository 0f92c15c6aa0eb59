package cfn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Template is a parsed template. Only the sections the example uses are
// accepted.
type Template struct {
	AWSTemplateFormatVersion string               `json:"AWSTemplateFormatVersion"`
	Description              string               `json:"Description"`
	Metadata                 map[string]any       `json:"Metadata"`
	Parameters               map[string]Parameter `json:"Parameters"`
	// Conditions are evaluated with Fn::Equals, Fn::Not, Fn::And, Fn::Or
	// and Condition; a resource's Condition and Fn::If read them.
	Conditions map[string]any      `json:"Conditions"`
	Resources  map[string]Resource `json:"Resources"`
	Outputs    map[string]Output   `json:"Outputs"`
}

// Parameter is a template parameter.
type Parameter struct {
	Type                  string   `json:"Type"`
	Default               any      `json:"Default"`
	Description           string   `json:"Description"`
	AllowedValues         []any    `json:"AllowedValues"`
	AllowedPattern        string   `json:"AllowedPattern"`
	ConstraintDescription string   `json:"ConstraintDescription"`
	MinValue              *float64 `json:"MinValue"`
	MaxValue              *float64 `json:"MaxValue"`
	MinLength             *int     `json:"MinLength"`
	MaxLength             *int     `json:"MaxLength"`
	NoEcho                bool     `json:"NoEcho"`
}

// Resource is a template resource.
type Resource struct {
	Type string `json:"Type"`
	// Condition names a condition; when it is false the resource is not
	// created (Resolve leaves it out).
	Condition           string         `json:"Condition"`
	Properties          map[string]any `json:"Properties"`
	DependsOn           any            `json:"DependsOn"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
	Metadata            map[string]any `json:"Metadata"`
	// UpdatePolicy is checked only for CodeDeployLambdaAliasUpdate on an
	// AWS::Lambda::Alias (the other policies are refused).
	UpdatePolicy map[string]any `json:"UpdatePolicy"`
}

// codeDeployAliasUpdate lists the attributes of CodeDeployLambdaAliasUpdate
// and whether each is required (AWS CloudFormation User Guide, "UpdatePolicy
// attribute").
var codeDeployAliasUpdate = map[string]bool{"ApplicationName": true, "DeploymentGroupName": true, "BeforeAllowTrafficHook": false, "AfterAllowTrafficHook": false}

// Output is a template output.
type Output struct {
	Description string `json:"Description"`
	Value       any    `json:"Value"`
	Export      *struct {
		Name any `json:"Name"`
	} `json:"Export"`
}

// parameterTypes are the parameter types the checker knows how to fill.
var parameterTypes = []string{
	"String", "Number", "CommaDelimitedList", "List<Number>",
	"AWS::EC2::VPC::Id", "AWS::EC2::SecurityGroup::Id", "List<AWS::EC2::Subnet::Id>", "List<AWS::EC2::SecurityGroup::Id>",
}

var logicalID = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)

// Parse decodes a JSON template, rejecting unknown sections and attributes,
// and checks what does not need the resource schemas: logical IDs,
// parameter types and defaults, and that every Ref, Fn::GetAtt, Fn::Sub
// variable and DependsOn names something that exists.
func Parse(data []byte) (*Template, error) {
	// encoding/json matches names case-insensitively; CloudFormation does
	// not, so the names are checked exactly first.
	if err := exactKeys(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var t Template
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("cfn: template: %w", err)
	}
	if dec.More() {
		return nil, errors.New("cfn: template: data after the top-level object")
	}
	if t.AWSTemplateFormatVersion != "" && t.AWSTemplateFormatVersion != "2010-09-09" {
		return nil, fmt.Errorf("cfn: AWSTemplateFormatVersion %q: the only version is 2010-09-09", t.AWSTemplateFormatVersion)
	}
	if len(t.Resources) == 0 {
		return nil, errors.New("cfn: a template needs at least one resource")
	}
	var errs []error
	for name := range t.Conditions {
		if !logicalID.MatchString(name) {
			errs = append(errs, fmt.Errorf("cfn: condition name %q is not alphanumeric", name))
		}
	}
	for name, p := range t.Parameters {
		if !logicalID.MatchString(name) {
			errs = append(errs, fmt.Errorf("cfn: parameter name %q is not alphanumeric", name))
		}
		if _, clash := t.Resources[name]; clash {
			errs = append(errs, fmt.Errorf("cfn: %q is both a parameter and a resource", name))
		}
		if !slices.Contains(parameterTypes, p.Type) {
			errs = append(errs, fmt.Errorf("cfn: parameter %s: type %q is not supported", name, p.Type))
			continue
		}
		if p.Default != nil {
			if _, err := p.value(p.Default); err != nil {
				errs = append(errs, fmt.Errorf("cfn: parameter %s: Default: %w", name, err))
			}
		}
	}
	for name, r := range t.Resources {
		if !logicalID.MatchString(name) {
			errs = append(errs, fmt.Errorf("cfn: resource name %q is not alphanumeric", name))
		}
		if strings.Count(r.Type, "::") != 2 {
			errs = append(errs, fmt.Errorf("cfn: resource %s: type %q is not Service::Provider::Resource", name, r.Type))
		}
		if _, ok := t.Conditions[r.Condition]; r.Condition != "" && !ok {
			errs = append(errs, fmt.Errorf("cfn: resource %s: Condition %q is not in Conditions", name, r.Condition))
		}
		for _, dep := range dependsOn(r.DependsOn) {
			if _, ok := t.Resources[dep]; !ok || dep == name {
				errs = append(errs, fmt.Errorf("cfn: resource %s: DependsOn %q is not another resource", name, dep))
			}
		}
		if _, ok := r.DependsOn.(json.Number); ok {
			errs = append(errs, fmt.Errorf("cfn: resource %s: DependsOn must be a name or a list of names", name))
		}
		for policy, v := range r.UpdatePolicy {
			m, ok := v.(map[string]any)
			if policy != "CodeDeployLambdaAliasUpdate" || r.Type != "AWS::Lambda::Alias" || !ok {
				errs = append(errs, fmt.Errorf("cfn: resource %s: UpdatePolicy %s is not supported here (only CodeDeployLambdaAliasUpdate, on an AWS::Lambda::Alias)", name, policy))
				continue
			}
			for k := range m {
				if _, known := codeDeployAliasUpdate[k]; !known {
					errs = append(errs, fmt.Errorf("cfn: resource %s: UpdatePolicy/%s: unknown name %q (names are case-sensitive)", name, policy, k))
				}
			}
			for k, required := range codeDeployAliasUpdate {
				if _, set := m[k]; required && !set {
					errs = append(errs, fmt.Errorf("cfn: resource %s: UpdatePolicy/%s needs %s", name, policy, k))
				}
			}
		}
		for _, p := range []struct{ attr, v string }{{"DeletionPolicy", r.DeletionPolicy}, {"UpdateReplacePolicy", r.UpdateReplacePolicy}} {
			if p.v != "" && !slices.Contains([]string{"Delete", "Retain", "RetainExceptOnCreate", "Snapshot"}, p.v) {
				errs = append(errs, fmt.Errorf("cfn: resource %s: %s %q", name, p.attr, p.v))
			}
		}
	}
	for name, o := range t.Outputs {
		if !logicalID.MatchString(name) {
			errs = append(errs, fmt.Errorf("cfn: output name %q is not alphanumeric", name))
		}
		if o.Value == nil {
			errs = append(errs, fmt.Errorf("cfn: output %s has no Value", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Resolving with placeholder parameter values finds every dangling
	// reference and unsupported function without the schemas.
	if _, err := t.Resolve(nil); err != nil {
		return nil, err
	}
	return &t, nil
}

func dependsOn(v any) []string {
	switch d := v.(type) {
	case string:
		return []string{d}
	case []any:
		var out []string
		for _, e := range d {
			s, ok := e.(string)
			if !ok {
				s = fmt.Sprint(e)
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// value checks v, given as a parameter value, against the parameter's
// type and constraints and returns it as Ref yields it: a string, a
// number for Number, a list of strings for list types.
func (p Parameter) value(v any) (any, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case []string:
		s = strings.Join(x, ",")
	default:
		return nil, fmt.Errorf("value %v is not a string or number", v)
	}
	if len(p.AllowedValues) > 0 {
		ok := false
		for _, a := range p.AllowedValues {
			ok = ok || fmt.Sprint(a) == s
		}
		if !ok {
			return nil, fmt.Errorf("value %q is not one of %v", s, p.AllowedValues)
		}
	}
	if p.AllowedPattern != "" {
		re, err := regexp.Compile("^(?:" + p.AllowedPattern + ")$")
		if err != nil {
			return nil, fmt.Errorf("AllowedPattern: %w", err)
		}
		if !re.MatchString(s) {
			return nil, fmt.Errorf("value %q does not match %s", s, p.AllowedPattern)
		}
	}
	if p.MinLength != nil && len(s) < *p.MinLength || p.MaxLength != nil && len(s) > *p.MaxLength {
		return nil, fmt.Errorf("value %q has the wrong length", s)
	}
	switch {
	case p.Type == "Number":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a number", s)
		}
		if p.MinValue != nil && f < *p.MinValue || p.MaxValue != nil && f > *p.MaxValue {
			return nil, fmt.Errorf("value %v is out of range", f)
		}
		return f, nil
	case strings.HasPrefix(p.Type, "List<") || p.Type == "CommaDelimitedList":
		if s == "" {
			return nil, errors.New("empty list")
		}
		var out []any
		for _, e := range strings.Split(s, ",") {
			out = append(out, strings.TrimSpace(e))
		}
		return out, nil
	case p.Type == "AWS::EC2::VPC::Id" && !strings.HasPrefix(s, "vpc-"):
		return nil, fmt.Errorf("%q is not a VPC ID", s)
	}
	return s, nil
}

// Exact names of the template's sections and of their entries' attributes.
var (
	sectionNames   = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Conditions", "Resources", "Outputs"}
	parameterNames = []string{"Type", "Default", "Description", "AllowedValues", "AllowedPattern", "ConstraintDescription", "MinValue", "MaxValue", "MinLength", "MaxLength", "NoEcho"}
	resourceNames  = []string{"Type", "Condition", "Properties", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "Metadata"}
	outputNames    = []string{"Description", "Value", "Export"}
)

func exactKeys(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return fmt.Errorf("cfn: template: %w", err)
	}
	var errs []error
	check := func(where string, m map[string]json.RawMessage, allowed []string) {
		for k := range m {
			if !slices.Contains(allowed, k) {
				errs = append(errs, fmt.Errorf("cfn: %s: unknown name %q (names are case-sensitive)", where, k))
			}
		}
	}
	check("template", top, sectionNames)
	for section, allowed := range map[string][]string{"Parameters": parameterNames, "Resources": resourceNames, "Outputs": outputNames} {
		var entries map[string]map[string]json.RawMessage
		if raw, ok := top[section]; ok {
			if err := json.Unmarshal(raw, &entries); err != nil {
				errs = append(errs, fmt.Errorf("cfn: %s: %w", section, err))
				continue
			}
		}
		for name, e := range entries {
			check(section+"/"+name, e, allowed)
		}
	}
	return errors.Join(errs...)
}
