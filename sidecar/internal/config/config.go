package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Config is the sidecar's configuration.
type Config struct {
	XRayUDPAddr  string   // X-Ray daemon protocol (UDP)
	XRayTCPAddr  string   // sampling proxy (TCP); "off" disables
	EMFTCPAddr   string   // EMF over TCP; "off" disables
	EMFUDPAddr   string   // EMF over UDP; "off" disables
	OTLPHTTPAddr string   // OTLP/HTTP (traces, metrics, logs); "off" disables
	OTLPGRPCAddr string   // OTLP/gRPC (traces, metrics, logs); "off" disables
	StatusAddr   string   // /healthz and /status
	UIAddr       string   // local-mode web view
	AllowRemote  bool     // allow non-loopback listen addresses
	AllowedHosts []string // every HTTP listener (view, status, sampling proxy, OTLP/HTTP): Host names served besides localhost ("*" for any)
	Local        bool     // force local mode
	Demo         bool     // also run demo services that send telemetry here
	DemoRollout  bool     // the demo ships a worse version v2 beside v1 (implies Demo)
	Region       string
	MemoryBudget int64 // bytes, shared by every queue
	UDPReadBuf   int
	Shutdown     time.Duration // flush deadline after SIGTERM
	EMFToLogs    bool          // forward raw EMF to CloudWatch Logs instead of PutMetricData
	LogGroup     string
	LogStream    string
	MetricsFlush time.Duration
	ECSSegments  bool     // add ECS task metadata to segments
	ECSDims      []string // ECS metadata keys to add as metric dimensions
	LogLevel     string
	PersistPath  string        // local mode: where the view persists
	PersistEvery time.Duration // local mode: how often it persists, besides at shutdown
	CPUProfile   string        // write a CPU profile here until shutdown (diagnostics)
	XRayWorkers  int           // concurrent PutTraceSegments requests

	// Exporters for what OTLP and X-Ray UDP bring (AWS mode).
	TracesExporter string            // "xray" (PutTraceSegments), "xray-otlp" or "otlp"
	TracesEndpoint string            // URL for "otlp"; overrides X-Ray's for "xray-otlp"
	TracesHeaders  map[string]string // extra headers of OTLP trace requests
	LogsExporter   string            // OTLP logs: "logs" (PutLogEvents), "logs-otlp" or "otlp"
	LogsEndpoint   string            // URL for "otlp"; overrides CloudWatch Logs' for "logs-otlp"
	LogsHeaders    map[string]string // extra headers of OTLP log requests
	OTLPLogGroup   string            // log group of OTLP logs whose resource names none (aws.log.group.names)
}

// Exporter names.
const (
	ExporterXRay     = "xray"      // traces: PutTraceSegments
	ExporterXRayOTLP = "xray-otlp" // traces: X-Ray's OTLP endpoint, SigV4
	ExporterLogs     = "logs"      // OTLP logs: PutLogEvents
	ExporterLogsOTLP = "logs-otlp" // OTLP logs: CloudWatch Logs' OTLP endpoint, SigV4
	ExporterOTLP     = "otlp"      // any OTLP/HTTP endpoint, unsigned, with headers
)

// Default returns the defaults.
func Default() Config {
	return Config{
		XRayUDPAddr: "127.0.0.1:2000", XRayTCPAddr: "127.0.0.1:2000",
		EMFTCPAddr: "127.0.0.1:25888", EMFUDPAddr: "127.0.0.1:25888",
		OTLPHTTPAddr: "127.0.0.1:4318", OTLPGRPCAddr: "127.0.0.1:4317",
		StatusAddr: "127.0.0.1:2021", UIAddr: "127.0.0.1:2772",
		MemoryBudget: 16 << 20, UDPReadBuf: 8 << 20, Shutdown: 25 * time.Second,
		TracesExporter: ExporterXRay, LogsExporter: ExporterLogs, OTLPLogGroup: "/sidelight/otlp",
		LogGroup: "/sidelight/emf", XRayWorkers: 4, MetricsFlush: 60 * time.Second, ECSSegments: true, LogLevel: "info",
	}
}

