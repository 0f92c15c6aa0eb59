// Package otlp is the sidecar's OpenTelemetry intake: an OTLP receiver
// over HTTP (127.0.0.1:4318 by default) and gRPC (127.0.0.1:4317) for
// traces, metrics and logs. Requests are decoded once and handed to a
// Consumer: OTLP/HTTP protobuf traces, when the Consumer is a
// SpanConsumer, with protowire straight into a reused flat span model
// (package internal/otlpspans, pointing into the request's bytes);
// everything else (JSON, gRPC, metrics, logs) into the
// go.opentelemetry.io/proto/otlp export request types (grpc-go's codec
// decodes those for gRPC). The Consumer's answer becomes the OTLP answer: success, partial
// success (rejected items and a message), or a refusal that tells the
// client whether to retry. Nothing acknowledged is dropped here, and
// nothing is acknowledged that the Consumer did not take.
//
// OTLP/HTTP: POST to /v1/traces, /v1/metrics or /v1/logs (other methods
// 405, other paths 404), Content-Type application/x-protobuf or
// application/json (else 415; this also refuses the types a web page can
// send cross-origin without a preflight), Content-Encoding gzip or
// identity (else 415). Answers are in the request's encoding: an
// Export…ServiceResponse on success, a google.rpc.Status otherwise. The
// Host header must pass Config.AllowHost (loopback names by default;
// 403 otherwise), against DNS rebinding.
//
// OTLP/JSON follows the protobuf JSON mapping with OTLP's changes: trace
// and span IDs are hex (case-insensitive), not base64; enums may be
// numbers or names; 64-bit integers numbers or strings; unknown fields
// are ignored.
//
// OTLP/gRPC: the three collector services, gzip accepted.
//
// Answers:
//
//	body over MaxRequestBytes, after decompression  413 / RESOURCE_EXHAUSTED (not retried)
//	decoded estimate alone over DecodeMemory         413 / INTERNAL (not retried)
//	undecodable, too deeply nested, bad IDs         400 / INTERNAL (grpc-go's code; not retried)
//	Consumer: Invalid(err)                           400 / INVALID_ARGUMENT
//	AdmitTraces says no room (before decoding)       429 + Retry-After / RESOURCE_EXHAUSTED + RetryInfo
//	DecodeMemory or Consumer budget full             429 + Retry-After / RESOURCE_EXHAUSTED + RetryInfo
//	Consumer: ErrShuttingDown or other error         503 + Retry-After / UNAVAILABLE + RetryInfo
//	Consumer rejected some items                     200 / OK with partial_success
//
// Hostile bodies cost time and memory linear in their size and stay
// within DecodeMemory: the body is read through http.MaxBytesReader and
// at most MaxRequestBytes+1 bytes are taken out of the gzip reader (a
// gzip bomb is refused after that many); the buffer grows only into
// memory reserved from DecodeMemory; before decoding, a one-pass,
// allocation-free count of the messages in the body estimates the
// decoded size (a million empty attributes are 2 MB on the wire and
// 125 MB decoded) and that is reserved too, so a request that could
// never fit is refused as too large and one that does not fit now gets
// 429 / RESOURCE_EXHAUSTED with RetryInfo; decoding stops at
// RecursionLimit levels of nesting. With Config.Budget the reservations
// are made in the sidecar's memory budget, beside its queues, rather
// than in a DecodeMemory budget of the receiver's own.
//
// Counters (package status): otlp.requests.{http,grpc};
// otlp.received.<items> (handed to the Consumer), otlp.accepted.<items>
// (acknowledged), otlp.rejected.<items> (partial success), where <items>
// is spans, data_points or log_records; otlp.refused.<reason> for
// requests refused as a whole (see Reasons).
//
// Contract: New checks the Config; Start binds the enabled listeners and
// starts one serving goroutine for each (plus the servers' own per
// connection and per request goroutines). Shutdown stops accepting, lets
// requests in flight finish (each is delivered to the Consumer or
// answered with a retryable error) and returns when every goroutine has
// ended; when its context ends first, open connections are closed, and
// their clients, having no answer, resend.
package otlp
