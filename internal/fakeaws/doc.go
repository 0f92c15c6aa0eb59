// Package fakeaws runs local stand-ins for the AWS APIs Sidelight talks to,
// for tests only. One HTTP server on 127.0.0.1 answers:
//
//   - AWS X-Ray (restJson1): PutTraceSegments (POST /TraceSegments),
//     GetSamplingRules (POST /GetSamplingRules) and GetSamplingTargets
//     (POST /SamplingTargets);
//   - Amazon CloudWatch (Smithy RPC v2 CBOR): PutMetricData
//     (POST /service/GraniteServiceVersion20100801/operation/PutMetricData),
//     gzip-compressed bodies included;
//   - Amazon CloudWatch Logs (awsJson1.1): PutLogEvents, CreateLogGroup and
//     CreateLogStream (POST / with X-Amz-Target);
//   - the OTLP/HTTP endpoints: X-Ray's POST /v1/traces (with its documented
//     limits), CloudWatch's POST /v1/metrics and CloudWatch Logs' POST
//     /v1/logs (headers x-aws-log-group and x-aws-log-stream), protobuf or
//     JSON, plain or gzip, decoded with go.opentelemetry.io/proto/otlp.
//
// The server decodes each wire protocol itself (it does not use the SDK's
// deserialisers), verifies every request's SigV4 signature by recomputing
// it from the canonical request and the fake's credentials (AccessKeyID,
// SecretAccessKey, Region; see sigv4.go), refusing unsigned and badly
// signed requests with 403 (counted by Unsigned and BadSignatures), and
// records what it received. Faults can be injected
// per service: a number of 500, 503 or throttling answers, or hanging until
// released. Point real SDK clients at it with SetEnv, which sets
// AWS_ENDPOINT_URL_XRAY, AWS_ENDPOINT_URL_CLOUDWATCH,
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS and static test credentials.
package fakeaws
