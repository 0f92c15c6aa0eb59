package cfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Resolved is a template with every intrinsic function evaluated for one
// set of parameter values. Physical IDs and attributes of resources that
// do not exist yet are stand-ins shaped like the real ones.
type Resolved struct {
	Parameters map[string]any // value of every parameter, as Ref yields it
	Conditions map[string]bool
	Resources  map[string]ResolvedResource
	Outputs    map[string]any
	// GetAtts lists every attribute the template reads.
	GetAtts []GetAtt
}

// ResolvedResource is a resource with literal properties.
type ResolvedResource struct {
	Type       string
	Properties map[string]any
	// UpdatePolicy is the resolved UpdatePolicy attribute, nil when none.
	UpdatePolicy map[string]any
}

// GetAtt is one use of Fn::GetAtt (or ${Resource.Attribute} in Fn::Sub).
type GetAtt struct {
	Resource, Attribute string
	At                  string // where in the template
}

// Pseudo parameters and the values they resolve to here.
var pseudo = map[string]string{
	"AWS::Region":    "us-east-1",
	"AWS::AccountId": "123456789012",
	"AWS::StackName": "sidelight-ecs",
	"AWS::StackId":   "arn:aws:cloudformation:us-east-1:123456789012:stack/sidelight-ecs/1f3b5c70-0000-11ef-8000-0a0b0c0d0e0f",
	"AWS::Partition": "aws",
	"AWS::URLSuffix": "amazonaws.com",
}

// Resolve evaluates the template for the given parameter values (strings,
// as `aws cloudformation deploy --parameter-overrides` takes them).
// Parameters not given take their Default; a parameter with neither is an
// error, as is a value the parameter's constraints refuse.
func (t *Template) Resolve(values map[string]string) (*Resolved, error) {
	return t.resolve(values, values == nil)
}

