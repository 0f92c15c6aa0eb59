// Package xrayput sends X-Ray PutTraceSegments requests without the AWS
// SDK's middleware stack, for the sidecar's segments pipeline, where that
// stack (and the SDK's escaping of each document) was the largest cost per
// segment under OTLP load.
//
// A Client is built from the same aws.Config and options as the SDK's
// X-Ray client, and takes from that client what it resolved: the region,
// the endpoint (AWS_ENDPOINT_URL_XRAY, AWS_ENDPOINT_URL, the shared config
// file's services section, FIPS and dual-stack), the cached credentials
// provider and the HTTP client. Each request is the same restJson request
// the SDK sends: POST /TraceSegments, the body {"TraceSegmentDocuments":
// [...]} written into a pooled buffer, signed with the SDK's SigV4 signer
// (aws/signer/v4, payload hash included) after the clock skew the last
// response showed, as the SDK corrects it. Answers come back as the SDK's
// client returns them: *xray.PutTraceSegmentsOutput, or errors of the same
// types and text (smithy.OperationError around an awshttp.ResponseError
// around types.ThrottledException, types.InvalidRequestException or
// smithy.GenericAPIError; smithyhttp.RequestSendError or
// smithy.CanceledError when no answer came), so that retry.Classify, the
// pipeline's counters and its log lines do not change.
//
// New refuses configurations it does not reproduce (API options,
// interceptors, per-service options or a legacy endpoint resolver in the
// aws.Config, SDK client logging, running inside AWS Lambda, where the SDK
// adds a recursion-detection header); the caller then keeps the SDK
// client.
package xrayput
