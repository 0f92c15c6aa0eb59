package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/awsxrayexporter"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// Factories returns the components the peer collector is built from.
func Factories() (otelcol.Factories, error) {
	recv, err := otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	proc, err := otelcol.MakeFactoryMap[processor.Factory](batchprocessor.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	exp, err := otelcol.MakeFactoryMap[exporter.Factory](awsxrayexporter.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	return otelcol.Factories{Receivers: recv, Processors: proc, Exporters: exp, Telemetry: otelconftelemetry.NewFactory()}, nil
}

// Config says how to run the peer.
type Config struct {
	OTLPHTTPAddr      string   // host:port of the OTLP/HTTP receiver
	XRayEndpoint      string   // the X-Ray endpoint (fakeaws URL)
	IndexedAttributes []string // the exporter's indexed_attributes
	BatchSize         int      // batch/traces send_batch_size (default 50, as in the ADOT collector's test configurations)
	BatchTimeout      time.Duration
}

// YAML returns the collector configuration for c: OTLP/HTTP in, batch,
// awsxray out, the collector's own telemetry off (no port 8888).
func (c Config) YAML() string {
	if c.BatchSize == 0 {
		c.BatchSize = 50
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = time.Second
	}
	idx := make([]string, len(c.IndexedAttributes))
	for i, a := range c.IndexedAttributes {
		idx[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: %q
processors:
  batch/traces:
    timeout: %s
    send_batch_size: %d
exporters:
  awsxray:
    region: us-east-1
    endpoint: %q
    local_mode: true
    indexed_attributes: [%s]
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch/traces]
      exporters: [awsxray]
`, c.OTLPHTTPAddr, c.BatchTimeout, c.BatchSize, c.XRayEndpoint, strings.Join(idx, ", "))
}

// New builds a collector for c (it does not start it; see Start).
func New(c Config) (*otelcol.Collector, error) {
	return otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo:               component.BuildInfo{Command: "sidelight-peer-otelcol", Description: "OpenTelemetry Collector peer", Version: "v0.161.0"},
		Factories:               Factories,
		DisableGracefulShutdown: true,
		SkipSettingGRPCLogger:   true,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{ResolverSettings: confmap.ResolverSettings{
			URIs:              []string{"yaml:" + c.YAML()},
			ProviderFactories: []confmap.ProviderFactory{yamlprovider.NewFactory()},
		}},
	})
}

// Start builds and runs a collector for c until it is running, and
// returns a stop function that shuts it down and waits for it.
func Start(ctx context.Context, c Config) (stop func() error, err error) {
	col, err := New(c)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- col.Run(context.Background()) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for col.GetState() != otelcol.StateRunning {
		select {
		case err := <-done:
			return nil, fmt.Errorf("collector stopped at start: %w", err)
		case <-ctx.Done():
			col.Shutdown()
			return nil, errors.Join(ctx.Err(), <-done)
		case <-tick.C: // otelcol has no "started" notification
		}
	}
	return func() error {
		col.Shutdown()
		return <-done
	}, nil
}
