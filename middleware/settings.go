package middleware

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
	"github.com/seed-c77c9410/sidelight/internal/resourceattr"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// readEnvironment sets the defaults that come from environment variables:
// the AWS SDKs' and the OpenTelemetry SDKs' (see the package
// documentation). Values it cannot use are noted in c.problems and leave
// the built-in default.
func (c *config) readEnvironment() {
	env := c.getenv
	res, err := parseResourceAttributes(env(resourceattr.Env))
	if err != nil {
		c.problems = append(c.problems, err)
	}
	c.serviceName = first(env("AWS_XRAY_TRACING_NAME"), resourceattr.ServiceName(env(resourceattr.ServiceNameEnv), res[resourceattr.ServiceNameKey]),
		env("AWS_EMF_SERVICE_NAME"), env("AWS_LAMBDA_FUNCTION_NAME"), programName())
	c.serviceVersion = res[resourceattr.ServiceVersion]
	c.inLambda = env("AWS_LAMBDA_FUNCTION_NAME") != ""
	c.daemonAddr = env("AWS_XRAY_DAEMON_ADDRESS")
	c.tracesEnv = env("OTEL_TRACES_EXPORTER")
	switch v := strings.ToLower(strings.TrimSpace(env("OTEL_SDK_DISABLED"))); v {
	case "true":
		c.disabled = true
	case "", "false":
	default:
		c.problems = append(c.problems, fmt.Errorf("OTEL_SDK_DISABLED=%q is neither true nor false: taken as false", v))
	}
	s, err := parseSampler(env("OTEL_TRACES_SAMPLER"), env("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		c.problems = append(c.problems, err)
	}
	c.sampler = s
	c.ecsEndpoint = env("ECS_CONTAINER_METADATA_URI_V4")
	c.ecs = c.ecsEndpoint != ""
	c.ec2Endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if c.ec2Endpoint == "" {
		c.ec2Endpoint = "http://169.254.169.254"
	}
	c.headerOrder = traceHeaderOrderFromEnv(env("OTEL_PROPAGATORS"))
	switch v := strings.ToLower(strings.TrimSpace(env(redmetric.VersionEnv))); v {
	case "true", "1":
		c.metrics.byVersion = true
	case "", "false", "0":
	default:
		c.problems = append(c.problems, fmt.Errorf("%s=%q is neither true nor false: taken as false", redmetric.VersionEnv, v))
	}
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func programName() string {
	if exe, err := os.Executable(); err == nil {
		return filepath.Base(exe)
	}
	return "service"
}

// maxResourceAttributes bounds the pairs read from OTEL_RESOURCE_ATTRIBUTES.
const maxResourceAttributes = 128

// parseResourceAttributes reads OTEL_RESOURCE_ATTRIBUTES with
// resourceattr.Parse (key=value pairs separated by commas, keys and values
// percent-decoded, surrounding spaces trimmed, later pairs winning). As
// the OpenTelemetry specification asks, any entry that cannot be read
// discards the whole variable, with an error naming each such entry, as
// do more than maxResourceAttributes pairs.
func parseResourceAttributes(s string) (map[string]string, error) {
	attrs, err := resourceattr.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: ignored", resourceattr.Env, err)
	}
	pairs := 0 // entries, repeated keys included
	for e := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(e) != "" {
			pairs++
		}
	}
	if pairs > maxResourceAttributes {
		return nil, fmt.Errorf("%s: more than %d pairs: ignored", resourceattr.Env, maxResourceAttributes)
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(attrs))
	for _, a := range attrs {
		out[a.Key] = a.Value
	}
	return out, nil
}

// sampler is a sampler named by OTEL_TRACES_SAMPLER. The zero value means
// none was named: X-Ray sampling rules decide.
type sampler struct {
	kind        samplerKind
	parentBased bool    // follow the incoming decision when there is one
	bound       uint64  // traceidratio: sample when the ID's low 63 bits are below
	ratio       float64 // for messages
}

type samplerKind uint8

const (
	samplerRules samplerKind = iota
	samplerAlwaysOn
	samplerAlwaysOff
	samplerRatio
)

