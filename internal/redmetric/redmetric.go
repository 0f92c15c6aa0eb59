// Package redmetric names the dimensions of the request (RED) metrics the
// middleware writes as EMF. The middleware writes them and the sidecar's
// local view reads them back to link a metric point to its traces, so the
// names live here, once, for both.
package redmetric

// Dimension names of the RED metrics: every document has the series
// [Service, Route, Method, StatusClass] and [Service].
const (
	Service     = "Service"
	Route       = "Route"
	Method      = "Method"
	StatusClass = "StatusClass"
)
