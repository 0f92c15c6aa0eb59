package middleware

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// Option configures the middleware. The same options serve HTTP, Transport,
// AWS and Lambda; each ignores those that do not concern it.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	emitter     *xray.Emitter
	serviceName string
	hostPattern string // dynamic naming when not empty
	rules       *sampling.Rules
	logger      *slog.Logger
	routeFunc   func(*http.Request) string
	ecs         bool
	ecsEndpoint string
	ec2         bool
	ec2Endpoint string
	now         func() time.Time
	metrics     metricsConfig
	cors        bool
	corsChecker *corscheck.Checker
	headerOrder []TraceHeader // nil means defaultTraceHeaderOrder
}

// WithEmitter sets where segments go. By default the middleware shares one
// emitter per process, created on first use from AWS_XRAY_DAEMON_ADDRESS;
// pass your own to control its queue and to flush it on shutdown.
func WithEmitter(e *xray.Emitter) Option {
	return optionFunc(func(c *config) { c.emitter = e })
}

// WithServiceName sets the segment name: the name of this service in the
// X-Ray trace map. The default is AWS_XRAY_TRACING_NAME, else
// OTEL_SERVICE_NAME, else the program's file name.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithHostNaming names each segment after the request's Host when it
// matches pattern ('*' and '?' wildcards), and by the service name
// otherwise, as the X-Ray SDKs' dynamic segment namer does. Use a pattern
// that lists your own domains ("*.example.com"), so that clients cannot
// create names at will.
func WithHostNaming(pattern string) Option {
	return optionFunc(func(c *config) { c.hostPattern = pattern })
}

// WithSamplingRules sets which requests are traced. By default the rules
// come from the X-Ray daemon's sampling API on the TCP address of
// AWS_XRAY_DAEMON_ADDRESS (see sampling.Daemon): the Sidelight sidecar
// forwards X-Ray's rules in AWS and traces every request in local mode.
// Until the daemon answers, if it never does, and in Lambda, the default
// traces one request a second and 5 % of the rest. Requests whose trace
// header carries a decision (Sampled=1 or 0) follow it.
func WithSamplingRules(r *sampling.Rules) Option {
	return optionFunc(func(c *config) {
		if r != nil {
			c.rules = r
		}
	})
}

// WithLogger sets where the middleware reports problems (a malformed
// configuration, an emitter that could not start). It logs nothing per
// request. The default discards.
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

var defaultCORSChecker, _ = corscheck.New()

var defaultEmitterOnce = sync.OnceValues(func() (*xray.Emitter, error) { return xray.NewEmitter() })

// newConfig applies opts over the defaults and, when no emitter was
// given, resolves the process-wide default one.
func newConfig(opts []Option) *config {
	c := newConfigNoEmitter(opts)
	if c.emitter == nil {
		c.emitter = c.defaultEmitter()
	}
	return c
}

// newConfigNoEmitter is newConfig for the outgoing-call instrumentation
// (Transport, AWS): their subsegments usually go into the request's own
// segment, so the default emitter is only resolved, by emitterFor, when
// one has to be sent on its own.
func newConfigNoEmitter(opts []Option) *config {
	c := &config{
		serviceName: defaultServiceName(),
		logger:      slog.New(slog.DiscardHandler),
		now:         time.Now,
		cors:        true,
		corsChecker: defaultCORSChecker,
	}
	c.ecsEndpoint = os.Getenv("ECS_CONTAINER_METADATA_URI_V4")
	c.ecs = c.ecsEndpoint != ""
	c.ec2Endpoint = os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if c.ec2Endpoint == "" {
		c.ec2Endpoint = "http://169.254.169.254"
	}
	c.metrics = defaultMetricsConfig()
	c.headerOrder = traceHeaderOrderFromEnv(os.Getenv("OTEL_PROPAGATORS"))
	for _, o := range opts {
		o.apply(c)
	}
	c.serviceName = xray.SanitizeName(c.serviceName)
	if c.rules == nil {
		c.rules = defaultRules()
	}
	return c
}

// defaultRules are the process's sampling rules when none are given: the
// daemon's, fetched in the background, with the X-Ray SDKs' default until
// it answers. In Lambda the service decides upstream and no daemon serves
// the sampling API, so the SDKs' default alone.
var defaultRules = sync.OnceValue(func() *sampling.Rules {
	if os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "" {
		return sampling.Default()
	}
	addr, err := xray.ParseDaemonAddress(os.Getenv("AWS_XRAY_DAEMON_ADDRESS"))
	if err != nil {
		return sampling.Default() // the emitter reports the bad address
	}
	return sampling.Daemon(addr.TCP, sampling.Default())
})

// defaultEmitter returns the process-wide emitter, created on first use,
// or nil (logged) when it cannot be created.
func (c *config) defaultEmitter() *xray.Emitter {
	e, err := defaultEmitterOnce()
	if err != nil {
		c.logger.Error("sidelight: no X-Ray emitter; requests are not traced", "error", err)
	}
	return e
}

func defaultServiceName() string {
	for _, k := range []string{"AWS_XRAY_TRACING_NAME", "OTEL_SERVICE_NAME", "AWS_EMF_SERVICE_NAME", "AWS_LAMBDA_FUNCTION_NAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Base(exe)
	}
	return "service"
}
