// Package otlplogs turns OTLP log records, as the sidecar's OTLP receiver
// decoded them, into what their destinations keep, walking each request
// once.
//
// For CloudWatch Logs (Events): one PutLogEvents event per record, its
// message a JSON object with the record's body, severity, trace and span
// IDs (hex), attributes, scope name and resource attributes, and its
// timestamp the record's time (or observed time) in milliseconds. The log
// group and stream of a resource's records are its aws.log.group.names and
// aws.log.stream.names attributes (the first name), or the configured
// defaults.
//
// For the local view (Records): one Record per record, with its time,
// severity, trace and span IDs and service name typed, for indexing and
// sorting, and its body and attributes as JSON, written by the same
// encoder as the events' messages, for showing.
package otlplogs
