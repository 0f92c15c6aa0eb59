// Package emfdoc parses CloudWatch Embedded Metric Format documents into
// metric data points, without reflection, and names the reason for every
// document it refuses. The rules are the published schema plus the
// specification's: every referenced dimension and metric is present at
// the root, dimension values are non-empty strings, metric values are
// numbers or arrays of 1..100 numbers, at most 100 metrics per document,
// namespaces (ASCII, not starting with ":") and metric names within
// CloudWatch's 255 characters, at most 30 dimensions per set,
// StorageResolution 1 or 60. Limits of our own bound the work of one
// document: at most MaxDimensionSets dimension sets per directive and
// MaxPoints points per document, carrying at most MaxVolume bytes of
// names and dimensions.
//
// Parsing is linear in the document: root members are indexed once and
// each value is decoded at most once, however many references name it.
// A fuzz test checks that everything Parse accepts also passes the schema
// check.
//
// # One parse per line
//
// Every EMF line is parsed once, at intake, and handed on parsed:
//
//   - The EMF receiver (package receiver/emf, TCP and UDP alike) calls
//     Parser.Decode on each line: the strict rules above, refusals counted
//     as emf.rejected.<reason>. An accepted line becomes a Document: the
//     line itself (Raw), its timestamp, log group and stream, its points
//     in the sidecar's one metric model (cwmetric.Point, which OTLP
//     metrics are translated to as well, by package otelcw), and, for a
//     consumer that asks (the local view), the X-Ray trace IDs of its root
//     members.
//   - The app hands the Document to one consumer: in AWS mode the metrics
//     pipeline (pipeline/metrics.ConsumeEMF aggregates Points for
//     PutMetricData) or, with EMF to Logs, the logs pipeline
//     (pipeline/logs.ConsumeEMF sends Raw with PutLogEvents, to LogGroup
//     and LogStream); in local mode the view (localview.Inbox,
//     AddEMFDocument copies it with Clone; the store keeps Points, TraceIDs
//     and Raw for persistence). None of them parses the line again. Lines
//     the receiver refuses are also reported to the local view
//     (Inbox.RejectedEMF), which shows them by reason.
//   - Only documents that arrive as bytes outside the receiver are parsed
//     elsewhere, with this same parser: the local view's persistence file
//     and localview.Store.AddEMF.
//
// Parses counts Parse calls, so tests can check one parse per line.
package emfdoc
