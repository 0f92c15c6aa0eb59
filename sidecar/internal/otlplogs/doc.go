// Package otlplogs turns OTLP log records into CloudWatch Logs events for
// PutLogEvents: one event per record, its message a JSON object with the
// record's body, severity, trace and span IDs (hex), attributes, scope
// name and resource attributes, and its timestamp the record's time (or
// observed time) in milliseconds. The log group and stream of a resource's
// records are its aws.log.group.names and aws.log.stream.names attributes
// (the first name), or the configured defaults.
package otlplogs
