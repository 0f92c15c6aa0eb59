// Package cfn checks the examples' CloudFormation templates (examples/ecs,
// examples/lambda) the way the service would before creating anything:
// the template's own structure (sections, parameters, references between
// resources), then every resource's Properties against the CloudFormation
// resource provider schema of its type, after the intrinsic functions the
// templates use (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split,
// Fn::Select, and Fn::If with the Conditions section) are resolved with the
// parameter values of a deployment. A resource whose Condition is false is
// left out, as CloudFormation does not create it, and Ref AWS::NoValue
// removes the property or list element that holds it.
//
// It is deliberately small: it supports the intrinsic functions above and
// refuses the others, so a template that passes here uses nothing this
// checker cannot see through.
package cfn
