// Package otlpcompat compares what Sidelight's OTLP exporter
// (exporter/otlp) sends for a request with what otelhttp and the
// OpenTelemetry SDK's otlptracehttp exporter send for the same request:
// both requests are decoded with go.opentelemetry.io/proto/otlp and
// compared field by field, the differences listed in TestSameRequestAsOtelHTTP.
package otlpcompat
