// Package collector is the OpenTelemetry Collector that Sidelight's sidecar
// is measured against: built in-process from the Collector's published
// components (the OTLP receiver, the batch processor and the contrib
// awsxrayexporter), configured as the ADOT collector's test configurations
// (batch/traces: 1 s or 50 spans), and pointed at internal/fakeaws.
//
// Tests here send the same OTLP spans through the sidecar and through this
// collector and compare the X-Ray documents field by field
// (TestSameSpansBothWays); cmd/otlp-load runs both under the same OTLP/HTTP
// load (see sidecar/BENCHMARKS.md).
//
// # Versions
//
// Every component is from one release: collector v0.161.0 (core modules
// v1.67.0) and contrib v0.161.0. That is the only release of
// awsxrayexporter the Go module proxy serves here; the contrib modules it
// imports (internal/aws/awsutil and internal/aws/xray) are not served at
// v0.161.0, so go.mod replaces them with v0.140.1, the nearest release that
// is served, which the exporter builds with unchanged; and
// aws-sdk-go-v2/service/xray v1.44.0 with v1.36.25, the version Sidelight
// itself uses. Not built: awsxrayreceiver v0.161.0 (internal/aws/proxy
// v0.161.0 is not served and v0.140.1 has another NewServer signature),
// awsemfexporter (internal/aws/cwlogs is served at neither release) and
// sigv4authextension (not served at v0.161.0; v0.165.x would pull every
// core module to v0.165.0). So the peer covers OTLP → X-Ray only.
package collector
