package otlp

import (
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) Option {
	return WithEnvironment(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func TestEnvironment(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		opts     []Option
		endpoint string
		headers  map[string]string
		timeout  time.Duration
		comp     Compression
		resource []resourceAttr
		err      string
	}{
		{name: "defaults", endpoint: "http://localhost:4318/v1/traces", timeout: 10 * time.Second},
		{name: "generic endpoint gets the signal path",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, endpoint: "http://collector:4318/v1/traces"},
		{name: "generic endpoint with a path and slash",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://gw.example.com/otlp/"}, endpoint: "https://gw.example.com/otlp/v1/traces"},
		{name: "traces endpoint used as it is",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"}, endpoint: "http://b:4318/custom"},
		{name: "option overrides endpoint",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"},
			opts: []Option{WithEndpointURL("http://c:4318/v1/traces")}, endpoint: "http://c:4318/v1/traces"},
		{name: "bad endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318"}, err: "want an http:// or https:// URL"},
		{name: "headers percent-decoded, traces headers win",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": " Authorization = Basic%20dXNlcg%3D%3D , x-tenant=t%2C1,,"},
			headers: map[string]string{"Authorization": "Basic dXNlcg==", "x-tenant": "t,1"}},
		{name: "option header overrides",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=2"},
			opts:    []Option{WithHeaders(map[string]string{"b": "3"})},
			headers: map[string]string{"a": "1", "b": "3"}},
		{name: "malformed header does not echo values", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "secret-without-equals"}, err: "entry 1 is not key=value"},
		{name: "bad percent encoding", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "k=%zz"}, err: "not percent-encoded"},
		{name: "timeout in milliseconds",
			env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, timeout: 2500 * time.Millisecond},
		{name: "traces timeout wins",
			env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "700"}, timeout: 700 * time.Millisecond},
		{name: "option timeout wins",
			env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, opts: []Option{WithTimeout(time.Second)}, timeout: time.Second},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, err: "milliseconds"},
		{name: "gzip", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, comp: GzipCompression},
		{name: "traces compression wins", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none"}, comp: NoCompression},
		{name: "option compression wins", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, opts: []Option{WithCompression(NoCompression)}},
		{name: "bad compression", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, err: "want gzip or none"},
		{name: "http/protobuf", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}},
		{name: "grpc refused", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, err: "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: this exporter sends http/protobuf only"},
		{name: "traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}},
		{name: "json refused", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, err: "http/protobuf only"},
		{name: "unknown protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "udp"}, err: "unknown protocol"},
		{name: "resource attributes and service name",
			env:      map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=fromattrs,service.version=1.2,team=a%20b", "OTEL_SERVICE_NAME": "svc"},
			resource: []resourceAttr{{"service.name", "svc"}, {"service.version", "1.2"}, {"team", "a b"}}},
		{name: "options override resource",
			env:      map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team=a", "OTEL_SERVICE_NAME": "svc"},
			opts:     []Option{WithServiceName("opt"), WithResourceAttribute("team", "b"), WithResourceAttribute("region", "eu")},
			resource: []resourceAttr{{"team", "b"}, {"service.name", "opt"}, {"region", "eu"}}},
		{name: "bad resource attributes", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "=x"}, err: "OTEL_RESOURCE_ATTRIBUTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newConfig(append([]Option{envMap(tt.env)}, tt.opts...))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error quotes a header: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.endpoint != "" && c.endpoint != tt.endpoint {
				t.Errorf("endpoint %q, want %q", c.endpoint, tt.endpoint)
			}
			if tt.timeout != 0 && c.timeout != tt.timeout {
				t.Errorf("timeout %v, want %v", c.timeout, tt.timeout)
			}
			if c.compression != tt.comp {
				t.Errorf("compression %v, want %v", c.compression, tt.comp)
			}
			if len(c.headers) != len(tt.headers) {
				t.Errorf("headers %v, want %v", c.headers, tt.headers)
			}
			for k, v := range tt.headers {
				if c.headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, c.headers[k], v)
				}
			}
			if len(c.resource) != len(tt.resource) {
				t.Fatalf("resource %v, want %v", c.resource, tt.resource)
			}
			for i := range c.resource {
				if c.resource[i] != tt.resource[i] {
					t.Errorf("resource %v, want %v", c.resource, tt.resource)
				}
			}
		})
	}
}

func TestNewReportsBadEnvironment(t *testing.T) {
	if _, err := New(envMap(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})); err == nil {
		t.Fatal("New accepted grpc")
	}
}
