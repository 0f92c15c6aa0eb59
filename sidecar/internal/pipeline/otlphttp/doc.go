// Package otlphttp is the sidecar's OTLP/HTTP exporter: a pipeline that
// sends OTLP traces, logs or metrics (one signal per Exporter) as gzip
// compressed protobuf export requests to an OTLP/HTTP endpoint, either
// AWS's (X-Ray's /v1/traces, CloudWatch's /v1/metrics, CloudWatch Logs'
// /v1/logs), signed with SigV4, or any other (a team's own collector,
// Jaeger, Tempo) with custom headers and no signing.
//
// Intake splits what arrives into parts, each one resource, one scope and
// a run of items (spans, log records or metrics), encoded once to
// protobuf and queued as bytes in a queue.Queue, so what waits is charged
// to the sidecar's memory budget at about its wire size. Traces that
// arrive as protobuf (QueueTracesRaw) are never decoded into the
// generated types: their parts are the request's own resource, scope and
// span bytes with new field framing, split by the same rules. Items that break
// the endpoint's Limits for good (a span over X-Ray's 200 KB, a resource
// and scope over 16 KB, a time outside the accepted window) are dropped at
// intake, counted, and reported to the OTLP client as rejected; nothing
// is sent that the endpoint must refuse. A worker joins queued parts into
// one request as long as it stays within the request limits (bytes, items,
// time span) and sends it; the export request's first field is the
// repeated resource message for every signal, so joining is appending
// encoded parts.
//
// Answers follow the OTLP/HTTP specification: 2xx is success, with a
// partial success's rejected items counted (they are not resent); 429,
// 502, 503 and 504 are retried after the backoff or the answer's
// Retry-After, whichever is longer; any other status drops the request,
// counted and logged at most once per 10 s. Network errors and timeouts
// are retried. Shutdown sends what is queued until its context ends.
package otlphttp
