// Package deployversion finds the version of the running service — the
// value that tells a canary from the release it replaces — and keeps the
// set of versions a metric may carry bounded.
//
// # Sources and precedence
//
// Each source yields a [Version] that remembers its [Source]. [Resolve]
// picks, among the versions it is given, the one whose source ranks
// first, whatever the order of its arguments:
//
//  1. [SourceOption]: a value the program sets explicitly ([Explicit]).
//  2. [SourceOTel]: service.version in OTEL_RESOURCE_ATTRIBUTES
//     ([FromResourceAttributes]), percent-decoded as the OpenTelemetry
//     SDK environment specification says.
//  3. [SourceLambdaVersion]: AWS_LAMBDA_FUNCTION_VERSION ([FromLambda]).
//     The alias a request came through (the qualifier of the invoked
//     function ARN) is not a version: under weighted routing one alias
//     sends requests to two versions, and it is exactly those two that a
//     rollout compares. [Lambda.Alias] is kept beside the version for an
//     annotation.
//  4. [SourceECSTaskDefinition]: family:revision of the task definition,
//     from the ECS task metadata endpoint v4 ([ParseECS], [FetchECS]).
//     Every ECS deployment that changes anything runs a new revision, and
//     a template can name it (the task definition's ARN ends in
//     family:revision), so alarms can select it.
//  5. [SourceECSImageTag]: the tag of the container's image, when the
//     task metadata has no family or revision and the tag is neither
//     absent nor "latest" (a tag that names no release).
//
// [Detect] goes through the sources in that order and stops at the
// first that answers, so the ECS metadata endpoint is only asked when
// nothing above it does.
//
// A version is at most [MaxLen] bytes of valid UTF-8 without control
// characters; longer values are cut at a character boundary, and control
// characters and invalid bytes become U+FFFD.
//
// # Bounded versions
//
// [Bounded] admits at most N distinct versions as metric dimension
// values. When a new version arrives and N are already held, the least
// recently seen one is retired and counted, so a service that is
// redeployed all day keeps a fixed number of series.
package deployversion
