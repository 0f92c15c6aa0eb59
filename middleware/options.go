package middleware

import (
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// Option configures a Kit, or one piece of middleware built from it. The
// same options serve New, HTTP, Transport, AWS and Lambda; each ignores
// those that do not concern it. Options given to a Kit method or a
// package-level function apply over the kit's own.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	kit *Kit

	getenv func(string) string

	exporter    xray.SegmentExporter
	exporterSet bool   // WithSegmentExporter was given
	tracesEnv   string // OTEL_TRACES_EXPORTER
	daemonAddr  string // AWS_XRAY_DAEMON_ADDRESS
	disabled    bool   // OTEL_SDK_DISABLED=true
	inLambda    bool   // AWS_LAMBDA_FUNCTION_NAME is set

	serviceName       string
	serviceVersion    string // WithServiceVersion, else service.version in OTEL_RESOURCE_ATTRIBUTES
	serviceVersionSet bool   // WithServiceVersion was given
	// version is the running version from every source but the ECS task
	// metadata (which the environment lookup reads: version.go).
	version       deployversion.Version
	hostPattern   string // dynamic naming when not empty
	rules         *sampling.Rules
	sampler       sampler // OTEL_TRACES_SAMPLER, unless WithSamplingRules
	logger        *slog.Logger
	routeFunc     func(*http.Request) string
	ecs           bool
	ecsEndpoint   string
	ec2           bool
	ec2Endpoint   string
	now           func() time.Time
	metrics       metricsSettings
	cors          bool
	corsChecker   *corscheck.Checker
	headerOrder   []TraceHeader // nil means defaultTraceHeaderOrder
	timeoutMargin time.Duration // Lambda

	// Settings of the environment that could not be honoured, logged
	// once the logger is known and returned by New.
	problems []error
}

// metricsSettings are the metrics options, for HTTP and Lambda alike.
type metricsSettings struct {
	off        bool
	set        bool // a metrics option was given
	sink       emf.Sink
	namespace  string
	interval   time.Duration
	names      MetricNames
	maxRoutes  int
	byVersion  bool // WithMetricsByVersion, else SIDELIGHT_METRICS_BY_VERSION
	byTenant   bool // WithMetricsByTenant
	maxTenants int  // WithMetricsByTenant; < 1 means DefaultMaxTenants
}

// WithSegmentExporter sets where finished segments go: an
// xray.SegmentExporter such as the X-Ray UDP emitter (xray.NewEmitter),
// the OTLP exporter of package exporter/otlp, or xraytest.NewRecorder in
// tests. It overrides OTEL_TRACES_EXPORTER. The caller owns e: Kit.Shutdown
// flushes it but does not shut it down. nil turns traces off (the trace is
// still passed on, unsampled).
//
// Without it, the kit makes and owns an X-Ray emitter for
// AWS_XRAY_DAEMON_ADDRESS, unless OTEL_TRACES_EXPORTER is "none".
func WithSegmentExporter(e xray.SegmentExporter) Option {
	return optionFunc(func(c *config) { c.exporter, c.exporterSet = e, true })
}

// WithServiceName sets the segment name: the name of this service in the
// X-Ray trace map, and the Service dimension of its metrics. The default
// is AWS_XRAY_TRACING_NAME, else OTEL_SERVICE_NAME, else service.name in
// OTEL_RESOURCE_ATTRIBUTES, else AWS_EMF_SERVICE_NAME, else
// AWS_LAMBDA_FUNCTION_NAME, else the program's file name.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithServiceVersion sets the running version of the service: segments
// carry it (their service.version and the Version annotation) and, with
// WithMetricsByVersion, the request metrics' Version dimension. Without
// it the version is service.version in OTEL_RESOURCE_ATTRIBUTES, else
// AWS_LAMBDA_FUNCTION_VERSION, else the task definition family:revision
// (or the image tag) the ECS task metadata reports.
func WithServiceVersion(version string) Option {
	return optionFunc(func(c *config) { c.serviceVersion, c.serviceVersionSet = version, true })
}

// WithHostNaming names each segment after the request's Host when it
// matches pattern ('*' and '?' wildcards), and by the service name
// otherwise, as the X-Ray SDKs' dynamic segment namer does. Use a pattern
// that lists your own domains ("*.example.com"), so that clients cannot
// create names at will.
func WithHostNaming(pattern string) Option {
	return optionFunc(func(c *config) { c.hostPattern = pattern })
}

// WithSamplingRules sets which requests are traced, overriding
// OTEL_TRACES_SAMPLER. By default the rules come from the X-Ray daemon's
// sampling API on the TCP address of AWS_XRAY_DAEMON_ADDRESS (see
// sampling.Daemon): the Sidelight sidecar forwards X-Ray's rules in AWS and
// traces every request in local mode. Until the daemon answers, if it never
// does, and in Lambda, the default traces one request a second and 5 % of
// the rest. Requests whose trace header carries a decision (Sampled=1 or 0)
// follow it.
func WithSamplingRules(r *sampling.Rules) Option {
	return optionFunc(func(c *config) {
		if r != nil {
			c.rules = r
			c.sampler = sampler{}
		}
	})
}

// WithLogger sets where the kit reports problems (a setting it cannot
// honour, an exporter that could not start, metrics that could not be
// written). It logs nothing per request. The default discards; the
// default kit logs to slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithRouteFunc sets how the route of a request is found, for routers that
// do not set http.Request.Pattern. It is called after the handler ran. The
// default uses Request.Pattern, which net/http's ServeMux sets.
func WithRouteFunc(f func(*http.Request) string) Option {
	return optionFunc(func(c *config) { c.routeFunc = f })
}

// WithECSMetadata turns reading the ECS task metadata endpoint on or off.
// It is on when ECS_CONTAINER_METADATA_URI_V4 is set: segments then carry
// origin AWS::ECS::Container and the container's details.
func WithECSMetadata(on bool) Option {
	return optionFunc(func(c *config) { c.ecs = on })
}

// WithEC2Metadata turns reading the EC2 instance metadata service (IMDSv2)
// on or off; it is off by default, so that services off EC2 never probe the
// link-local metadata address. When on, segments carry origin
// AWS::EC2::Instance and the instance ID, zone, type and AMI. The endpoint
// is AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254.
func WithEC2Metadata(on bool) Option {
	return optionFunc(func(c *config) { c.ec2 = on })
}

// withClock replaces time.Now in tests.
func withClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}

// withGetenv replaces os.Getenv, so that tests give each case its own
// environment.
type withGetenv func(string) string

func (withGetenv) apply(*config) {}

// newConfig reads the environment, then applies opts over it.
func newConfig(opts []Option) *config {
	c := &config{
		getenv:        os.Getenv,
		logger:        slog.New(slog.DiscardHandler),
		now:           time.Now,
		cors:          true,
		timeoutMargin: DefaultTimeoutMargin,
	}
	for _, o := range opts {
		if g, ok := o.(withGetenv); ok {
			c.getenv = g
		}
	}
	c.readEnvironment()
	for _, o := range opts {
		o.apply(c)
	}
	c.serviceName = xray.SanitizeName(c.serviceName)
	c.version = c.detectVersion()
	if c.disabled && !c.metrics.set {
		c.metrics.off = true
	}
	return c
}

// logProblems reports the settings c could not honour. A kit does it once,
// in New: the configurations it derives for each handler read the same
// environment and would repeat them.
func (c *config) logProblems() {
	for _, err := range c.problems {
		c.logger.Error("sidelight: setting ignored", "error", err)
	}
}
