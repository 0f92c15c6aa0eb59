// Package rollout holds a tutorial (README.md): ship a worse version of
// the demo service locally, let the local view's compare page judge it,
// and read the CloudWatch alarms and canary rollbacks that the same
// metrics drive in AWS (examples/ecs, examples/lambda/deploy). Its tests
// run the tutorial's commands and check its quotes of the templates.
package rollout
