package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Config is the sidecar's configuration.
type Config struct {
	XRayUDPAddr  string   // X-Ray daemon protocol (UDP)
	XRayTCPAddr  string   // sampling proxy (TCP); "off" disables
	EMFTCPAddr   string   // EMF over TCP; "off" disables
	EMFUDPAddr   string   // EMF over UDP; "off" disables
	OTLPHTTPAddr string   // OTLP/HTTP (traces and metrics; logs refused); "off" disables
	OTLPGRPCAddr string   // OTLP/gRPC (traces and metrics; logs refused); "off" disables
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
}

// Default returns the defaults.
func Default() Config {
	return Config{
		XRayUDPAddr: "127.0.0.1:2000", XRayTCPAddr: "127.0.0.1:2000",
		EMFTCPAddr: "127.0.0.1:25888", EMFUDPAddr: "127.0.0.1:25888",
		OTLPHTTPAddr: "127.0.0.1:4318", OTLPGRPCAddr: "127.0.0.1:4317",
		StatusAddr: "127.0.0.1:2021", UIAddr: "127.0.0.1:2772",
		MemoryBudget: 16 << 20, UDPReadBuf: 8 << 20, Shutdown: 25 * time.Second,
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
	var dims, allowedHosts string
	fs.StringVar(&c.XRayUDPAddr, "xray-udp-addr", c.XRayUDPAddr, "UDP address for X-Ray segments (daemon protocol)")
	fs.StringVar(&c.XRayTCPAddr, "xray-tcp-addr", c.XRayTCPAddr, `TCP address of the X-Ray sampling proxy ("off" to disable)`)
	fs.StringVar(&c.EMFTCPAddr, "emf-tcp-addr", c.EMFTCPAddr, `TCP address for EMF lines ("off" to disable)`)
	fs.StringVar(&c.EMFUDPAddr, "emf-udp-addr", c.EMFUDPAddr, `UDP address for EMF lines ("off" to disable)`)
	fs.StringVar(&c.OTLPHTTPAddr, "otlp-http-addr", c.OTLPHTTPAddr, `TCP address for OTLP/HTTP traces and metrics (/v1/traces, /v1/metrics) ("off" to disable)`)
	fs.StringVar(&c.OTLPGRPCAddr, "otlp-grpc-addr", c.OTLPGRPCAddr, `TCP address for OTLP/gRPC traces and metrics ("off" to disable)`)
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
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
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
