// Package otelemf is an OpenTelemetry sdk/metric exporter that writes
// CloudWatch EMF documents through an emf.Logger, so metrics made with the
// OpenTelemetry API reach CloudWatch with no collector: in Lambda through
// standard output, elsewhere through the CloudWatch agent.
//
// Every data point becomes metric values in a document whose dimensions are
// the point's attributes: points with the same attributes share documents.
// Sums and gauges are single values (delta temporality for counters and
// histograms, so each document carries the change since the last export);
// histograms become value arrays — one value per recorded measurement, at
// the middle of its bucket, thinned evenly beyond MaxHistogramValues per
// point and export, with the recorded minimum and maximum kept exact. By
// default histograms use 160 base-2 exponential buckets, so the error
// depends on the spread of the values: about 1 % within one order of
// magnitude, about 4 % across five. Attributes that cannot be dimensions
// (empty values, beyond the 30-dimension limit) are written as properties.
package otelemf
