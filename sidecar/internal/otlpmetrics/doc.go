// Package otlpmetrics is the sidecar's OTLP metrics consumer: it
// translates each export request's data points into CloudWatch points
// (package otelcw) and hands them to a Sink together: the metrics
// pipeline's ConsumePoints in AWS mode (PutMetricData, on the same
// aggregation as EMF), the local view in local mode.
//
// Answers (see the receiver's Consumer contract, package receiver/otlp):
//
//   - Data points the translation refuses (non-finite values, CloudWatch's
//     dimension rules, cardinality bounds, summaries, …) and those the Sink
//     drops for good are rejected, counted as
//     otlp.metrics.untranslated.<reason> (the Sink counts its own), and
//     reported as partial success with the first reason; the request's
//     other points are delivered.
//   - A Sink that cannot take all the points refuses them all
//     (otlp.ErrBudgetFull: 429 / RESOURCE_EXHAUSTED, so the SDK resends
//     later; otlp.ErrShuttingDown while stopping) and the cumulative
//     baselines the request would have moved stay where they were, so the
//     resent request gives the same deltas: nothing acknowledged is lost
//     and nothing is counted twice.
//   - The first point of a cumulative series is its baseline and gives no
//     value (otlp.metrics.baselines); it is not a rejection.
package otlpmetrics