// Parse reads flags from args, after environment variables looked up with
// getenv. Help output and flag errors go to out.
func Parse(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Default()
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	fs.SetOutput(out)
	var budgetMiB int64 = c.MemoryBudget >> 20
	var dims, allowedHosts, tracesHeaders, logsHeaders string
	fs.StringVar(&c.XRayUDPAddr, "xray-udp-addr", c.XRayUDPAddr, "UDP address for X-Ray segments (daemon protocol)")
	fs.StringVar(&c.XRayTCPAddr, "xray-tcp-addr", c.XRayTCPAddr, `TCP address of the X-Ray sampling proxy ("off" to disable)`)
	fs.StringVar(&c.EMFTCPAddr, "emf-tcp-addr", c.EMFTCPAddr, `TCP address for EMF lines ("off" to disable)`)
	fs.StringVar(&c.EMFUDPAddr, "emf-udp-addr", c.EMFUDPAddr, `UDP address for EMF lines ("off" to disable)`)
	fs.StringVar(&c.OTLPHTTPAddr, "otlp-http-addr", c.OTLPHTTPAddr, `TCP address for OTLP/HTTP traces, metrics and logs (/v1/traces, /v1/metrics, /v1/logs) ("off" to disable)`)
	fs.StringVar(&c.OTLPGRPCAddr, "otlp-grpc-addr", c.OTLPGRPCAddr, `TCP address for OTLP/gRPC traces, metrics and logs ("off" to disable)`)
	fs.StringVar(&c.StatusAddr, "status-addr", c.StatusAddr, "TCP address of /healthz and /status")
	fs.StringVar(&c.UIAddr, "ui-addr", c.UIAddr, "TCP address of the local-mode web view")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow listening on non-loopback addresses")
	fs.StringVar(&allowedHosts, "allowed-hosts", "", `comma-separated Host names (an IP, a container name) the HTTP listeners (sampling proxy, OTLP/HTTP, status, web view) answer besides localhost, or "*" for any; needs -allow-remote`)
	fs.BoolVar(&c.Local, "local", false, "local mode: keep telemetry in memory and serve the web view instead of sending to AWS")
	fs.BoolVar(&c.Demo, "demo", false, "also run two demo services that send traces and metrics to this sidecar (implies -local)")
	fs.BoolVar(&c.DemoRollout, "demo-rollout", false, "like -demo, and the shop service rolls out a worse version v2 beside v1 (more faults on /checkout, slower p99 on /products), for the compare page")
	fs.StringVar(&c.Region, "region", "", "AWS region (default: the SDK's chain, AWS_REGION)")
	fs.Int64Var(&budgetMiB, "memory-budget-mib", budgetMiB, "memory for queued telemetry, in MiB, shared by all pipelines")
	fs.IntVar(&c.UDPReadBuf, "udp-rcvbuf", c.UDPReadBuf, "requested UDP receive buffer in bytes")
	fs.DurationVar(&c.Shutdown, "shutdown-timeout", c.Shutdown, "flush deadline after SIGTERM (keep below the task's stopTimeout)")
	fs.BoolVar(&c.EMFToLogs, "emf-to-logs", false, "forward raw EMF documents to CloudWatch Logs instead of calling PutMetricData")
	fs.StringVar(&c.LogGroup, "log-group", c.LogGroup, "default log group for -emf-to-logs (documents may name their own)")
	fs.StringVar(&c.LogStream, "log-stream", "", "default log stream for -emf-to-logs (default: the ECS task id or host name)")
	fs.DurationVar(&c.MetricsFlush, "metrics-flush", c.MetricsFlush, "how often standard-resolution aggregates are sent")
	fs.BoolVar(&c.ECSSegments, "ecs-segment-metadata", c.ECSSegments, "add ECS task metadata (aws.ecs) to segments when running on ECS")
	fs.StringVar(&dims, "ecs-dimensions", "", "comma-separated ECS metadata to add as metric dimensions: cluster,task_arn,family,revision,az,launch_type,service")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.PersistPath, "persist", "", "local mode: file that keeps the view's data across restarts")
	fs.DurationVar(&c.PersistEvery, "persist-every", c.PersistEvery, "local mode with -persist: how often to write the file (it is also written at shutdown)")
	fs.IntVar(&c.XRayWorkers, "xray-workers", c.XRayWorkers, "concurrent PutTraceSegments requests")
	fs.StringVar(&c.TracesExporter, "traces-exporter", c.TracesExporter, `where traces go: "xray" (PutTraceSegments), "xray-otlp" (X-Ray's OTLP endpoint, SigV4; needs Transaction Search) or "otlp" (-traces-endpoint, unsigned)`)
	fs.StringVar(&c.TracesEndpoint, "traces-endpoint", "", `OTLP/HTTP URL for -traces-exporter otlp (such as http://collector:4318/v1/traces); for xray-otlp the default is https://xray.<region>.amazonaws.com/v1/traces, or AWS_ENDPOINT_URL_XRAY + /v1/traces`)
	fs.StringVar(&tracesHeaders, "traces-headers", "", `comma-separated key=value headers for OTLP trace requests`)
	fs.StringVar(&c.LogsExporter, "logs-exporter", c.LogsExporter, `where OTLP logs go: "logs" (PutLogEvents), "logs-otlp" (CloudWatch Logs' OTLP endpoint, SigV4) or "otlp" (-logs-endpoint, unsigned)`)
	fs.StringVar(&c.LogsEndpoint, "logs-endpoint", "", `OTLP/HTTP URL for -logs-exporter otlp; for logs-otlp the default is https://logs.<region>.amazonaws.com/v1/logs, or AWS_ENDPOINT_URL_CLOUDWATCH_LOGS + /v1/logs`)
	fs.StringVar(&logsHeaders, "logs-headers", "", `comma-separated key=value headers for OTLP log requests`)
	fs.StringVar(&c.OTLPLogGroup, "otlp-log-group", c.OTLPLogGroup, "log group for OTLP logs whose resource has no aws.log.group.names (stream: -log-stream)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile to this file until shutdown (diagnostics)")

	// Environment first, then the command line on top.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "SIDELIGHT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.MemoryBudget = budgetMiB << 20
	if c.DemoRollout {
		c.Demo = true
	}
	if c.Demo {
		c.Local = true // the demo never sends to AWS
	}
	c.ECSDims = splitList(dims)
	c.AllowedHosts = splitList(allowedHosts)
	var err error
	if c.TracesHeaders, err = parseHeaders(tracesHeaders); err != nil {
		return c, fmt.Errorf("-traces-headers: %w", err)
	}
	if c.LogsHeaders, err = parseHeaders(logsHeaders); err != nil {
		return c, fmt.Errorf("-logs-headers: %w", err)
	}
	return c, c.Validate()
}

