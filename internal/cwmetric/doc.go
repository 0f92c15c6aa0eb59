// Package cwmetric holds the sidecar's model of a CloudWatch metric point,
// the one every metric intake produces for the PutMetricData pipeline, and
// the rules PutMetricData puts on points: dimension names and values,
// metric names, units and the per-request limits.
//
// The rules are those of the CloudWatch API reference (PutMetricData,
// MetricDatum, Dimension, StatisticSet): at most 30 dimensions per datum;
// dimension names of 1..255 and values of 1..1024 characters, ASCII only,
// not blank, no control characters, names not starting with ':'; metric
// names of 1..255 characters; at most 150 values (with their counts) per
// datum, 1000 datums per request and 1 MB per request.
package cwmetric
