// Package bluegreen checks, in a resolved CloudFormation template, what
// ECS's built-in blue/green, canary and linear deployments need from the
// load balancer side, for the ECS example's tests (template.json and the
// CDK app's synthesized template alike).
//
// Decode reads every AWS::ElasticLoadBalancingV2 resource strictly into
// the Elastic Load Balancing API inputs CloudFormation turns it into
// (CreateLoadBalancerInput, CreateTargetGroupInput, CreateListenerInput,
// CreateRuleInput, and the Modify…AttributesInput of attributes), so a
// misspelt or misplaced property fails even where the resource schema
// would let it through.
//
// Check then follows the references of each ECS service deployed with
// one of those strategies, as the ECS developer guide describes them
// ("Application Load Balancer resources for blue/green, linear, and
// canary deployments", and its troubleshooting page): the ECS deployment
// controller; a primary and a different alternate target group, both
// target groups of the template and alike; a production listener rule
// (the rule, not its listener) whose only actions are forward actions
// sending to exactly those two target groups, primary 100 and alternate
// 0; the same for an optional test listener rule, on the same load
// balancer; and an infrastructure role that ECS can assume and that holds
// the AWS managed policy for load balancers.
package bluegreen
