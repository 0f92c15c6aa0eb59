package otlp

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/resourceattr"
)

// The OpenTelemetry environment variables the exporter reads. A
// signal-specific variable (…_TRACES_…) wins over the generic one.
const (
	envEndpoint          = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint    = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envHeaders           = "OTEL_EXPORTER_OTLP_HEADERS"
	envTracesHeaders     = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	envTimeout           = "OTEL_EXPORTER_OTLP_TIMEOUT"
	envTracesTimeout     = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
	envCompression       = "OTEL_EXPORTER_OTLP_COMPRESSION"
	envTracesCompression = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
	envProtocol          = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol    = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envServiceName       = resourceattr.ServiceNameEnv
	envResource          = resourceattr.Env
)

// tracesPath is what the OTLP/HTTP spec appends to the generic endpoint.
const tracesPath = "v1/traces"

// newConfig applies opts over the defaults and the environment.
func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		o.apply(&c)
	}
	env := func(specific, generic string) (string, string, bool) {
		if v, ok := c.getenv(specific); ok && strings.TrimSpace(v) != "" {
			return specific, strings.TrimSpace(v), true
		}
		if v, ok := c.getenv(generic); ok && strings.TrimSpace(v) != "" {
			return generic, strings.TrimSpace(v), true
		}
		return "", "", false
	}

	if !c.endpointSet {
		if v, ok := c.getenv(envTracesEndpoint); ok && strings.TrimSpace(v) != "" {
			c.endpoint = strings.TrimSpace(v)
		} else if v, ok := c.getenv(envEndpoint); ok && strings.TrimSpace(v) != "" {
			u, err := url.Parse(strings.TrimSpace(v))
			if err != nil {
				return c, fmt.Errorf("otlp: %s: %w", envEndpoint, err)
			}
			u.Path = strings.TrimSuffix(u.Path, "/") + "/" + tracesPath
			u.RawPath = ""
			c.endpoint = u.String()
		}
	}
	u, err := url.Parse(c.endpoint)
	if err != nil {
		return c, fmt.Errorf("otlp: endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("otlp: endpoint %q: want an http:// or https:// URL with a host", c.endpoint)
	}

	if name, v, ok := env(envTracesProtocol, envProtocol); ok {
		switch v {
		case "http/protobuf":
		case "grpc", "http/json":
			return c, fmt.Errorf("otlp: %s=%s: this exporter sends http/protobuf only", name, v)
		default:
			return c, fmt.Errorf("otlp: %s=%q: unknown protocol (this exporter sends http/protobuf)", name, v)
		}
	}

	if name, v, ok := env(envTracesHeaders, envHeaders); ok {
		h, err := parseList(v)
		if err != nil {
			return c, fmt.Errorf("otlp: %s: %w", name, err)
		}
		c.headers = make(map[string]string, len(h))
		for _, kv := range h {
			c.headers[kv.key] = kv.value
		}
	}
	if len(c.optHeaders) > 0 && c.headers == nil {
		c.headers = make(map[string]string, len(c.optHeaders))
	}
	for k, v := range c.optHeaders {
		c.headers[k] = v
	}

	if name, v, ok := env(envTracesTimeout, envTimeout); ok && !c.timeoutSet {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 {
			return c, fmt.Errorf("otlp: %s=%q: want a positive number of milliseconds", name, v)
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}

	if name, v, ok := env(envTracesCompression, envCompression); ok && !c.compressionSet {
		switch v {
		case "gzip":
			c.compression = GzipCompression
		case "none":
			c.compression = NoCompression
		default:
			return c, fmt.Errorf("otlp: %s=%q: want gzip or none", name, v)
		}
	}

	if err := c.applyBSPEnvironment(); err != nil {
		return c, err
	}

	if v, ok := c.getenv(envResource); ok && strings.TrimSpace(v) != "" {
		attrs, err := resourceattr.Parse(v)
		if err != nil {
			return c, fmt.Errorf("otlp: %s: %w", envResource, err)
		}
		for _, a := range attrs {
			c.resource = setAttr(c.resource, resourceAttr{a.Key, a.Value})
		}
	}
	if v, ok := c.getenv(envServiceName); ok && strings.TrimSpace(v) != "" {
		c.resource = setAttr(c.resource, resourceAttr{resourceattr.ServiceNameKey, resourceattr.ServiceName(v, "")})
	}
	for _, a := range c.optResource {
		c.resource = setAttr(c.resource, a)
	}
	if c.serviceSet {
		c.resource = setAttr(c.resource, resourceAttr{"service.name", c.serviceName})
	}
	return c, nil
}

func setAttr(list []resourceAttr, a resourceAttr) []resourceAttr {
	for i := range list {
		if list[i].key == a.key {
			list[i].value = a.value
			return list
		}
	}
	return append(list, a)
}

// parseList parses the key=value,key=value form of
// OTEL_EXPORTER_OTLP_HEADERS, with percent-encoded values. Errors never
// quote a value: headers hold credentials. (OTEL_RESOURCE_ATTRIBUTES, of
// the same form, is read by resourceattr.Parse, whose errors quote the
// entry.)
func parseList(s string) ([]resourceAttr, error) {
	var out []resourceAttr
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %d is not key=value", i+1)
		}
		dk, err := url.PathUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("entry %d: key is not percent-encoded correctly", i+1)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("entry %d (%s): value is not percent-encoded correctly", i+1, dk)
		}
		out = append(out, resourceAttr{dk, dv})
	}
	return out, nil
}
