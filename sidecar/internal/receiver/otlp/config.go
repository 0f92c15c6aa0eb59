package otlp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// Default values applied by New.
const (
	DefaultHTTPAddr = "127.0.0.1:4318"
	DefaultGRPCAddr = "127.0.0.1:4317"
	// DefaultMaxRequestBytes bounds one request, after decompression. It
	// is gRPC's default receive limit, which every OTLP/gRPC exporter
	// already has to fit under (the OTLP specification suggests up to
	// 20 MiB; the sidecar runs in a small memory budget).
	DefaultMaxRequestBytes = 4 << 20
	// DefaultDecodeMemory bounds the memory all requests together hold
	// while they are read and decoded (bodies and decoded requests, by
	// estimate) until the Consumer returns.
	DefaultDecodeMemory = 64 << 20
	// DefaultRecursionLimit bounds message nesting while decoding. An
	// export request is about six messages deep before attribute values
	// start; each level of a nested map value adds three (AnyValue,
	// KeyValueList, KeyValue), so 128 leaves room for 40 levels of maps,
	// far beyond what X-Ray keeps (16).
	DefaultRecursionLimit = 128
	// DefaultRetryAfter is the delay suggested to clients asked to retry.
	DefaultRetryAfter = time.Second
)

// Config configures a Receiver.
type Config struct {
	// HTTPAddr (default 127.0.0.1:4318) and GRPCAddr (default
	// 127.0.0.1:4317) are the listening addresses; "off" disables one.
	HTTPAddr, GRPCAddr string
	// MaxRequestBytes bounds a request body, after decompression (default
	// 4 MiB). Larger HTTP requests get 413; larger gRPC messages
	// RESOURCE_EXHAUSTED without RetryInfo (not retried).
	MaxRequestBytes int64
	// DecodeMemory bounds the memory held by all requests together while
	// they are read, decoded and handed to the Consumer (default 64 MiB):
	// the body buffer and an estimate of the decoded request, which for
	// many tiny attributes is 60 times the wire size. When it is full,
	// requests are refused as retryable (429 / RESOURCE_EXHAUSTED with
	// RetryInfo) before more is allocated; a request that alone would
	// not fit is refused as too large (413; over gRPC INTERNAL, not
	// retried).
	DecodeMemory int64
	// RecursionLimit bounds message nesting in decoded requests (default
	// 128); deeper requests are malformed (400 / INVALID_ARGUMENT).
	RecursionLimit int
	// RetryAfter is the delay suggested when asking clients to retry
	// (default 1s). HTTP's Retry-After header carries whole seconds, so it
	// is rounded up there (at least 1).
	RetryAfter time.Duration
	// AllowHost decides which HTTP Host header values (without port) are
	// served; others get 403. It defends the loopback listener against
	// DNS rebinding from web pages. Default: LoopbackHost. Set it when
	// listening on other addresses.
	AllowHost func(host string) bool
	// Budget, when set, is the memory budget decode memory is reserved
	// from (the sidecar's telemetry budget, shared with its queues)
	// instead of a budget of DecodeMemory bytes of the receiver's own; a
	// request is then refused as too large when it alone would take more
	// than the smaller of the two.
	Budget *queue.Budget
	// AdmitTraces, when set, is asked before a traces request is decoded
	// whether the Consumer has room for a request of wireBytes bytes
	// (after decompression). When it says no, the request is refused as
	// retryable (429 with Retry-After / RESOURCE_EXHAUSTED with
	// RetryInfo, counted as otlp.refused.budget_full) at the cost of its
	// read only. It is a hint: the Consumer still decides, all or none.
	AdmitTraces func(wireBytes int64) bool
	// ReuseTraceBodies says the Consumer's ConsumeSpans (SpanConsumer)
	// keeps nothing that points into the request's bytes once it returns:
	// neither b.Raw nor any span's strings or bytes, copying whatever it
	// queues. OTLP/HTTP protobuf traces requests are then read into
	// buffers reused from one request to the next, instead of a new,
	// zeroed one each. Leave it off for a Consumer that may keep any part
	// of the request past the call.
	ReuseTraceBodies bool
	Consumer         Consumer
	Counters         *status.Counters
	Logger           *slog.Logger
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	if c.Consumer == nil || c.Counters == nil {
		return errors.New("otlp receiver: Consumer and Counters are required")
	}
	for _, a := range []string{c.HTTPAddr, c.GRPCAddr} {
		if a == "off" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("otlp receiver: address %q: %w", a, err)
		}
	}
	if c.MaxRequestBytes < 1 || c.MaxRequestBytes > 1<<30 {
		return fmt.Errorf("otlp receiver: MaxRequestBytes %d out of range (1 B to 1 GiB)", c.MaxRequestBytes)
	}
	if c.DecodeMemory < c.MaxRequestBytes {
		return fmt.Errorf("otlp receiver: DecodeMemory %d is below MaxRequestBytes %d", c.DecodeMemory, c.MaxRequestBytes)
	}
	if c.RecursionLimit < 8 {
		return fmt.Errorf("otlp receiver: RecursionLimit %d below 8 cannot hold an export request", c.RecursionLimit)
	}
	if c.RetryAfter <= 0 {
		return errors.New("otlp receiver: RetryAfter must be positive")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.DecodeMemory == 0 {
		c.DecodeMemory = max(DefaultDecodeMemory, c.MaxRequestBytes)
		if c.Budget != nil {
			c.DecodeMemory = max(c.Budget.Limit(), c.MaxRequestBytes)
		}
	}
	if c.RecursionLimit == 0 {
		c.RecursionLimit = DefaultRecursionLimit
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.AllowHost == nil {
		c.AllowHost = LoopbackHost
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// LoopbackHost reports whether host (a Host header without its port) names
// the local machine: "localhost" (any case, optional trailing dot, or a
// subdomain of it) or a loopback IP address.
func LoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
