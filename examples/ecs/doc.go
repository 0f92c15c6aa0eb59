// Package ecs holds the ECS deployment example and the tests that keep it
// honest. It has no Go API: the artifacts are files.
//
//   - taskdef.json: the task definition for `aws ecs register-task-definition
//     --cli-input-json`, with the orders service (app/) and the Sidelight
//     sidecar; the app waits for the sidecar's `health` check.
//   - template.json: a CloudFormation stack with the same task on Fargate
//     behind a load balancer, a least-privilege task role, alarms on the
//     middleware's fault rate and p99 latency, and a RED dashboard.
//   - README.md: the tutorial.
//
// The tests decode the task definition strictly into the AWS SDK's
// RegisterTaskDefinitionInput, check the template against the
// CloudFormation resource provider schemas, check that every metric the
// alarms and the dashboard read is one the middleware really emits (with
// the same namespace and dimensions), run the sidecar's health check and
// the app as the task would, and check every command of the tutorial.
package ecs
