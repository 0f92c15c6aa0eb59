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
//     CreateLogStream (POST / with X-Amz-Target).
//
// The server decodes each wire protocol itself (it does not use the SDK's
// deserialisers), checks that every request carries SigV4 Authorization and
// X-Amz-Date headers, and records what it received. Faults can be injected
// per service: a number of 500, 503 or throttling answers, or hanging until
// released. Point real SDK clients at it with SetEnv, which sets
// AWS_ENDPOINT_URL_XRAY, AWS_ENDPOINT_URL_CLOUDWATCH,
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS and static test credentials.
package fakeaws