func (t *Template) resolve(values map[string]string, placeholders bool) (*Resolved, error) {
	r := &Resolved{Parameters: map[string]any{}, Conditions: map[string]bool{}, Resources: map[string]ResolvedResource{}, Outputs: map[string]any{}}
	var errs []error
	for k := range values {
		if _, ok := t.Parameters[k]; !ok {
			errs = append(errs, fmt.Errorf("cfn: parameter %s is not in the template", k))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Parameters)) {
		p := t.Parameters[name]
		var raw any
		if v, ok := values[name]; ok {
			raw = v
		} else if p.Default != nil {
			raw = p.Default
		} else if placeholders {
			raw = placeholder(p)
		} else {
			errs = append(errs, fmt.Errorf("cfn: parameter %s has no Default and needs a value", name))
			continue
		}
		v, err := p.value(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("cfn: parameter %s: %w", name, err))
			continue
		}
		r.Parameters[name] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ev := evaluator{t: t, r: r}
	for _, name := range slices.Sorted(maps.Keys(t.Conditions)) {
		if _, err := ev.condition(name, "Conditions"); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(t.Resources)) {
		res := t.Resources[name]
		if res.Condition != "" && !r.Conditions[res.Condition] {
			continue
		}
		props := map[string]any{}
		if res.Properties != nil {
			v, err := ev.eval(map[string]any(res.Properties), "Resources/"+name+"/Properties")
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("cfn: resource %s: Properties must be an object", name))
				continue
			}
			props = m
		}
		var policy map[string]any
		if res.UpdatePolicy != nil {
			v, err := ev.eval(map[string]any(res.UpdatePolicy), "Resources/"+name+"/UpdatePolicy")
			if err != nil {
				errs = append(errs, err)
				continue
			}
			policy, _ = v.(map[string]any)
		}
		r.Resources[name] = ResolvedResource{Type: res.Type, Properties: props, UpdatePolicy: policy}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Outputs)) {
		o := t.Outputs[name]
		v, err := ev.eval(o.Value, "Outputs/"+name+"/Value")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.Outputs[name] = v
		if o.Export != nil {
			if _, err := ev.eval(o.Export.Name, "Outputs/"+name+"/Export/Name"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

func placeholder(p Parameter) any {
	if len(p.AllowedValues) > 0 {
		return p.AllowedValues[0]
	}
	switch p.Type {
	case "Number":
		if p.MinValue != nil {
			return *p.MinValue
		}
		return "1"
	case "AWS::EC2::VPC::Id":
		return "vpc-0123456789abcdef0"
	case "List<AWS::EC2::Subnet::Id>":
		return "subnet-0123456789abcdef0,subnet-0fedcba9876543210"
	case "AWS::EC2::SecurityGroup::Id", "List<AWS::EC2::SecurityGroup::Id>":
		return "sg-0123456789abcdef0"
	case "List<Number>":
		return "1"
	}
	return "placeholder"
}

type evaluator struct {
	t *Template
	r *Resolved
	// evaluating holds the conditions being evaluated, to catch cycles
	// (also through Fn::If inside Fn::Equals).
	evaluating map[string]bool
}

// noValue is what Ref AWS::NoValue yields: the property or list element
// holding it is left out.
type noValueType struct{}

var noValue = noValueType{}

// condition evaluates the named condition once.
func (e *evaluator) condition(name, at string) (bool, error) {
	if v, ok := e.r.Conditions[name]; ok {
		return v, nil
	}
	expr, ok := e.t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("cfn: %s: condition %q is not in Conditions", at, name)
	}
	if e.evaluating[name] {
		return false, fmt.Errorf("cfn: %s: condition %s refers to itself", at, name)
	}
	if e.evaluating == nil {
		e.evaluating = map[string]bool{}
	}
	e.evaluating[name] = true
	v, err := e.condExpr(expr, "Conditions/"+name)
	delete(e.evaluating, name)
	if err != nil {
		return false, err
	}
	e.r.Conditions[name] = v
	return v, nil
}

// condExpr evaluates a condition function.
func (e *evaluator) condExpr(expr any, at string) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("cfn: %s: a condition is one of Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition", at)
	}
	for fn, arg := range m {
		at := at + "/" + fn
		switch fn {
		case "Condition":
			name, ok := arg.(string)
			if !ok {
				return false, fmt.Errorf("cfn: %s: want a condition name", at)
			}
			return e.condition(name, at)
		case "Fn::Equals":
			args, ok := arg.([]any)
			if !ok || len(args) != 2 {
				return false, fmt.Errorf("cfn: %s: want two values", at)
			}
			var vals [2]string
			for i, a := range args {
				v, err := e.eval(a, at)
				if err != nil {
					return false, err
				}
				if vals[i], err = scalarString(v); err != nil {
					return false, fmt.Errorf("cfn: %s: %w", at, err)
				}
			}
			return vals[0] == vals[1], nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			args, ok := arg.([]any)
			if !ok || len(args) == 0 || (fn == "Fn::Not" && len(args) != 1) || len(args) > 10 {
				return false, fmt.Errorf("cfn: %s: wrong number of conditions", at)
			}
			all, any := true, false
			for i, a := range args {
				v, err := e.condExpr(a, fmt.Sprintf("%s/%d", at, i))
				if err != nil {
					return false, err
				}
				all, any = all && v, any || v
			}
			switch fn {
			case "Fn::Not":
				return !all, nil
			case "Fn::And":
				return all, nil
			}
			return any, nil
		}
		return false, fmt.Errorf("cfn: %s: %s is not a condition function", at, fn)
	}
	return false, nil
}

func (e *evaluator) eval(v any, at string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return e.intrinsic(k, arg, at)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return nil, fmt.Errorf("cfn: %s: %s must be the only key of its object", at, k)
			}
			r, err := e.eval(val, at+"/"+k)
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, val := range x {
			r, err := e.eval(val, fmt.Sprintf("%s/%d", at, i))
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	}
	return v, nil
}

