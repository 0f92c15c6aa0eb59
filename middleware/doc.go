// Package middleware makes Go services observable in AWS with one line.
//
// [HTTP] wraps any http.Handler (or plugs into routers as
// r.Use(middleware.HTTP())): every request becomes an X-Ray segment, sent
// to the X-Ray daemon or the Sidelight sidecar without ever blocking the
// request. Incoming X-Amzn-Trace-Id and W3C traceparent headers are
// continued, X-Amzn-Trace-Id first when they disagree
// ([WithTraceHeaderOrder] changes that); handlers add
// annotations and metadata through the request context ([AddAnnotation],
// [AddMetadata]); [Transport] and [AWS] record outgoing HTTP and AWS SDK
// calls as subsegments and pass the trace on in both X-Amzn-Trace-Id and
// traceparent (with any tracestate that came in). The same middleware writes
// request metrics (rate, errors, duration) in CloudWatch Embedded Metric
// Format ([NewMetrics], [WithMetrics]) and, for every request that carries
// Origin, the CORS verdict a browser would reach (package corscheck).
//
// [Lambda] wraps an AWS Lambda handler for lambda.Start: each invocation
// becomes a subsegment of Lambda's own segment, with cold starts, faults,
// an early report when the invocation is about to time out, and metrics
// per invocation ([AddMetric]), all flushed before the handler returns.
//
// The request context also carries an OpenTelemetry span context with the
// same trace and segment IDs, so spans that handlers start with the
// OpenTelemetry API (with an SDK tracer provider that uses
// xray.NewSpanProcessor) become subsegments of the request's segment, and
// the OpenTelemetry X-Ray and W3C TraceContext propagators see the trace
// too, whichever header it came in (a W3C trace ID is the same 128 bits as
// the X-Ray one: 5759e988bd862e3fe1be46a994272793 is
// 1-5759e988-bd862e3fe1be46a994272793). The span context carries the
// incoming tracestate.
package middleware