// Validate reports unusable settings.
func (c Config) Validate() error {
	var errs []error
	for name, a := range map[string]string{"xray-udp-addr": c.XRayUDPAddr, "xray-tcp-addr": c.XRayTCPAddr,
		"emf-tcp-addr": c.EMFTCPAddr, "emf-udp-addr": c.EMFUDPAddr,
		"otlp-http-addr": c.OTLPHTTPAddr, "otlp-grpc-addr": c.OTLPGRPCAddr, "status-addr": c.StatusAddr, "ui-addr": c.UIAddr} {
		if a == "off" && name != "xray-udp-addr" && name != "status-addr" && name != "ui-addr" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s %q: %w", name, a, err))
			continue
		}
		if !c.AllowRemote && !loopback(host) {
			errs = append(errs, fmt.Errorf("-%s %q is not a loopback address; ECS awsvpc tasks share localhost (use -allow-remote to listen elsewhere)", name, a))
		}
	}
	if len(c.AllowedHosts) > 0 && !c.AllowRemote {
		errs = append(errs, errors.New("-allowed-hosts serves other hosts: it needs -allow-remote and listen addresses they can reach"))
	}
	for _, h := range c.AllowedHosts {
		if h != "*" && net.ParseIP(h) == nil && strings.ContainsAny(h, "/:[] *") {
			errs = append(errs, fmt.Errorf("-allowed-hosts %q: want host names or IP addresses without ports or brackets, or \"*\"", h))
		}
	}
	if c.XRayWorkers < 1 || c.XRayWorkers > 64 {
		errs = append(errs, fmt.Errorf("-xray-workers %d not in 1..64", c.XRayWorkers))
	}
	if c.MemoryBudget < 1<<20 {
		errs = append(errs, fmt.Errorf("-memory-budget-mib must be at least 1"))
	}
	if c.Shutdown <= 0 || c.MetricsFlush < time.Second {
		errs = append(errs, fmt.Errorf("-shutdown-timeout must be positive and -metrics-flush at least 1s"))
	}
	switch c.TracesExporter {
	case ExporterXRay, ExporterXRayOTLP:
	case ExporterOTLP:
		if c.TracesEndpoint == "" {
			errs = append(errs, errors.New("-traces-exporter otlp needs -traces-endpoint"))
		}
	default:
		errs = append(errs, fmt.Errorf("-traces-exporter %q: want xray, xray-otlp or otlp", c.TracesExporter))
	}
	switch c.LogsExporter {
	case ExporterLogs, ExporterLogsOTLP:
	case ExporterOTLP:
		if c.LogsEndpoint == "" {
			errs = append(errs, errors.New("-logs-exporter otlp needs -logs-endpoint"))
		}
	default:
		errs = append(errs, fmt.Errorf("-logs-exporter %q: want logs, logs-otlp or otlp", c.LogsExporter))
	}
	for name, u := range map[string]string{"traces-endpoint": c.TracesEndpoint, "logs-endpoint": c.LogsEndpoint} {
		if u == "" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			errs = append(errs, fmt.Errorf("-%s %q: want an http(s) URL", name, u))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// parseHeaders reads "k=v,k2=v2" (the OTEL_EXPORTER_OTLP_HEADERS form;
// values may be percent-encoded).
func parseHeaders(s string) (map[string]string, error) {
	items := splitList(s)
	if len(items) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(items))
	for _, kv := range items {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("%q is not key=value with a valid header name", kv)
		}
		if uv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			v = uv
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return nil, fmt.Errorf("header %q: the value has control characters", k)
		}
		m[k] = v
	}
	return m, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