func (e *evaluator) intrinsic(fn string, arg any, at string) (any, error) {
	at += "/" + fn
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("cfn: %s: want a logical name, got %v", at, arg)
		}
		return e.ref(name, at)
	case "Fn::If":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			return nil, fmt.Errorf("cfn: %s: want [condition, value if true, value if false]", at)
		}
		name, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("cfn: %s: want a condition name first", at)
		}
		c, err := e.condition(name, at)
		if err != nil {
			return nil, err
		}
		// Both branches are evaluated so that a dangling reference in
		// the one not taken is found too.
		yes, err := e.eval(args[1], at+"/1")
		if err != nil {
			return nil, err
		}
		no, err := e.eval(args[2], at+"/2")
		if err != nil {
			return nil, err
		}
		if c {
			return yes, nil
		}
		return no, nil
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			res, attr, ok := strings.Cut(a, ".")
			if ok {
				parts = []string{res, attr}
			}
		case []any:
			for _, p := range a {
				if s, ok := p.(string); ok {
					parts = append(parts, s)
				}
			}
			if len(parts) != len(a) {
				parts = nil
			}
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("cfn: %s: want [resource, attribute], got %v", at, arg)
		}
		return e.getAtt(parts[0], parts[1], at)
	case "Fn::Join":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fmt.Errorf("cfn: %s: want [delimiter, [values]]", at)
		}
		delim, ok := a[0].(string)
		if !ok {
			return nil, fmt.Errorf("cfn: %s: the delimiter must be a string", at)
		}
		list, err := e.eval(a[1], at+"/1")
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("cfn: %s: the values must be a list", at)
		}
		strs := make([]string, 0, len(items))
		for i, it := range items {
			s, err := scalarString(it)
			if err != nil {
				return nil, fmt.Errorf("cfn: %s/1/%d: %w", at, i, err)
			}
			strs = append(strs, s)
		}
		return strings.Join(strs, delim), nil
	case "Fn::Sub":
		var text string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			text = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("cfn: %s: want a string or [string, {variables}]", at)
			}
			s, ok1 := a[0].(string)
			m, ok2 := a[1].(map[string]any)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("cfn: %s: want a string or [string, {variables}]", at)
			}
			text = s
			for k, v := range m {
				r, err := e.eval(v, at+"/1/"+k)
				if err != nil {
					return nil, err
				}
				vars[k] = r
			}
		default:
			return nil, fmt.Errorf("cfn: %s: want a string or [string, {variables}]", at)
		}
		return e.sub(text, vars, at)
	case "Fn::Split":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fmt.Errorf("cfn: %s: want [delimiter, string]", at)
		}
		delim, ok := a[0].(string)
		if !ok || delim == "" {
			return nil, fmt.Errorf("cfn: %s: the delimiter must be a non-empty string", at)
		}
		v, err := e.eval(a[1], at+"/1")
		if err != nil {
			return nil, err
		}
		str, err := scalarString(v)
		if err != nil {
			return nil, fmt.Errorf("cfn: %s/1: %w", at, err)
		}
		var out []any
		for _, p := range strings.Split(str, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fmt.Errorf("cfn: %s: want [index, [values]]", at)
		}
		iv, err := e.eval(a[0], at+"/0")
		if err != nil {
			return nil, err
		}
		is, err := scalarString(iv)
		if err != nil {
			return nil, fmt.Errorf("cfn: %s/0: %w", at, err)
		}
		i, err := strconv.Atoi(is)
		if err != nil || i < 0 {
			return nil, fmt.Errorf("cfn: %s: index %q is not a non-negative integer", at, is)
		}
		list, err := e.eval(a[1], at+"/1")
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("cfn: %s: the values must be a list", at)
		}
		if i >= len(items) {
			return nil, fmt.Errorf("cfn: %s: index %d of a list of %d", at, i, len(items))
		}
		return items[i], nil
	}
	return nil, fmt.Errorf("cfn: %s: this checker does not support %s", at, fn)
}

