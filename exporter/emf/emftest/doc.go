// Package emftest provides an in-memory emf.Sink for tests, like
// OpenTelemetry's tracetest: it keeps every document written to it so a
// test can assert on what a Logger, the RED recorder or the OpenTelemetry
// exporter emitted (Documents, Decoded, and Values to gather one metric's
// values across split documents).
package emftest
