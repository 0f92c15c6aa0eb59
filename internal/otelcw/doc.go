// Package otelcw translates OpenTelemetry metrics (OTLP, the types of
// go.opentelemetry.io/proto/otlp) into CloudWatch metric points
// (cwmetric.Point) for PutMetricData. Each rule below has its own case in
// the package's table test.
//
// Data:
//   - Gauge: each data point is one value.
//   - Sum, delta temporality: each data point is one value (a monotonic
//     sum with a negative value is refused: negative_value).
//   - Sum, cumulative and monotonic (a counter): turned into a delta per
//     series. The Translator keeps each series' previous point. The first
//     point of a series only sets that baseline and gives no value (the
//     sidecar cannot know what part of it was already sent, for example
//     before the sidecar restarted); Result.Baselines counts those. A
//     restart is detected when the start time changes or the value goes
//     down: the point's whole value is then the delta (what accumulated
//     since the restart). A point not newer than the previous one of its
//     series (a resend) is dropped (stale).
//   - Sum, cumulative and not monotonic (an up-down counter): its current
//     value, as a gauge: the level is what CloudWatch can graph and alarm
//     on, where deltas of a level would be summed into nonsense.
//   - Histogram and exponential histogram, delta: each non-empty bucket
//     becomes a value, its count the value's count: the midpoint of its
//     bounds, the bounds clamped to the point's min and max when present
//     (an open-ended first or last bucket without min or max is
//     represented by its finite bound; exponential buckets' bounds are
//     base^i and base^(i+1), negative ones mirrored, the zero bucket 0).
//     When every value is in one bucket and the sum is known, their mean
//     stands for them instead, which keeps the sum exact.
//     With more than 150 non-empty buckets (cwmetric.MaxValuesPerDatum)
//     the point becomes a statistic set of count, sum, min and max (the
//     representatives of the outermost buckets stand in for a missing min
//     or max, the representatives' weighted sum for a missing sum). A
//     point with count 0 gives nothing; one without buckets, the mean
//     (sum/count) count times.
//   - Histogram and exponential histogram, cumulative: bucket by bucket
//     (exponential ones brought to the coarser scale first), with the
//     same baseline and restart rules as counters; a restart is also
//     detected when the count or any bucket goes down or the bounds or
//     scale change. min and max then bound the buckets but are not the
//     period's, so a statistic set takes them from the outermost buckets.
//   - Summary: dropped (summary). Its count and sum are cumulative and its
//     quantiles a sliding window, which do not make a CloudWatch statistic
//     set honestly; OpenTelemetry SDKs do not produce summaries.
//
// Dimensions: the resource's service.name becomes the Service dimension
// (the name the middleware's RED metrics use, package redmetric), the
// resource attributes named in Config.ResourceDimensions keep their names,
// and every data point attribute becomes a dimension of the same name
// (overriding a resource one of that name). Other resource attributes and
// the scope are left out: process IDs, host names and SDK versions would
// multiply the series. String, boolean, integer and double values are
// kept as text; other kinds (arrays, maps, bytes) are refused
// (unsupported_attribute). CloudWatch's rules are applied (cwmetric): at
// most 30 dimensions, names and values of printable ASCII within their
// lengths, no duplicates; a point that breaks them is dropped, counted by
// reason. At most Config.MaxSetsPerMetric dimension sets are kept per
// metric name and Config.MaxSeries series in all (cardinality_limit,
// series_limit); a series not seen for Config.StaleAfter is forgotten.
//
// Namespace: every point goes to Config.Namespace, which the sidecar sets
// the way the middleware does (AWS_EMF_NAMESPACE, then
// POWERTOOLS_METRICS_NAMESPACE, then "aws-embedded-metrics"), so RED
// metrics and OTLP metrics of one service meet in one namespace. No
// resource or scope attribute chooses it: a client cannot write into
// another team's namespace or an AWS/ one.
//
// Units: UCUM units as OpenTelemetry writes them map to CloudWatch's
// StandardUnit names (s → Seconds, ms → Milliseconds, us → Microseconds,
// By → Bytes, KBy/KiBy → Kilobytes, …, bit → Bits, By/s → Bytes/Second,
// % → Percent, {annotation} and 1/s-like counts → Count or Count/Second);
// anything else, "1" included, is None.
//
// Values that are NaN or infinite are refused (non_finite); so are
// points flagged as having no recorded value (no_recorded_value) and
// malformed histograms (bad_histogram: bucket counts that do not add up to
// the count, bounds not increasing, an exponential scale outside -10..20,
// a count with neither buckets nor a sum; more than Config.MaxBuckets
// buckets is too_many_buckets). Every refusal is counted in
// Result by reason and never stops the request's other points.
//
// Work is linear in the request: one pass over its points, attributes and
// buckets.
package otelcw
