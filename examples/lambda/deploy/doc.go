// Package deploy holds the Lambda example's CloudFormation template
// (template.json) and the tests that check it: a function published as
// a version behind the alias live, and a CodeDeploy deployment group
// that shifts the alias 10% to a new version for five minutes
// (CodeDeployDefault.LambdaCanary10Percent5Minutes) and rolls back when
// Sidelight's per-version error rate or p99 duration alarms.
package deploy
