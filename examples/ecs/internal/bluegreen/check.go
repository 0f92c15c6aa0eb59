package bluegreen

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
)

// InfrastructurePolicy is the AWS managed policy that lets ECS move
// traffic between the target groups of a load balancer.
const InfrastructurePolicy = "AmazonECSInfrastructureRolePolicyForLoadBalancers"

// Check decodes the template's load balancing resources (Decode) and, for
// every AWS::ECS::Service of r deployed with the BLUE_GREEN, CANARY or
// LINEAR strategy, checks each load balancer it registers in against
// what those strategies need (see the package comment). tm is the
// template r was resolved from: references are followed through the
// stand-in IDs it gives resources (cfn.Template.Ref) and the attributes r
// records (cfn.Resolved.GetAtts): load balancing resources by Ref (a
// Fn::GetAtt of, say, a rule's RuleArn is reported as not a Ref), the role
// by Fn::GetAtt Arn. A template with no such service is an error. Every
// problem found is reported.
func Check(tm *cfn.Template, r *cfn.Resolved) error {
	lb, err := Decode(r)
	errs := []error{err}
	refs := refIndex(tm)
	found := false
	for _, name := range sortedNames(r) {
		res := r.Resources[name]
		if res.Type != "AWS::ECS::Service" {
			continue
		}
		var svc ecs.CreateServiceInput
		if err := cfn.DecodeProperties(res.Properties, &svc); err != nil {
			errs = append(errs, fmt.Errorf("%s does not decode strictly into CreateServiceInput: %w", name, err))
			continue
		}
		dc := svc.DeploymentConfiguration
		if dc == nil || !slices.Contains([]ecstypes.DeploymentStrategy{ecstypes.DeploymentStrategyBlueGreen, ecstypes.DeploymentStrategyCanary, ecstypes.DeploymentStrategyLinear}, dc.Strategy) {
			continue
		}
		found = true
		c := &checker{name: name, r: r, lb: lb, refs: refs}
		c.service(&svc)
		errs = append(errs, c.errs...)
	}
	if !found {
		errs = append(errs, errors.New("no ECS service of the template deploys with the BLUE_GREEN, CANARY or LINEAR strategy"))
	}
	return errors.Join(errs...)
}

// refIndex maps the stand-in physical ID of each resource to its logical
// name ("" where two resources share a stand-in).
func refIndex(tm *cfn.Template) map[string]string {
	idx := map[string]string{}
	for name := range tm.Resources {
		id, _ := tm.Ref(name)
		if _, dup := idx[id]; dup {
			idx[id] = ""
			continue
		}
		idx[id] = name
	}
	return idx
}

type checker struct {
	name string // the service's logical name
	r    *cfn.Resolved
	lb   *LoadBalancing
	refs map[string]string
	errs []error
}

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(c.name+": "+format, args...))
}

// ref returns the logical name of the resource of type typ that the
// resolved value v refers to (by Ref), or "" after reporting what it is
// instead.
func (c *checker) ref(what string, v *string, typ string) string {
	if v == nil || *v == "" {
		c.fail("%s is not set", what)
		return ""
	}
	name := c.refs[*v]
	if name == "" {
		c.fail("%s %q is not a Ref to a resource of the template", what, *v)
		return ""
	}
	if got := c.r.Resources[name].Type; got != typ {
		c.fail("%s refers to %s, a %s; want a %s", what, name, got, typ)
		return ""
	}
	return name
}

func (c *checker) service(svc *ecs.CreateServiceInput) {
	if ctl := svc.DeploymentController; ctl != nil && ctl.Type != ecstypes.DeploymentControllerTypeEcs {
		c.fail("deployment controller %s; ECS's own strategies need ECS", ctl.Type)
	}
	if len(svc.LoadBalancers) == 0 {
		c.fail("deploys with %s but registers in no load balancer", svc.DeploymentConfiguration.Strategy)
	}
	awsvpc := svc.NetworkConfiguration != nil && svc.NetworkConfiguration.AwsvpcConfiguration != nil
	for i, l := range svc.LoadBalancers {
		c.loadBalancer(fmt.Sprintf("LoadBalancers[%d]", i), l, awsvpc)
	}
}

