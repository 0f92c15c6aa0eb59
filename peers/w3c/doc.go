// Package w3c checks that traces cross between OpenTelemetry services
// instrumented with otelhttp and Sidelight services over real HTTP, with
// W3C Trace Context only, X-Amzn-Trace-Id only, and both headers.
package w3c
