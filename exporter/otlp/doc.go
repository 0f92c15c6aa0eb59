// Package otlp sends the middleware's segments to an OpenTelemetry
// collector as OTLP/HTTP protobuf: to the Sidelight sidecar's receiver on
// port 4318, the ADOT collector, or any OTLP/HTTP endpoint.
//
// [Exporter.ExportSegment] translates an [xray.Segment] (with its
// subsegments) into OTLP spans on the caller's goroutine, appending
// protobuf wire format into a pooled buffer: no reflection, no generated
// message structs, no allocation in steady state. The spans join the open
// batch; a batch is sealed when it holds 512 spans (or 3 MiB), or every
// second, and a request for it starts at once on a short-lived worker
// goroutine, up to 16 requests in flight; a worker whose request is
// answered goes on with the next waiting batch. The queue is bounded by
// memory: 32 MiB of encoded spans, waiting or in requests not yet
// answered (and, when asked, by a number of spans waiting). Answers 429,
// 502, 503 and 504 and failed connections are retried with exponential
// backoff, honouring Retry-After; other answers drop the batch. Nothing
// on the request path waits for the network: a segment that does not fit
// the queue is dropped, counted in [Stats] and logged (at most every 10
// s); spans whose request fails for good are counted and logged too.
// [Exporter.ForceFlush] sends what is queued and waits for the answers;
// [Exporter.Shutdown] does the same within its context and leaves no
// goroutine.
//
// # Settings
//
// [New] reads the OpenTelemetry exporter variables, options overriding
// them: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as it is) or
// OTEL_EXPORTER_OTLP_ENDPOINT (with /v1/traces appended to its path),
// default http://localhost:4318/v1/traces; OTEL_EXPORTER_OTLP_[TRACES_]HEADERS
// (key=value pairs, percent-decoded); _TIMEOUT (milliseconds, default
// 10000); _COMPRESSION (gzip or none); _PROTOCOL (http/protobuf; grpc and
// http/json are refused with an error); OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES for the resource. The batch span processor's
// variables set the batching, as they would for the OpenTelemetry SDK:
// OTEL_BSP_SCHEDULE_DELAY (ms a partial batch waits, default 1000),
// OTEL_BSP_MAX_EXPORT_BATCH_SIZE (spans per request, default 512),
// OTEL_BSP_MAX_QUEUE_SIZE (spans waiting, default no bound: the 32 MiB
// bound applies) and OTEL_BSP_EXPORT_TIMEOUT (ms one batch may take,
// retries included).
//
// # Translation
//
// The spans are those internal/xrayotel makes of the segment's X-Ray
// document (xrayotel.Translator.SegmentToSpans of xray.AppendDocument):
// one rule set for the sidecar's UDP → OTLP path and this exporter, and
// TestSameRulesAsXRayOTel and FuzzExportSegment check that both give the
// same spans field by field. In short: the segment is a SERVER span named
// by the sanitized segment name, embedded subsegments follow depth first
// as CLIENT spans (namespace "aws" or "remote") or INTERNAL spans; the
// http block becomes http.request.method, url.full, user_agent.original,
// client.address (http.client_ip when it came from X-Forwarded-For),
// http.response.status_code and http.response.body.size; AWS calls get
// rpc.system "aws-api", rpc.service, rpc.method, aws.region,
// aws.request_id, aws.table_name and aws.queue_url; user is enduser.id;
// annotations become attributes listed in aws.xray.annotations; "default"
// metadata members become attributes (otel.resource.KEY ones resource
// attributes), other namespaces aws.xray.metadata.NAME holding JSON;
// exceptions become "exception" events; fault, or error on a CLIENT span
// or without an HTTP status, is an ERROR status. The segment's name,
// origin and aws environment block (ECS, EC2, EKS, Beanstalk) are
// resource attributes. What the X-Ray document holds and these rules do
// not map is not sent: resource_arn, http traced, aws retries, the
// cause's working directory and the exceptions' IDs, remote and truncated
// fields, a segment's own aws operation, region and request ID.
//
// A segment the rules refuse (a zero trace or span ID, an independent
// subsegment without a parent, a start before 1970 or after 2514,
// subsegments nested deeper than xrayotel.MaxSubsegmentDepth) is dropped
// and counted as DroppedInvalid.
//
// # Deliberate differences from the X-Ray document path
//
//   - Spans carry flags: sampled (the middleware exports sampled segments
//     only), and for spans with a parent whether it is remote (the
//     segment's parent came in a request header; a subsegment's is local).
//   - Spans are sent under the instrumentation scope
//     "github.com/seed-c77c9410/sidelight" (WithInstrumentationScope).
//   - Configured resource attributes (OTEL_RESOURCE_ATTRIBUTES,
//     OTEL_SERVICE_NAME, WithResourceAttribute, WithServiceName) are added
//     for keys the segment did not give: a segment's name stays its
//     service.name, and independent subsegments, whose documents name no
//     service, get the configured one.
//   - A metadata value that is not JSON (or holds a number out of float64
//     range) is left out and counted as BadMetadata; in an X-Ray document
//     it would make the whole document malformed. An aws environment
//     block that is not JSON is left out of the resource.
//   - A nil subsegment is skipped; subsegments that contain themselves are
//     refused as too deep (AppendDocument would not return).
package otlp
