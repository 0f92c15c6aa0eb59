package otlphttp

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/net/http/httpguts"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/internal/sender"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// Signal is what an Exporter sends.
type Signal int

// Signals.
const (
	Traces Signal = iota
	Metrics
	Logs
)

func (s Signal) String() string {
	switch s {
	case Traces:
		return "traces"
	case Metrics:
		return "metrics"
	case Logs:
		return "logs"
	}
	return "unknown"
}

// Path is the signal's default URL path on an OTLP/HTTP endpoint.
func (s Signal) Path() string { return "/v1/" + s.String() }

// Limits are what an endpoint accepts; zero fields are unlimited, except
// MaxRequestBytes and MaxItems, which default to DefaultLimits'.
type Limits struct {
	// MaxRequestBytes bounds a request's uncompressed protobuf.
	MaxRequestBytes int
	// MaxItems bounds the spans, log records or data points of a request.
	MaxItems int
	// MaxItemBytes bounds one span or log record, encoded.
	MaxItemBytes int
	// MaxResourceScopeBytes bounds one resource and its scope, encoded.
	MaxResourceScopeBytes int
	// MaxPast and MaxFuture bound a span's or record's times around now.
	MaxPast, MaxFuture time.Duration
	// MaxGap bounds the time between the earliest and latest item of one
	// request.
	MaxGap time.Duration
}

// XRayLimits are X-Ray's OTLP endpoint's, from "OTLP Endpoints" in the
// CloudWatch User Guide (CloudWatch-OTLPEndpoint.html, "Endpoint limits
// and restrictions"): 5 MB uncompressed and 10,000 spans per request,
// 200 KB per span, 16 KB per resource and scope, span times from 14 days
// ago to 2 hours ahead, at most 24 hours between the spans of a request.
// "MB" and "KB" are read as decimal units, the smaller reading.
var XRayLimits = Limits{
	MaxRequestBytes: 5_000_000, MaxItems: 10_000, MaxItemBytes: 200_000, MaxResourceScopeBytes: 16_000,
	MaxPast: 14 * 24 * time.Hour, MaxFuture: 2 * time.Hour, MaxGap: 24 * time.Hour,
}

// CloudWatchLogsLimits bound requests to CloudWatch Logs' OTLP endpoint.
// The "OTLP Endpoints" page has a table of the logs endpoint's limits we
// could not read in full, so these are PutLogEvents' (1,048,576 bytes and
// 10,000 events per batch, at most 24 hours apart, events at most 14 days
// old and 2 hours ahead; CloudWatch Logs API Reference, PutLogEvents),
// which the endpoint writes to a stream like, with a margin for the OTLP
// framing: conservative, if not exact.
var CloudWatchLogsLimits = Limits{MaxRequestBytes: 1_000_000, MaxItems: 10_000, MaxPast: 14 * 24 * time.Hour,
	MaxFuture: 2 * time.Hour, MaxGap: 24 * time.Hour}

// DefaultLimits suit any OTLP/HTTP endpoint (the OpenTelemetry
// Collector's receiver takes 20 MiB by default).
var DefaultLimits = Limits{MaxRequestBytes: 4 << 20, MaxItems: 10_000}

// Config configures an Exporter.
type Config struct {
	// Name prefixes the Exporter's counters ("traces_otlp" gives
	// traces_otlp.sent, ...) and its errors.
	Name   string
	Signal Signal
	// Endpoint is the full URL requests go to, such as
	// https://xray.us-east-1.amazonaws.com/v1/traces.
	Endpoint string
	// Headers are added to every request (and signed with it).
	Headers map[string]string
	// Credentials, when set, sign every request with SigV4 for
	// SigningName in Region (aws-sdk-go-v2's signer); when nil requests go
	// unsigned.
	Credentials aws.CredentialsProvider
	SigningName string
	Region      string
	// Limits are the endpoint's (default DefaultLimits).
	Limits Limits

	Budget   *queue.Budget
	Counters *status.Counters
	// Workers is the number of concurrent requests (default 2).
	Workers int
	// FlushInterval sends a partial request when it is this old (default
	// 200ms).
	FlushInterval time.Duration
	// RequestTimeout bounds each request (default 10s).
	RequestTimeout time.Duration
	// Backoff for retries (default retry.DefaultBackoff).
	Backoff retry.Backoff
	// HTTPClient sends the requests (default: HTTP/1.1, as AWS's OTLP
	// endpoints require, with an idle connection per worker).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock for the time limits (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	c.Limits.MaxRequestBytes = cmp.Or(c.Limits.MaxRequestBytes, DefaultLimits.MaxRequestBytes)
	c.Limits.MaxItems = cmp.Or(c.Limits.MaxItems, DefaultLimits.MaxItems)
	c.Workers = cmp.Or(c.Workers, 2)
	c.FlushInterval = cmp.Or(c.FlushInterval, 200*time.Millisecond)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, sender.DefaultRequestTimeout)
	c.Backoff = cmp.Or(c.Backoff, retry.DefaultBackoff)
	c.Logger = cmp.Or(c.Logger, sender.DiscardLogger)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ForceAttemptHTTP2 = false
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		t.MaxIdleConnsPerHost = max(c.Workers, t.MaxIdleConnsPerHost)
		c.HTTPClient = &http.Client{Transport: t}
	}
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("otlphttp: Name is required"))
	}
	if c.Signal < Traces || c.Signal > Logs {
		errs = append(errs, fmt.Errorf("otlphttp: unknown signal %d", c.Signal))
	}
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("otlphttp: endpoint %q is not an http(s) URL", c.Endpoint))
	}
	for k, v := range c.Headers {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			errs = append(errs, fmt.Errorf("otlphttp: header %q: invalid name or value", k))
		}
	}
	if c.Credentials != nil && (c.SigningName == "" || c.Region == "") {
		errs = append(errs, errors.New("otlphttp: signing needs SigningName and Region"))
	}
	if c.Budget == nil || c.Counters == nil {
		errs = append(errs, errors.New("otlphttp: Budget and Counters are required"))
	}
	if c.Workers < 1 || c.FlushInterval <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("otlphttp: Workers, FlushInterval and RequestTimeout must be positive"))
	}
	if c.Limits.MaxRequestBytes < 1024 || c.Limits.MaxItems < 1 {
		errs = append(errs, errors.New("otlphttp: Limits.MaxRequestBytes must be at least 1024 and MaxItems at least 1"))
	}
	return errors.Join(errs...)
}