func (c *checker) loadBalancer(at string, l ecstypes.LoadBalancer, awsvpc bool) {
	ac := l.AdvancedConfiguration
	if ac == nil {
		c.fail("%s has no AdvancedConfiguration (alternate target group, listener rules, role)", at)
		return
	}
	primary := c.ref(at+".TargetGroupArn", l.TargetGroupArn, TypeTargetGroup)
	alt := c.ref(at+".AdvancedConfiguration.AlternateTargetGroupArn", ac.AlternateTargetGroupArn, TypeTargetGroup)
	if primary == "" || alt == "" {
		return
	}
	if primary == alt {
		c.fail("%s: the alternate target group is the primary one (%s)", at, primary)
		return
	}
	c.targetGroups(at, primary, alt, awsvpc)

	prodLB := c.listenerRule(at+".AdvancedConfiguration.ProductionListenerRule", ac.ProductionListenerRule, primary, alt)
	if ac.TestListenerRule != nil {
		if *ac.TestListenerRule == aws(ac.ProductionListenerRule) {
			c.fail("%s: the test listener rule is the production one", at)
		}
		if testLB := c.listenerRule(at+".AdvancedConfiguration.TestListenerRule", ac.TestListenerRule, primary, alt); testLB != "" && prodLB != "" && testLB != prodLB {
			c.fail("%s: the test listener rule is on load balancer %s, the production one on %s", at, testLB, prodLB)
		}
	}
	c.role(at, aws(ac.RoleArn))
}

