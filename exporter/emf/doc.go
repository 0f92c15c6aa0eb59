// Package emf writes CloudWatch Embedded Metric Format (EMF) documents: JSON
// log lines that CloudWatch Logs turns into metrics.
//
// A [Logger] collects metrics (with unit and storage resolution), dimension
// sets, default dimensions and properties, and [Logger.Flush] writes them as
// spec-exact EMF documents to a [Sink]. Limits are enforced where the caller
// makes the mistake: an invalid name, unit, value or dimension is refused
// with an error wrapping one of the package's sentinel errors, and a flush
// never emits a document CloudWatch would reject. More than 100 metrics,
// more than 100 values per metric, or more than a CloudWatch Logs event
// (256 KiB; one datagram over UDP) are split across several documents; no
// value is dropped.
//
// Sinks: [NewWriterSink] (standard output in AWS Lambda, synchronous) and
// [NewAgentSink] (the CloudWatch agent's EMF endpoint over tcp:// or
// udp://, non-blocking, bounded, reconnecting). [New] picks one from the
// environment the way the official EMF libraries do (Lambda → stdout,
// ECS/EC2/agent → agent, anything else → stdout) and reads the variables
// users already know: AWS_EMF_NAMESPACE, AWS_EMF_SERVICE_NAME,
// AWS_EMF_SERVICE_TYPE, AWS_EMF_LOG_GROUP_NAME, AWS_EMF_LOG_STREAM_NAME,
// AWS_EMF_AGENT_ENDPOINT, AWS_EMF_ENVIRONMENT, POWERTOOLS_METRICS_NAMESPACE
// and POWERTOOLS_SERVICE_NAME. Options override the environment.
//
// The emftest package has an in-memory sink for tests, and otelemf an
// OpenTelemetry sdk/metric exporter that writes EMF through a Logger.
package emf
