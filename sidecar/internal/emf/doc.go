// Package emf parses CloudWatch Embedded Metric Format documents into
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
package emf
