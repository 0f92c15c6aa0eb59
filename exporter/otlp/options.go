package otlp

import (
	"log/slog"
	"net/http"
	"os"
	"time"
)

// Compression says how request bodies are compressed.
type Compression uint8

// Compressions the exporter supports.
const (
	NoCompression Compression = iota
	GzipCompression
)

// RetryConfig says how a batch the collector could not take is retried:
// answers 429, 502, 503 and 504 and failed connections are retried after
// InitialInterval, doubling up to MaxInterval (or after the Retry-After the
// collector asked for), until MaxElapsedTime has passed since the first
// attempt. Other answers drop the batch.
type RetryConfig struct {
	Enabled         bool
	InitialInterval time.Duration
	MaxInterval     time.Duration
	MaxElapsedTime  time.Duration
}

// defaultRetry is the retry policy unless WithRetry says otherwise (the
// OpenTelemetry SDK exporters' defaults).
var defaultRetry = RetryConfig{Enabled: true, InitialInterval: 5 * time.Second, MaxInterval: 30 * time.Second, MaxElapsedTime: time.Minute}

// Defaults for batching.
const (
	// DefaultEndpoint is where spans go unless the environment or
	// WithEndpointURL says otherwise: the Sidelight sidecar's (or any
	// collector's) OTLP/HTTP receiver on this host.
	DefaultEndpoint     = "http://localhost:4318/v1/traces"
	DefaultMaxBatchSize = 512
	DefaultBatchTimeout = time.Second
	// DefaultQueueSize is no bound on the number of spans: by default the
	// queue is bounded by memory, DefaultQueueBytes.
	DefaultQueueSize = 0
	// DefaultQueueBytes bounds the encoded spans the exporter holds, those
	// waiting and those in requests not yet answered.
	DefaultQueueBytes = 32 << 20
	DefaultTimeout    = 10 * time.Second
)

type config struct {
	endpoint     string
	headers      map[string]string
	timeout      time.Duration
	compression  Compression
	resource     []resourceAttr
	client       *http.Client
	logger       *slog.Logger
	retry        RetryConfig
	maxBatch     int
	batchTimeout time.Duration
	queueSize    int
	queueBytes   int
	scopeName    string
	scopeVersion string
	getenv       func(string) (string, bool)

	// set by options, so that they override the environment
	endpointSet, compressionSet, timeoutSet, serviceSet bool
	maxBatchSet, batchTimeoutSet, queueSizeSet          bool
	exportTimeout                                       time.Duration // OTEL_BSP_EXPORT_TIMEOUT; 0 when unset
	serviceName                                         string
	optHeaders                                          map[string]string
	optResource                                         []resourceAttr
}

// Option configures an Exporter.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithEndpointURL sets the full URL spans are posted to, path included
// (for example http://collector:4318/v1/traces). It overrides
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT.
func WithEndpointURL(u string) Option {
	return optionFunc(func(c *config) { c.endpoint, c.endpointSet = u, true })
}

// WithHeaders adds HTTP headers to every request; they override headers
// of the same name from OTEL_EXPORTER_OTLP_HEADERS.
func WithHeaders(h map[string]string) Option {
	return optionFunc(func(c *config) {
		if c.optHeaders == nil {
			c.optHeaders = make(map[string]string, len(h))
		}
		for k, v := range h {
			c.optHeaders[k] = v
		}
	})
}

// WithTimeout bounds each request (default 10 s, or
// OTEL_EXPORTER_OTLP_TIMEOUT).
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.timeout, c.timeoutSet = d, true
		}
	})
}

// WithCompression sets how request bodies are compressed (default none,
// or OTEL_EXPORTER_OTLP_COMPRESSION).
func WithCompression(comp Compression) Option {
	return optionFunc(func(c *config) { c.compression, c.compressionSet = comp, true })
}

// WithServiceName sets the resource's service.name for spans whose
// segment does not name the service (independent subsegments). It
// overrides OTEL_SERVICE_NAME.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName, c.serviceSet = name, true })
}

// WithResourceAttribute adds a string resource attribute, overriding the
// same key from OTEL_RESOURCE_ATTRIBUTES. What a segment itself says about
// its service (service.name, cloud.platform, …) comes first.
func WithResourceAttribute(key, value string) Option {
	return optionFunc(func(c *config) {
		if key != "" {
			c.optResource = append(c.optResource, resourceAttr{key, value})
		}
	})
}

// WithHTTPClient sets the client requests are sent with. By default the
// exporter has a client of its own, whose idle connections Shutdown
// closes.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) {
		if hc != nil {
			c.client = hc
		}
	})
}

// WithLogger sets where the exporter reports failed requests and drops
// (one line per request, never per span); by default it logs nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithRetry sets the retry policy. The default retries after 5 s,
// doubling up to 30 s, for at most a minute (the OpenTelemetry SDK
// exporters' defaults); the zero RetryConfig turns retries off.
func WithRetry(r RetryConfig) Option {
	return optionFunc(func(c *config) { c.retry = r })
}

// WithMaxBatchSize sets how many spans one request holds at most (default
// 512, or OTEL_BSP_MAX_EXPORT_BATCH_SIZE); a request is sent as soon as
// that many wait. Whatever the size, a request's body stays under 3 MiB.
func WithMaxBatchSize(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxBatch, c.maxBatchSet = n, true
		}
	})
}

// WithBatchTimeout sets how long a span waits at most before the sender
// sends what it has (default 1 s, or OTEL_BSP_SCHEDULE_DELAY).
func WithBatchTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.batchTimeout, c.batchTimeoutSet = d, true
		}
	})
}

// WithQueueSize bounds how many spans may wait for a request (default no
// bound, or OTEL_BSP_MAX_QUEUE_SIZE) and how many bytes of encoded spans
// the exporter holds, waiting or in requests not yet answered (default
// 32 MiB); zero leaves a bound as it was. A segment that does not fit is
// dropped and counted in Stats.
func WithQueueSize(spans, bytes int) Option {
	return optionFunc(func(c *config) {
		if spans > 0 {
			c.queueSize, c.queueSizeSet = spans, true
		}
		if bytes > 0 {
			c.queueBytes = bytes
		}
	})
}

// WithInstrumentationScope names the instrumentation scope the spans are
// sent under (default the Sidelight module path and no version).
func WithInstrumentationScope(name, version string) Option {
	return optionFunc(func(c *config) { c.scopeName, c.scopeVersion = name, version })
}

// WithEnvironment sets how the exporter reads OTEL_* settings (default
// os.LookupEnv), for a caller that reads the environment once for several
// components, or for tests.
func WithEnvironment(lookup func(key string) (string, bool)) Option {
	return optionFunc(func(c *config) {
		if lookup != nil {
			c.getenv = lookup
		}
	})
}

func defaultConfig() config {
	return config{
		endpoint:     DefaultEndpoint,
		timeout:      DefaultTimeout,
		logger:       slog.New(slog.DiscardHandler),
		retry:        defaultRetry,
		maxBatch:     DefaultMaxBatchSize,
		batchTimeout: DefaultBatchTimeout,
		queueSize:    DefaultQueueSize,
		queueBytes:   DefaultQueueBytes,
		scopeName:    "github.com/seed-c77c9410/sidelight",
		getenv:       os.LookupEnv,
	}
}
