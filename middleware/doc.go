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
// Format and, for every request that carries Origin, the CORS verdict a
// browser would reach (package corscheck).
//
// [Lambda] wraps an AWS Lambda handler for lambda.Start: each invocation
// becomes a subsegment of Lambda's own segment, with cold starts, faults,
// an early report when the invocation is about to time out, and metrics
// per invocation ([AddMetric]), all flushed before the handler returns.
//
// # The kit
//
// A [Kit] owns what the middleware sends and starts: the trace exporter,
// the metrics recorders, the lookup of ECS or EC2 metadata, and the CORS
// checker. Make one per service with [New], build middleware with its
// methods, and shut it down when the service stops:
//
//	kit, err := middleware.New(middleware.WithServiceName("orders"))
//	defer kit.Shutdown(ctx)
//	http.ListenAndServe(":8080", kit.HTTP()(mux))
//
// A kit starts no goroutine until there is something to send, and
// [Kit.Shutdown] sends what is pending and leaves none. The package-level
// functions are conveniences over the default kit ([Default]), made on
// first use; [WithKit] points them at another (Lambda, being generic, is
// only a package-level function).
//
// Finished segments go to an xray.SegmentExporter: by default the X-Ray
// UDP emitter the kit makes for AWS_XRAY_DAEMON_ADDRESS;
// [WithSegmentExporter] gives another, such as the OTLP/HTTP exporter of
// package exporter/otlp, or xraytest.NewRecorder in your own tests.
//
// # Settings
//
// Defaults come from the variables the AWS and OpenTelemetry SDKs read,
// and options override them:
//
//   - AWS_XRAY_DAEMON_ADDRESS: where the X-Ray emitter sends, and where the
//     X-Ray sampling rules are fetched from.
//   - AWS_XRAY_TRACING_NAME, OTEL_SERVICE_NAME, service.name in
//     OTEL_RESOURCE_ATTRIBUTES, AWS_EMF_SERVICE_NAME, AWS_LAMBDA_FUNCTION_NAME,
//     in that order:
//     the service name ([WithServiceName]).
//   - OTEL_RESOURCE_ATTRIBUTES: key=value pairs, keys and values
//     percent-decoded;
//     service.version is the running version ([WithServiceVersion]). One
//     malformed pair discards the variable (reported by New and logged).
//   - OTEL_TRACES_EXPORTER: "xray" (the default) or "none". "otlp" needs
//     the exporter of package exporter/otlp given with WithSegmentExporter,
//     which this package does not link: without it the kit logs an error
//     and sends no traces.
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: always_on,
//     always_off, traceidratio and their parentbased_ forms. Unset (or
//     "xray"), X-Ray sampling rules decide ([WithSamplingRules]), following
//     the incoming Sampled decision.
//   - OTEL_SDK_DISABLED=true: no traces and no metrics, unless an option
//     asks for them.
//   - OTEL_PROPAGATORS: which incoming trace header wins
//     ([WithTraceHeaderOrder]).
//   - AWS_EMF_NAMESPACE, POWERTOOLS_METRICS_NAMESPACE: the metrics
//     namespace ([WithMetricsNamespace]).
//   - ECS_CONTAINER_METADATA_URI_V4, AWS_EC2_METADATA_SERVICE_ENDPOINT:
//     where the service runs ([WithECSMetadata], [WithEC2Metadata]).
//   - SIDELIGHT_METRICS_BY_VERSION=true (or 1): the request metrics of
//     HTTP and the invocation metrics of Lambda carry the dimension set
//     [Service, Version] as well ([WithMetricsByVersion]).
//
// # Version
//
// The kit resolves the running version once, the first source that
// answers winning: [WithServiceVersion], service.version in
// OTEL_RESOURCE_ATTRIBUTES, AWS_LAMBDA_FUNCTION_VERSION, then the task
// definition family:revision (else a release-naming image tag) in the
// ECS task metadata, read in the background with the container's details
// (so segments and metrics carry it once that read has answered). Every
// segment carries it as service.version and as the Version annotation,
// named like the metric dimension; a Lambda invocation made through an
// alias also carries the alias annotation. With
// SIDELIGHT_METRICS_BY_VERSION or [WithMetricsByVersion], metrics carry
// [Service, Version] too, for rollback alarms on the new version alone;
// a kit writes series for at most three versions, a new one retiring the
// least recently seen ([Kit.VersionStats]; the first retirement is
// logged). With the switch off nothing is added per request.
//
// OTEL_EXPORTER_OTLP_* are read by the OTLP exporter, not here.
//
// # Lambda
//
// [Lambda] and [LambdaHandler] wrap request/response handlers;
// [LambdaURL] serves a function URL in response-streaming mode with an
// http.Handler. All three take the trace context of each invocation from
// the runtime (never from _X_AMZN_TRACE_ID), so several invocations may
// run in one process at once (AWS_LAMBDA_MAX_CONCURRENCY), and count one
// cold start per kit. The tenant ID of a tenant-isolated function is the
// tenant_id annotation and EMF property; with [WithMetricsByTenant] it is
// also the dimension set [Service, TenantID], bounded like the versions
// ([Kit.TenantStats]).
//
// # Names
//
// Metric names and dimensions are PascalCase, as CloudWatch's own (Latency,
// ColdStart; Service, Route, FunctionName), and HTTP and Lambda metrics of
// one service share the Service dimension. Annotations are snake_case
// (route, cold_start, service, timeout, event_source, alias, cors_*), so one
// X-Ray filter expression style finds them all; Version, named like the
// metric dimension it matches, is the exception.
//
// # OpenTelemetry
//
// The request context also carries an OpenTelemetry span context with the
// same trace and segment IDs, so spans that handlers start with the
// OpenTelemetry API (with an SDK tracer provider that uses
// xray.NewSpanProcessor(kit.Exporter())) become subsegments of the
// request's segment, and the OpenTelemetry X-Ray and W3C TraceContext
// propagators see the trace too, whichever header it came in (a W3C trace
// ID is the same 128 bits as the X-Ray one: 5759e988bd862e3fe1be46a994272793
// is 1-5759e988-bd862e3fe1be46a994272793). The span context carries the
// incoming tracestate.
package middleware
