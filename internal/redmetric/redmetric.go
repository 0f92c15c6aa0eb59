// Package redmetric names the request (RED) metrics the middleware writes
// as EMF and their dimensions. The middleware writes them, the sidecar's
// local view reads them back to link a metric point to its traces, and
// the examples' alarms select them, so the names live here, once, for
// all.
//
// # Metrics by version
//
// Besides the series below, the middleware can declare one more dimension
// set, [Service, Version] (see [VersionSet]): the rate of faults and the
// latency of each running version of the service, which is what a canary
// or blue/green rollout is judged on. It is off by default and switched
// on by an option or by setting the environment variable named by
// [VersionEnv] to "true" (or 1); the version itself comes from
// internal/deployversion. The number of versions a process writes is
// bounded ([DefaultMaxVersions]): a new version retires the least
// recently seen one, and retirements are counted.
package redmetric

// Dimension names of the RED metrics: every document has the series
// [Service, Route, Method, StatusClass] and [Service], and, when metrics
// by version are on, [Service, Version].
const (
	Service     = "Service"
	Route       = "Route"
	Method      = "Method"
	StatusClass = "StatusClass"
	// Version is the running version of the service (a task definition
	// family:revision, a Lambda function version, service.version ...).
	Version = "Version"
)

// VersionSet is the dimension set of the metrics by version, in the order
// the middleware declares it.
var VersionSet = []string{Service, Version}

// LambdaService is the dimension the Lambda middleware writes its
// per-invocation metrics (Duration, Errors, ...) under: the same Service
// as the HTTP metrics, so that one service has one dimension name;
// LambdaVersionSet is their dimension set by version.
const LambdaService = Service

// LambdaVersionSet is the dimension set of the Lambda middleware's
// metrics by version.
var LambdaVersionSet = []string{LambdaService, Version}

// VersionEnv names the environment variable that switches the metrics by
// version on ("true" or "1") when no option says otherwise.
const VersionEnv = "SIDELIGHT_METRICS_BY_VERSION"

// DefaultMaxVersions is how many versions one process writes series for
// before the least recently seen is retired.
const DefaultMaxVersions = 3

// Default metric names (each can be renamed by an option of the
// middleware's metrics).
const (
	MetricLatency      = "Latency"      // Milliseconds
	MetricRequests     = "Requests"     // Count
	MetricClientErrors = "ClientErrors" // Count of 4xx
	MetricFaults       = "Faults"       // Count of 5xx
	MetricThrottles    = "Throttles"    // Count of 429
)
