// Package emfgen produces EMF documents the way the official
// aws-embedded-metrics libraries write them for the CloudWatch agent (one
// JSON object per line, "_aws" metadata with LogGroupName, default
// dimensions LogGroup/ServiceName/ServiceType plus custom ones, metric
// values as numbers or arrays) and keeps the totals a correct pipeline must
// deliver. It also totals what a fake CloudWatch received, so tests can
// compare the two. Tests and the load tool (loadtest) import it.
package emfgen
