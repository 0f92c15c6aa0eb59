package red

import (
	"errors"
	"log/slog"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
)

// Config configures a Recorder. The zero value of every field but Service
// means its default.
type Config struct {
	// Namespace is the CloudWatch namespace (default: AWS_EMF_NAMESPACE,
	// POWERTOOLS_METRICS_NAMESPACE, then emf.DefaultNamespace).
	Namespace string
	// Service is the value of the Service dimension. Required.
	Service string
	// Sink receives the documents (default: chosen from the environment
	// like emf.New does: stdout in Lambda and locally, the CloudWatch agent
	// elsewhere). A Sink given here is not shut down by the Recorder.
	Sink emf.Sink
	// Interval between flushes (default 10 s).
	Interval time.Duration
	// MaxRoutes caps the distinct route values; more routes are recorded
	// as "overflow" (default 100).
	MaxRoutes int
	// MaxLatencyValues caps the latency values written per series and
	// flush; beyond it the distribution is thinned evenly, keeping the
	// minimum and maximum (default 300, at most 3 documents per series).
	MaxLatencyValues int
	// Names renames metrics; "-" switches one off.
	Names Names
	// Disabled turns Observe into a no-op and starts nothing.
	Disabled bool
	// Version, when set, is asked at each series' flush for the value of
	// the Version dimension: a non-empty value adds the dimension set
	// [Service, Version] (redmetric.VersionSet) to the series' documents.
	// It costs nothing per request.
	Version func() string
	// Logger receives flush errors (default: discarded).
	Logger *slog.Logger

	// Tick, when set, replaces the Interval ticker (for tests).
	Tick <-chan time.Time
	// Now timestamps documents (default time.Now).
	Now func() time.Time
}

// Names are the metric names. Empty means the default shown; "-" means the
// metric is not written.
type Names struct {
	Latency      string // "Latency", Milliseconds
	Requests     string // "Requests", Count
	ClientErrors string // "ClientErrors", Count of 4xx
	Faults       string // "Faults", Count of 5xx
	Throttles    string // "Throttles", Count of 429
}

// Default values.
const (
	DefaultInterval         = 10 * time.Second
	DefaultMaxRoutes        = 100
	DefaultMaxLatencyValues = 300
)

// Values used for bounded cardinality.
const (
	RouteUnmatched = "unmatched" // empty route: no pattern matched
	RouteOverflow  = "overflow"  // beyond MaxRoutes
	MethodOther    = "OTHER"     // not one of the nine standard methods
)

// Validate reports a configuration that New would refuse.
func (c Config) Validate() error {
	var errs []error
	if c.Service == "" {
		errs = append(errs, errors.New("red: Service is required"))
	}
	if c.Interval < 0 || c.MaxRoutes < 0 || c.MaxLatencyValues < 0 {
		errs = append(errs, errors.New("red: Interval, MaxRoutes and MaxLatencyValues must not be negative"))
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxRoutes == 0 {
		c.MaxRoutes = DefaultMaxRoutes
	}
	if c.MaxLatencyValues == 0 {
		c.MaxLatencyValues = DefaultMaxLatencyValues
	}
	n := &c.Names
	n.Latency = orDefault(n.Latency, "Latency")
	n.Requests = orDefault(n.Requests, "Requests")
	n.ClientErrors = orDefault(n.ClientErrors, "ClientErrors")
	n.Faults = orDefault(n.Faults, "Faults")
	n.Throttles = orDefault(n.Throttles, "Throttles")
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
