// Package peers holds Sidelight's tests and benchmarks against peer
// libraries (aws-xray-sdk-go, OpenTelemetry's otelhttp) and against an
// OpenTelemetry Collector built from its published components (package
// collector). It is a module of its own so that none of those peers enter
// Sidelight's go.mod.
package peers
