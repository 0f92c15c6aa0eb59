package bluegreen

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
)

// The Elastic Load Balancing resource types of CloudFormation.
const (
	TypeLoadBalancer = "AWS::ElasticLoadBalancingV2::LoadBalancer"
	TypeTargetGroup  = "AWS::ElasticLoadBalancingV2::TargetGroup"
	TypeListener     = "AWS::ElasticLoadBalancingV2::Listener"
	TypeListenerRule = "AWS::ElasticLoadBalancingV2::ListenerRule"
)

// LoadBalancing holds a template's Elastic Load Balancing resources as
// the API inputs CloudFormation makes of them, by logical name.
type LoadBalancing struct {
	LoadBalancers map[string]*elbv2.CreateLoadBalancerInput
	TargetGroups  map[string]*elbv2.CreateTargetGroupInput
	Listeners     map[string]*elbv2.CreateListenerInput
	Rules         map[string]*elbv2.CreateRuleInput

	// The attributes CloudFormation sets after creating the resource.
	LoadBalancerAttributes map[string]*elbv2.ModifyLoadBalancerAttributesInput
	TargetGroupAttributes  map[string]*elbv2.ModifyTargetGroupAttributesInput
	ListenerAttributes     map[string]*elbv2.ModifyListenerAttributesInput
}

// followUp is a property CloudFormation passes to another API call than
// the one creating the resource: the value becomes field of the input
// newInput returns.
type followUp struct {
	field    string
	newInput func(lb *LoadBalancing, name string) any
}

// followUps lists, by resource type, the properties that are not fields
// of the create input. A property found in neither place is an error.
var followUps = map[string]map[string]followUp{
	TypeLoadBalancer: {"LoadBalancerAttributes": {"Attributes", func(lb *LoadBalancing, name string) any {
		in := &elbv2.ModifyLoadBalancerAttributesInput{}
		lb.LoadBalancerAttributes[name] = in
		return in
	}}},
	TypeTargetGroup: {"TargetGroupAttributes": {"Attributes", func(lb *LoadBalancing, name string) any {
		in := &elbv2.ModifyTargetGroupAttributesInput{}
		lb.TargetGroupAttributes[name] = in
		return in
	}}, "Targets": {"Targets", func(*LoadBalancing, string) any { return &elbv2.RegisterTargetsInput{} }}},
	TypeListener: {"ListenerAttributes": {"Attributes", func(lb *LoadBalancing, name string) any {
		in := &elbv2.ModifyListenerAttributesInput{}
		lb.ListenerAttributes[name] = in
		return in
	}}},
	TypeListenerRule: {},
}

// Decode decodes every AWS::ElasticLoadBalancingV2 resource of r strictly
// (cfn.DecodeProperties) into its create input, and the properties
// CloudFormation applies with a later call (attributes, targets) into
// that call's input. It reports every resource that does not decode, and
// resource types of the family it does not know.
func Decode(r *cfn.Resolved) (*LoadBalancing, error) {
	lb := &LoadBalancing{
		LoadBalancers:          map[string]*elbv2.CreateLoadBalancerInput{},
		TargetGroups:           map[string]*elbv2.CreateTargetGroupInput{},
		Listeners:              map[string]*elbv2.CreateListenerInput{},
		Rules:                  map[string]*elbv2.CreateRuleInput{},
		LoadBalancerAttributes: map[string]*elbv2.ModifyLoadBalancerAttributesInput{},
		TargetGroupAttributes:  map[string]*elbv2.ModifyTargetGroupAttributesInput{},
		ListenerAttributes:     map[string]*elbv2.ModifyListenerAttributesInput{},
	}
	var errs []error
	for _, name := range sortedNames(r) {
		res := r.Resources[name]
		if !strings.HasPrefix(res.Type, "AWS::ElasticLoadBalancingV2::") {
			continue
		}
		later, known := followUps[res.Type]
		if !known {
			errs = append(errs, fmt.Errorf("%s: %s is not a type this check decodes", name, res.Type))
			continue
		}
		create := map[string]any{}
		for k, v := range res.Properties {
			f, ok := later[k]
			if !ok {
				create[k] = v
				continue
			}
			if err := cfn.DecodeProperties(map[string]any{f.field: v}, f.newInput(lb, name)); err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): %s: %w", name, res.Type, k, err))
			}
		}
		var in any
		switch res.Type {
		case TypeLoadBalancer:
			x := &elbv2.CreateLoadBalancerInput{}
			lb.LoadBalancers[name], in = x, x
		case TypeTargetGroup:
			x := &elbv2.CreateTargetGroupInput{}
			lb.TargetGroups[name], in = x, x
		case TypeListener:
			x := &elbv2.CreateListenerInput{}
			lb.Listeners[name], in = x, x
		case TypeListenerRule:
			x := &elbv2.CreateRuleInput{}
			lb.Rules[name], in = x, x
		}
		if err := cfn.DecodeProperties(create, in); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s) does not decode strictly into %T: %w", name, res.Type, in, err))
		}
	}
	return lb, errors.Join(errs...)
}

func sortedNames(r *cfn.Resolved) []string {
	names := make([]string, 0, len(r.Resources))
	for name := range r.Resources {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
