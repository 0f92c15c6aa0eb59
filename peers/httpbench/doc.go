// Package httpbench measures what tracing costs an HTTP handler, with
// Sidelight's middleware and its peers side by side in one run:
//
//   - a bare handler;
//   - middleware.HTTP sending every segment over UDP;
//   - aws-xray-sdk-go's xray.Handler sending over UDP;
//   - otelhttp with the OpenTelemetry SDK's batch span processor, the X-Ray
//     propagator and ID generator, exporting X-Ray documents over UDP.
//
// The Realistic benchmarks serve the request of issue 14 (a trace header
// with Sampled=1, X-Forwarded-For, a browser user agent) through the bare
// handler, the middleware with the UDP emitter and with exporter/otlp,
// otelhttp with the batch span processor and otlptracehttp (with the
// processor's defaults, which drop spans when its queue is full, and with
// WithBlocking, which delivers every span), and xray.Handler; the OTLP
// variants post to an OTLP/HTTP receiver process.
//
// Every UDP sink is a separate process that drains its socket and counts
// datagrams, so the sink's work does not land on the measured process, and
// each benchmark reports the share of requests whose trace arrived.
package httpbench
