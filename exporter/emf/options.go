package emf

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Environment is where the code runs; it decides the default sink and the
// default service type, as in the official EMF libraries.
type Environment string

// Environments, as spelled in AWS_EMF_ENVIRONMENT (matched case-insensitively).
const (
	Lambda Environment = "Lambda" // standard output
	ECS    Environment = "ECS"    // CloudWatch agent sidecar
	EC2    Environment = "EC2"    // CloudWatch agent on the instance
	Agent  Environment = "Agent"  // CloudWatch agent at AWS_EMF_AGENT_ENDPOINT
	Local  Environment = "Local"  // standard output
)

// DefaultAgentEndpoint is where the CloudWatch agent listens for EMF.
const DefaultAgentEndpoint = "tcp://127.0.0.1:25888"

// DefaultNamespace is the namespace when none is configured, as in the
// official libraries.
const DefaultNamespace = "aws-embedded-metrics"

// Option configures a Logger.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	env                 Environment
	namespace           string
	service, svcType    string
	logGroup, logStream string
	endpoint            string
	sink                Sink
	defaultDims         []Dimension
	defaultDimsSet      bool
	now                 func() time.Time
	log                 *slog.Logger
	getenv              func(string) string
}

// WithNamespace sets the CloudWatch namespace (default: AWS_EMF_NAMESPACE,
// POWERTOOLS_METRICS_NAMESPACE, then "aws-embedded-metrics").
func WithNamespace(ns string) Option { return optionFunc(func(c *config) { c.namespace = ns }) }

// WithServiceName sets the ServiceName default dimension (default:
// AWS_EMF_SERVICE_NAME, POWERTOOLS_SERVICE_NAME, the Lambda function name,
// then "Unknown").
func WithServiceName(s string) Option { return optionFunc(func(c *config) { c.service = s }) }

// WithServiceType sets the ServiceType default dimension (default:
// AWS_EMF_SERVICE_TYPE, then one derived from the environment).
func WithServiceType(s string) Option { return optionFunc(func(c *config) { c.svcType = s }) }

// WithLogGroup sets _aws.LogGroupName, which the CloudWatch agent needs
// (default: AWS_EMF_LOG_GROUP_NAME, then "<service>-metrics" when writing to
// the agent; not written in Lambda, where the function's log group is used).
func WithLogGroup(name string) Option { return optionFunc(func(c *config) { c.logGroup = name }) }

// WithLogStream sets _aws.LogStreamName (default: AWS_EMF_LOG_STREAM_NAME).
func WithLogStream(name string) Option { return optionFunc(func(c *config) { c.logStream = name }) }

// WithEnvironment overrides environment detection (default:
// AWS_EMF_ENVIRONMENT, then detection).
func WithEnvironment(e Environment) Option { return optionFunc(func(c *config) { c.env = e }) }

// WithAgentEndpoint sets the agent address, tcp://host:port or
// udp://host:port (default: AWS_EMF_AGENT_ENDPOINT, then
// tcp://$FLUENT_HOST:25888 on ECS, then tcp://127.0.0.1:25888). It is used
// only when the Logger creates an agent sink itself.
func WithAgentEndpoint(ep string) Option { return optionFunc(func(c *config) { c.endpoint = ep }) }

// WithSink sends documents to s instead of the sink chosen from the
// environment. The caller keeps ownership: Logger.Shutdown does not shut s
// down.
func WithSink(s Sink) Option { return optionFunc(func(c *config) { c.sink = s }) }

// WithDefaultDimensions replaces the default dimensions (ServiceName,
// ServiceType and LogGroup when known), which are prepended to every
// dimension set. Call it with no arguments for none.
func WithDefaultDimensions(dims ...Dimension) Option {
	dims = append([]Dimension(nil), dims...)
	return optionFunc(func(c *config) { c.defaultDims, c.defaultDimsSet = dims, true })
}

// WithClock sets the clock that timestamps documents (default time.Now).
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

// WithLogger sets where the Logger and the sink it creates report problems
// (default: discarded).
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.log = l }) }

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// resolve fills c from the environment where options left it empty.
func (c *config) resolve() error {
	get := c.getenv
	if get == nil {
		get = os.Getenv
	}
	explicitGroup, explicitStream := c.logGroup, c.logStream
	if c.env == "" {
		if e := get("AWS_EMF_ENVIRONMENT"); e != "" {
			c.env = Environment(e)
		}
	}
	if c.env != "" {
		found := false
		for _, e := range []Environment{Lambda, ECS, EC2, Agent, Local} {
			if strings.EqualFold(string(c.env), string(e)) {
				c.env, found = e, true
			}
		}
		if !found {
			return fmt.Errorf("emf: unknown environment %q (want Lambda, ECS, EC2, Agent or Local)", c.env)
		}
	} else {
		switch {
		case get("AWS_LAMBDA_FUNCTION_NAME") != "":
			c.env = Lambda
		case get("ECS_CONTAINER_METADATA_URI_V4") != "" || get("ECS_CONTAINER_METADATA_URI") != "" ||
			strings.HasPrefix(get("AWS_EXECUTION_ENV"), "AWS_ECS_"):
			c.env = ECS
		case get("AWS_EMF_AGENT_ENDPOINT") != "":
			c.env = Agent
		default:
			c.env = Local
		}
	}
	c.namespace = first(c.namespace, get("AWS_EMF_NAMESPACE"), get("POWERTOOLS_METRICS_NAMESPACE"), DefaultNamespace)
	var envName, envType string
	switch c.env {
	case Lambda:
		envName, envType = get("AWS_LAMBDA_FUNCTION_NAME"), "AWS::Lambda::Function"
	case ECS:
		envType = "AWS::ECS::Container"
	case EC2:
		envType = "AWS::EC2::Instance"
	}
	c.service = first(c.service, get("AWS_EMF_SERVICE_NAME"), get("POWERTOOLS_SERVICE_NAME"), envName, "Unknown")
	c.svcType = first(c.svcType, get("AWS_EMF_SERVICE_TYPE"), envType, "Unknown")
	toAgent := c.env == ECS || c.env == EC2 || c.env == Agent
	c.logGroup = first(c.logGroup, get("AWS_EMF_LOG_GROUP_NAME"))
	if c.logGroup == "" && toAgent {
		c.logGroup = c.service + "-metrics"
	}
	c.logStream = first(c.logStream, get("AWS_EMF_LOG_STREAM_NAME"))
	if c.endpoint == "" {
		c.endpoint = get("AWS_EMF_AGENT_ENDPOINT")
	}
	if c.endpoint == "" && c.env == ECS && get("FLUENT_HOST") != "" {
		c.endpoint = "tcp://" + get("FLUENT_HOST") + ":25888"
	}
	if c.endpoint == "" {
		c.endpoint = DefaultAgentEndpoint
	}
	if !c.defaultDimsSet {
		c.defaultDims = []Dimension{{"ServiceName", c.service}, {"ServiceType", c.svcType}}
		lg := c.logGroup
		if c.env == Lambda {
			lg = get("AWS_LAMBDA_LOG_GROUP_NAME")
		}
		if lg != "" {
			c.defaultDims = append(c.defaultDims, Dimension{"LogGroup", lg})
		}
	}
	if c.env == Lambda {
		// Lambda sends standard output to the function's own log group;
		// only names set with options are written.
		c.logGroup, c.logStream = explicitGroup, explicitStream
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return nil
}