// parseSampler reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG:
// always_on, always_off, traceidratio and their parentbased_ forms. "xray"
// (and an empty value) keeps the X-Ray sampling rules. Other values
// (jaeger_remote, …) are reported and keep the rules; a ratio that is not a
// number from 0 to 1 is reported and taken as 1, as the specification says.
func parseSampler(name, arg string) (sampler, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	var s sampler
	base, parentBased := strings.CutPrefix(name, "parentbased_")
	s.parentBased = parentBased
	switch base {
	case "", "xray":
		if parentBased {
			return sampler{}, fmt.Errorf("OTEL_TRACES_SAMPLER=%q is not supported: X-Ray sampling rules decide", name)
		}
		return sampler{}, nil
	case "always_on":
		s.kind = samplerAlwaysOn
	case "always_off":
		s.kind = samplerAlwaysOff
	case "traceidratio":
		s.kind = samplerRatio
		s.ratio = 1
		var err error
		if a := strings.TrimSpace(arg); a != "" {
			r, perr := strconv.ParseFloat(a, 64)
			if perr != nil || !(r >= 0 && r <= 1) {
				err = fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q is not a ratio from 0 to 1: 1 is used", arg)
			} else {
				s.ratio = r
			}
		}
		s.bound = uint64(s.ratio * (1 << 63))
		return s, err
	default:
		return sampler{}, fmt.Errorf("OTEL_TRACES_SAMPLER=%q is not supported: X-Ray sampling rules decide", name)
	}
	return s, nil
}

// root decides for a request without an incoming decision (or for every
// request, when the sampler is not parent-based).
func (s sampler) root(traceID trace.TraceID) bool {
	switch s.kind {
	case samplerAlwaysOn:
		return true
	case samplerRatio:
		// The low 8 bytes are random in X-Ray and W3C IDs alike; the same
		// test as OpenTelemetry's TraceIDRatioBased, so both agree.
		return binary.BigEndian.Uint64(traceID[8:16])>>1 < s.bound
	}
	return false
}

// decide says whether to trace a request that came with decision in (a
// trace header's Sampled), for the trace traceID.
func (c *config) decide(in xray.SamplingDecision, traceID trace.TraceID, req sampling.Request, now time.Time) bool {
	if c.sampler.kind != samplerRules && !c.sampler.parentBased {
		return c.sampler.root(traceID)
	}
	switch in {
	case xray.Sampled:
		return true
	case xray.NotSampled:
		return false
	}
	if c.sampler.kind != samplerRules {
		return c.sampler.root(traceID)
	}
	return c.rules.Sample(req, now)
}

// defaultRules are a kit's sampling rules when none are given: the
// daemon's, fetched in the background, with the X-Ray SDKs' default until
// it answers. In Lambda the service decides upstream and no daemon serves
// the sampling API, so the SDKs' default alone.
func (c *config) defaultRules() *sampling.Rules {
	if c.inLambda {
		return sampling.Default()
	}
	addr, err := xray.ParseDaemonAddress(c.daemonAddr)
	if err != nil {
		return sampling.Default() // the exporter reports the bad address
	}
	return sampling.Daemon(addr.TCP, sampling.Default())
}

// errNoOTLPExporter says what OTEL_TRACES_EXPORTER=otlp needs.
var errNoOTLPExporter = errors.New("OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: pass one made by package exporter/otlp with WithSegmentExporter; traces are off")

// exporterFromEnvironment makes the kit's exporter as OTEL_TRACES_EXPORTER
// says: "xray" (the default) is the X-Ray UDP emitter, "none" is no
// exporter. Anything else, "otlp" included (this package does not link
// the OTLP exporter: see WithSegmentExporter), is reported and means no
// exporter. OTEL_SDK_DISABLED=true means none.
func (c *config) exporterFromEnvironment() (xray.SegmentExporter, error) {
	if c.disabled {
		return nil, nil
	}
	names := strings.Split(strings.ToLower(c.tracesEnv), ",")
	name := strings.TrimSpace(names[0])
	var err error
	switch {
	case len(names) > 1:
		err = fmt.Errorf("OTEL_TRACES_EXPORTER=%q: one exporter at a time is supported; traces are off", c.tracesEnv)
	case name == "" || name == "xray":
		e, nerr := xray.NewEmitter(xray.WithDaemonAddress(c.daemonAddr), xray.WithLogger(c.logger))
		if nerr == nil {
			return e, nil
		}
		err = fmt.Errorf("no X-Ray emitter, traces are off: %w", nerr)
	case name == "none":
		return nil, nil
	case name == "otlp":
		err = errNoOTLPExporter
	default:
		err = fmt.Errorf("OTEL_TRACES_EXPORTER=%q is not supported (xray, otlp with WithSegmentExporter, none): traces are off", c.tracesEnv)
	}
	c.logger.Error("sidelight: setting ignored", "error", err)
	return nil, err
}