func aws(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// targetGroups checks that the two target groups differ only in name and
// tags: ECS moves the same tasks from one to the other.
func (c *checker) targetGroups(at, primary, alt string, awsvpc bool) {
	same := func(name string) elbv2.CreateTargetGroupInput {
		in := *c.lb.TargetGroups[name]
		in.Name, in.Tags = nil, nil
		return in
	}
	if !reflect.DeepEqual(same(primary), same(alt)) {
		c.fail("%s: target groups %s and %s differ; the two groups of a blue/green pair must be alike", at, primary, alt)
	}
	attrs := func(name string) []elbtypes.TargetGroupAttribute {
		if in := c.lb.TargetGroupAttributes[name]; in != nil {
			return in.Attributes
		}
		return nil
	}
	if !reflect.DeepEqual(attrs(primary), attrs(alt)) {
		c.fail("%s: target groups %s and %s have different attributes", at, primary, alt)
	}
	if tg := c.lb.TargetGroups[primary]; awsvpc && tg.TargetType != elbtypes.TargetTypeEnumIp {
		c.fail("%s: target group %s has target type %q; tasks in awsvpc mode register by IP", at, primary, tg.TargetType)
	}
}

// listenerRule checks the production or test listener rule v and returns
// the logical name of its load balancer ("" if it could not be found).
// With an Application Load Balancer it must be a listener rule (ECS
// refuses a listener's ARN), with a Network Load Balancer a listener.
func (c *checker) listenerRule(what string, v *string, primary, alt string) string {
	if v == nil || *v == "" {
		c.fail("%s is not set; ECS shifts traffic by changing that rule's weights", what)
		return ""
	}
	var actions []elbtypes.Action
	var listener string
	switch name := c.refs[*v]; c.r.Resources[name].Type {
	case TypeListenerRule:
		rule := c.lb.Rules[name]
		if rule == nil {
			return "" // did not decode: reported
		}
		actions = rule.Actions
		if listener = c.ref(what+" → "+name+".ListenerArn", rule.ListenerArn, TypeListener); listener == "" {
			return ""
		}
	case TypeListener:
		l := c.lb.Listeners[name]
		if l == nil {
			return ""
		}
		lbName := c.refs[aws(l.LoadBalancerArn)]
		if lbIn := c.lb.LoadBalancers[lbName]; lbIn == nil || lbIn.Type != elbtypes.LoadBalancerTypeEnumNetwork {
			c.fail("%s is listener %s, not a listener rule: with an Application Load Balancer ECS needs the rule's ARN", what, name)
			return ""
		}
		listener, actions = name, l.DefaultActions
	default:
		c.ref(what, v, TypeListenerRule) // reports what it is instead
		return ""
	}
	l := c.lb.Listeners[listener]
	if l == nil {
		return ""
	}
	lbName := c.ref(what+" → "+listener+".LoadBalancerArn", l.LoadBalancerArn, TypeLoadBalancer)
	c.forward(what, actions, primary, alt)
	return lbName
}

// forward checks that actions are one forward action (ECS cannot shift
// traffic on rules mixing forward with other actions) to exactly the
// primary target group, weight 100, and the alternate, weight 0.
func (c *checker) forward(what string, actions []elbtypes.Action, primary, alt string) {
	if len(actions) != 1 || actions[0].Type != elbtypes.ActionTypeEnumForward {
		types := make([]string, len(actions))
		for i, a := range actions {
			types[i] = string(a.Type)
		}
		c.fail("%s has actions %v; ECS needs exactly one forward action", what, types)
		return
	}
	fc := actions[0].ForwardConfig
	if fc == nil || len(fc.TargetGroups) != 2 {
		c.fail("%s does not forward to both target groups (ForwardConfig with %s and %s)", what, primary, alt)
		return
	}
	if single := actions[0].TargetGroupArn; single != nil {
		c.fail("%s sets TargetGroupArn %s beside ForwardConfig", what, *single)
	}
	want := map[string]int32{primary: 100, alt: 0}
	for i, tg := range fc.TargetGroups {
		name := c.ref(fmt.Sprintf("%s.ForwardConfig.TargetGroups[%d]", what, i), tg.TargetGroupArn, TypeTargetGroup)
		w, ok := want[name]
		switch {
		case name != "" && !ok && (name == primary || name == alt):
			c.fail("%s forwards to %s twice", what, name)
			continue
		case name != "" && !ok:
			c.fail("%s forwards to %s, neither the primary (%s) nor the alternate (%s) target group", what, name, primary, alt)
			continue
		}
		if name != "" && (tg.Weight == nil || *tg.Weight != w) {
			c.fail("%s: %s has weight %v; want %d (production traffic on the primary until a deployment)", what, name, ptrString(tg.Weight), w)
		}
		delete(want, name)
	}
	for name := range want {
		c.fail("%s does not forward to %s", what, name)
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// role checks the infrastructure role: Fn::GetAtt Arn of a role of the
// template that ECS may assume and that holds InfrastructurePolicy.
func (c *checker) role(at, arn string) {
	if arn == "" {
		c.fail("%s.AdvancedConfiguration.RoleArn is not set; ECS needs a role to change the listener rules", at)
		return
	}
	prefix := "Resources/" + c.name + "/Properties/" + strings.ReplaceAll(strings.ReplaceAll(at, "[", "/"), "]", "") + "/AdvancedConfiguration/RoleArn/"
	name := ""
	for _, g := range c.r.GetAtts {
		if strings.HasPrefix(g.At, prefix) && g.Attribute == "Arn" {
			name = g.Resource
		}
	}
	if res, ok := c.r.Resources[name]; !ok || res.Type != "AWS::IAM::Role" {
		c.fail("%s.AdvancedConfiguration.RoleArn %s is not the Arn of a role of the template", at, arn)
		return
	}
	props := c.r.Resources[name].Properties
	if !trustsECS(props["AssumeRolePolicyDocument"]) {
		c.fail("role %s does not let ecs.amazonaws.com assume it", name)
	}
	managed, _ := props["ManagedPolicyArns"].([]any)
	if !slices.ContainsFunc(managed, func(v any) bool {
		s, _ := v.(string)
		return strings.HasSuffix(s, ":iam::aws:policy/"+InfrastructurePolicy)
	}) {
		c.fail("role %s does not hold the managed policy %s", name, InfrastructurePolicy)
	}
}

// trustsECS says whether a trust policy lets the ECS service principal
// call sts:AssumeRole.
func trustsECS(doc any) bool {
	d, _ := doc.(map[string]any)
	stmts, _ := d["Statement"].([]any)
	for _, s := range stmts {
		st, _ := s.(map[string]any)
		p, _ := st["Principal"].(map[string]any)
		if st["Effect"] == "Allow" && slices.Contains(cfn.Strings(p["Service"]), "ecs.amazonaws.com") && slices.Contains(cfn.Strings(st["Action"]), "sts:AssumeRole") {
			return true
		}
	}
	return false
}
