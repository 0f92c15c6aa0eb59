// Package metrics is the sidecar's EMF-to-CloudWatch pipeline. It takes
// EMF documents as the EMF receiver parsed them (emf.Document: points in
// the cwmetric model; it never parses a line itself) and OTLP points
// (ConsumePoints), aggregates their values per namespace, metric, unit,
// dimension set and resolution interval (60 s buckets for standard
// metrics, 1 s for high-resolution ones), and sends the aggregates with
// PutMetricData as Values/Counts (at most 150 distinct values per datum,
// several datums when there are more, a statistic set beyond
// MaxDistinctValues), at most 1000 datums and about 900 KB per request.
//
// Contract:
//   - ConsumeEMF is safe for concurrent use and does not block on the
//     network; doc is only read during the call. Documents are refused
//     (and counted, emf.rejected.<reason>) once, by the receiver.
//   - ConsumePoints takes points parsed elsewhere (OTLP metrics, package
//     otelcw) onto the same aggregation, with counts per value and
//     statistic sets. It takes all of a call's points or none: it holds
//     the most their aggregates can need first and refuses with
//     ErrBudgetFull when that does not fit (metrics.refused_budget_full),
//     so that a client that can resend is told to, rather than its data
//     being dropped.
//   - Aggregates are flushed every FlushInterval (high resolution:
//     HighResFlushInterval) into requests queued in the shared budget;
//     throttling, 5xx, timeouts and connection errors are retried with
//     exponential backoff and jitter, the oldest requests are dropped when
//     the budget is full, and everything dropped is counted by reason (in
//     datums: metrics.dropped.<reason>).
//   - Datapoints CloudWatch would refuse are dropped and counted instead of
//     failing a whole request: values beyond ±2^360
//     (metrics.dropped.out_of_range), namespaces starting with "AWS/"
//     (metrics.dropped.reserved_namespace) and timestamps more than about two
//     weeks old or two hours ahead (metrics.dropped.timestamp_out_of_range).
//   - Points whose dimensions break CloudWatch's Dimension rules (ASCII
//     only, not blank, no control characters, names not starting with
//     ":", no name twice in a set) are dropped at intake and counted
//     (metrics.dropped.bad_dimension_name, bad_dimension_value,
//     duplicate_dimension).
//   - A request CloudWatch still refuses as invalid (400
//     InvalidParameterValue and the like) is split in halves, recursively,
//     so its good datums are delivered: each refused datum is dropped and
//     counted (metrics.dropped.invalid_datum) at a cost of about
//     2*ceil(log2 n) extra requests each (metrics.split_requests), and never
//     more than 2(n-1) for a request of n datums.
//   - Shutdown stops accepting, flushes every aggregate and sends
//     everything queued, within ctx.
package metrics
