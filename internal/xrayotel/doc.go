// Package xrayotel holds the translation rules between OpenTelemetry spans
// (the OTLP protobuf types) and AWS X-Ray segment documents, shared by the
// sidecar's OTLP intake and export and by the middleware.
//
// A [Translator], built by [New] from a [Config], converts in both
// directions and is safe for concurrent use:
//
//   - [Translator.AppendSegment] appends the X-Ray document for one OTLP
//     span to a caller's buffer, without reflection (strings are escaped by
//     internal/jsonenc). Each span becomes one document; subsegments are
//     independent documents ("type": "subsegment" with trace_id and
//     parent_id), which PutTraceSegments and the X-Ray daemon accept.
//   - [Translator.SegmentToSpans] turns one X-Ray document, for example a
//     datagram received over UDP, into OTLP spans and resource attributes,
//     for sending traces on as OTLP.
//
// # OTLP span → X-Ray document
//
// IDs. The 16-byte W3C trace ID is written 1-{first 8 hex}-{last 24 hex};
// 8-byte span IDs are 16 lowercase hex digits. A trace or span ID that is
// missing, the wrong length or all zeros is an error (ErrTraceID,
// ErrSpanID), as is a parent ID of the wrong length (ErrParentID); an empty
// or all-zero parent means no parent. The time prefix of the trace ID is
// not checked against the clock (see differences below).
//
// Segment or subsegment. SERVER and CONSUMER spans, and spans without a
// parent, are segments; others are subsegments of their parent span.
//
// Names. A segment is named by the resource's service.name, else
// Config.DefaultServiceName, else the span name. A subsegment for an AWS
// SDK call (rpc.system "aws-api", or aws.service) is named by the AWS
// service (aws.service or rpc.service, without an "AWS.SDK." or "AWS::"
// prefix); a CLIENT or PRODUCER span by peer.service, else db.namespace
// (or db.name, or db.system) "@" server.address for databases, else
// rpc.service for RPC calls, else server.address (net.peer.name,
// http.host), else the host of url.full;
// others keep the span name. Characters X-Ray refuses are dropped, names
// are cut to 200 characters, and an empty result is "unknown".
//
// Namespace. AWS SDK calls are "aws"; other CLIENT and PRODUCER spans are
// "remote".
//
// HTTP. The http block is filled from the current or the old semantic
// convention names, the current one winning when both are present:
// http.request.method/http.method, url.full/http.url (for server spans
// without either, the URL is put together from url.scheme, server.address,
// server.port, url.path and url.query, or http.scheme, http.host or
// net.host.name and http.target), user_agent.original/http.user_agent,
// http.response.status_code/http.status_code (an integer or its text) and
// http.response.body.size/http.response_content_length. On segments the
// client IP is client.address, else http.client_ip (then
// x_forwarded_for is true, as that attribute comes from the header), else
// network.peer.address/net.sock.peer.addr. Request fields are cut to 250
// characters, as the schema requires.
//
// AWS. For AWS SDK calls and SQS messaging spans (messaging.system
// aws_sqs) the aws block holds operation (aws.operation, rpc.method),
// region (aws.region), request_id (aws.request_id, aws.requestId),
// table_name (aws.table_name, or a one-element aws.dynamodb.table_names)
// and queue_url (aws.queue_url, aws.queue.url, messaging.url).
//
// SQL. For a SQL database (db.system.name or db.system such as postgresql,
// mysql, mssql, oracle; not DynamoDB or Redis) the sql block holds
// database_type, sanitized_query (db.query.text, db.statement), url (a
// db.connection_string URL with any user:password@ removed) or
// connection_string (a key=value; string without its Password or Pwd
// entries) and user (db.user).
//
// Error, throttle, fault. HTTP 4xx is an error, 429 an error and a
// throttle, 5xx a fault. A span whose status is ERROR is a fault unless its
// HTTP status already made it an error.
//
// Cause. Each "exception" event becomes an exception with its
// exception.type and exception.message, and exception.stacktrace parsed
// into frames when it is a Go, Java, JavaScript or Python trace (at most
// MaxStackFrames frames; the rest are counted in "truncated"). A span with
// ERROR status, a status message and no exception events gets one
// exception holding the message. Exception IDs are derived from the span ID
// so one span always gives the same document.
//
// Annotations and metadata. Attributes named in Config.IndexedAttributes,
// or every attribute with Config.IndexAllAttributes, or those listed in the
// span's aws.xray.annotations attribute, become annotations when their
// value is a string, bool, integer or finite number. Keys are rewritten to
// [A-Za-z0-9_] (others become '_') and cut to 500 bytes, string values to
// 1000 characters. At most MaxAnnotations (50, X-Ray's limit per trace) are
// written per document; when two keys sanitise alike the first wins. All
// other attributes are metadata in the "default" namespace, with their JSON
// types (lists as arrays, maps as objects, bytes as base64, NaN and
// infinities as text, lists and maps nested deeper than 16 levels as
// null), first value kept for a repeated key. An attribute
// aws.xray.metadata.NAME holding a JSON object becomes metadata namespace
// NAME, unless NAME starts with "AWS." (reserved for AWS's SDKs).
// Attributes written into the http, aws, sql or user fields, and the
// rpc.system and service of AWS SDK calls (said by the namespace and
// name), are not repeated as metadata unless they are indexed; attributes
// that only chose a name (peer.service, server.address, …) stay metadata.
//
// Resource. Only segments carry the resource: service.version is
// service.version; cloud.platform (with aws.ecs.launchtype) gives the
// origin (AWS::EC2::Instance, AWS::ECS::Container, AWS::ECS::EC2,
// AWS::ECS::Fargate, AWS::EKS::Container,
// AWS::ElasticBeanstalk::Environment, AWS::AppRunner::Service; none when
// cloud.provider is not aws); the aws block gets account_id
// (cloud.account.id), the platform's ecs, ec2, eks or elastic_beanstalk
// object (from container.*, aws.ecs.*, host.*, k8s.*, service.namespace,
// service.instance.id and cloud.availability_zone), cloudwatch_logs from
// aws.log.group.names and aws.log.group.arns, and xray from telemetry.sdk.*
// and telemetry.auto.version. Every resource attribute is also metadata
// "otel.resource.KEY", indexed when that prefixed key is listed in
// IndexedAttributes. enduser.id is the segment's user.
//
// Times. Nanoseconds become seconds with microsecond precision, written
// without an exponent. A span with no end time is in_progress; an end
// before the start is written as the start.
//
// Size. A document over MaxDocumentBytes (64 KB) is written again without
// metadata and stack frames; if still too large it is refused with
// ErrTooLarge and the caller's buffer is left as it was.
//
// # X-Ray document → OTLP spans
//
// The document's own span comes first, then one per embedded subsegment
// (depth first, at most MaxSubsegmentDepth deep), each with the enclosing
// document's ID as parent and the top trace ID. A segment is a SERVER span,
// a subsegment in the "aws" or "remote" namespace a CLIENT span, others
// INTERNAL; the span name is the document name. The http, aws and sql
// blocks become the current semantic-convention attributes the rules above
// read (rpc.system "aws-api", rpc.service and rpc.method for the "aws"
// namespace; http.client_ip when x_forwarded_for is set), user becomes
// enduser.id, annotations become attributes listed in aws.xray.annotations,
// metadata "default" members become attributes (those prefixed
// "otel.resource." become resource attributes), and other metadata
// namespaces become aws.xray.metadata.NAME holding the namespace as JSON.
// fault, or error on a CLIENT span or without an HTTP status, is an ERROR
// status. Exceptions become exception events at the span's end, stacks
// written in Go's form so they parse back to the same frames. A segment's
// name, service.version, origin and aws block become resource attributes.
// Whole numbers become integer values; null and JSON nested deeper than
// 16 levels are left out. Missing or malformed IDs, times
// that are absent, negative or past the year 2514, and documents that are
// not objects give an error (ErrBadDocument, ErrTraceID, ErrSpanID,
// ErrParentID).
//
// Round trips keep what both models hold; they lose the span name of a
// segment (X-Ray names segments by service), span links, events other than
// exceptions, error flags that neither the HTTP status nor the span kind
// explain, and exception IDs.
//
// # Deliberate differences from the OpenTelemetry Collector's awsxrayexporter
//
// Measured, not recalled: peers/collector's TestSameSpansBothWays sends one
// span set through the sidecar and through a Collector built with
// awsxrayexporter v0.161.0 and checks every differing field against the
// table in peers/collector/DIFFERENCES.md, which explains each. In short:
//
//   - Annotation keys never keep '.' (the exporter keeps it by default since
//     its allowDot gate went beta); at most 50 annotations per document,
//     the rest kept as metadata rather than lost; a key collision after
//     sanitising keeps the first value and puts the other in metadata.
//   - The resource (origin, service.version, the aws block) is written on
//     segments only; the exporter repeats it on every subsegment.
//   - Flags and fields that are false, zero or empty are left out (the
//     exporter writes error, fault, throttle, auto_instrumentation false,
//     content_length 0 and an empty exception type).
//   - Current semantic-convention names are read where the exporter reads
//     only the old ones: server.address and db.namespace for CLIENT and
//     PRODUCER names, db.system.name and db.query.text for the sql block,
//     http.response.body.size. A CONSUMER segment is named by service.name
//     like every segment, not by the span name.
//   - client.address does not set x_forwarded_for (only http.client_ip).
//   - Credentials are stripped from db.connection_string (the exporter
//     sends them); database spans of non-SQL systems get no sql block.
//   - Attributes used for a field are not repeated as metadata (the
//     exporter keeps rpc.system, rpc.service, aws.dynamodb.table_names);
//     attributes that only chose a name are (the exporter drops them).
//   - Stacks: Java, Python and Go traces are parsed into label, path and
//     line (the exporter's Java parser is off by a line on the common form,
//     its Python parser writes one frame per source line with line 0).
//     Exceptions carry no "remote" flag (the exporter sets it on CLIENT
//     spans).
//   - Exception IDs are derived from the span ID, not random, so output is
//     reproducible.
//   - IndexAllAttributes covers span attributes only; resource attributes
//     are indexed by naming "otel.resource.KEY".
//   - The aws.local.service/aws.remote.service attributes of AWS
//     Application Signals, span links, aws.xray.metadata.default merging
//     and the exporter's stack parsers for other languages are not
//     implemented.
//   - Oversized documents are retried without metadata and stacks instead of
//     being sent and refused by X-Ray.
//   - No trace ID age check (the exporter's is off by default too, since
//     its skiptimestampvalidation gate went beta).
package xrayotel