func (e *evaluator) ref(name, at string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := pseudo[name]; ok {
		return v, nil
	}
	if v, ok := e.r.Parameters[name]; ok {
		return v, nil
	}
	if _, ok := e.t.Parameters[name]; ok {
		return nil, fmt.Errorf("cfn: %s: parameter %s has no value", at, name)
	}
	if res, ok := e.t.Resources[name]; ok {
		return physicalID(name, res.Type), nil
	}
	return nil, fmt.Errorf("cfn: %s: Ref to %q, which is neither a parameter nor a resource", at, name)
}

func (e *evaluator) getAtt(name, attr, at string) (any, error) {
	res, ok := e.t.Resources[name]
	if !ok {
		return nil, fmt.Errorf("cfn: %s: Fn::GetAtt on %q, which is not a resource", at, name)
	}
	e.r.GetAtts = append(e.r.GetAtts, GetAtt{Resource: name, Attribute: attr, At: at})
	svc := strings.ToLower(strings.Split(res.Type, "::")[1])
	if res.Type == "AWS::IAM::Role" && attr == "Arn" { // global: no region
		return "arn:aws:iam::123456789012:role/sidelight-" + name + "-1A2B3C4D5E6F", nil
	}
	if strings.HasSuffix(attr, "Arn") {
		return fmt.Sprintf("arn:aws:%s:us-east-1:123456789012:%s/%s", svc, strings.ToLower(name), strings.ToLower(name)), nil
	}
	switch attr {
	case "GroupId":
		return "sg-0a1b2c3d4e5f60718", nil
	case "DNSName":
		return strings.ToLower(name) + "-1234567890.us-east-1.elb.amazonaws.com", nil
	}
	return strings.ToLower(name) + "-" + strings.ToLower(attr), nil
}

// Ref returns the stand-in the resolver gives Ref to the resource name,
// and whether the template has that resource.
func (t *Template) Ref(name string) (string, bool) {
	res, ok := t.Resources[name]
	if !ok {
		return "", false
	}
	return physicalID(name, res.Type), true
}

// physicalID is a stand-in for what Ref returns for a resource.
func physicalID(name, typ string) string {
	lower := strings.ToLower(name)
	switch typ {
	case "AWS::EC2::SecurityGroup":
		return "sg-0f1e2d3c4b5a69788"
	case "AWS::ECS::TaskDefinition":
		return "arn:aws:ecs:us-east-1:123456789012:task-definition/sidelight-ecs-" + lower + ":1"
	case "AWS::ElasticLoadBalancingV2::ListenerRule":
		return "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/sidelight-ecs/0123456789abcdef/" + lower
	case "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ElasticLoadBalancingV2::Listener":
		return "arn:aws:elasticloadbalancing:us-east-1:123456789012:" + lower + "/app/sidelight-ecs/0123456789abcdef"
	case "AWS::Logs::LogGroup":
		return "/sidelight-ecs/" + lower
	}
	return "sidelight-ecs-" + lower + "-1A2B3C4D5E6F"
}

func (e *evaluator) sub(text string, vars map[string]any, at string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		b.WriteString(text[:i])
		end := strings.IndexByte(text[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("cfn: %s: unclosed ${ in %q", at, text[i:])
		}
		name := text[i+2 : i+end]
		text = text[i+end+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		name = strings.TrimSpace(name)
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v = x
		} else if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = e.getAtt(res, attr, at)
		} else {
			v, err = e.ref(name, at)
		}
		if err != nil {
			return "", err
		}
		s, err := scalarString(v)
		if err != nil {
			return "", fmt.Errorf("cfn: %s: ${%s}: %w", at, name, err)
		}
		b.WriteString(s)
	}
}

func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case float64:
		return fmt.Sprint(x), nil
	case bool:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("%v is not a string", v)
}
