// Command sidecar receives X-Ray segments (UDP 2000, the X-Ray daemon
// protocol), serves the X-Ray sampling API (TCP 2000) and receives
// CloudWatch Embedded Metric Format lines (TCP and UDP 25888, like the
// CloudWatch agent), and sends them to AWS X-Ray, CloudWatch and,
// optionally, CloudWatch Logs. Without AWS credentials or region (or with
// -local) it keeps everything in memory and serves a web view instead.
//
//	sidecar [flags]        run (see -h; every flag also reads SIDELIGHT_<FLAG>)
//	sidecar health         exit 0 when the running sidecar is healthy (ECS healthCheck)
//
// On SIGTERM or SIGINT it stops receiving and flushes everything within
// -shutdown-timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/demo"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is main without the exit, for tests.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "health" {
		return health(args[1:], getenv, stderr)
	}
	cfg, err := config.Parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sidecar:", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)}))
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Error("cpu profile", "err", err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	tuneGC(getenv)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	opts := app.Options{Config: cfg, Logger: log}
	setupCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if task, ok, err := ecsmeta.FromEnv(setupCtx); err != nil {
		log.Warn("ECS task metadata unavailable; continuing without it", "err", err)
	} else if ok {
		opts.Task = &task
		log.Info("running on ECS", "task_arn", task.TaskARN, "cluster", task.Cluster)
	}
	opts.MemoryLimit = app.ChooseMemoryLimit(cfg.MemoryBudget, opts.Task, getenv)
	opts.MemoryLimit.Apply()
	log.Info("soft memory limit", "bytes", opts.MemoryLimit.Bytes, "source", opts.MemoryLimit.Source)
	if opts.MemoryLimit.Tight {
		log.Warn("the ECS memory limit is below what the memory budget wants; the collector will work harder when the budget fills (consider a smaller -memory-budget-mib)",
			"budget_bytes", cfg.MemoryBudget, "wanted_bytes", app.BudgetMemoryLimit(cfg.MemoryBudget))
	}
	if !cfg.Local {
		awsCfg, why := loadAWS(setupCtx, cfg)
		if why != "" {
			log.Warn("no usable AWS configuration: running in local mode", "reason", why)
		} else {
			opts.AWS = &awsCfg
		}
	}
	a, err := app.New(setupCtx, opts)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return 2
	}
	if err := a.Start(setupCtx); err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	if a.Local() {
		fmt.Fprintf(stderr, "Sidelight local mode: open %s\n", a.Addrs()["ui"])
	}
	demoDone := make(chan struct{})
	if cfg.Demo {
		addrs := a.Addrs()
		dc := demo.Config{XRayAddr: addrs["xray_udp"], EMFEndpoint: "tcp://" + addrs["emf_tcp"], Logger: log, Rollout: cfg.DemoRollout}
		if h, ok := addrs["otlp_http"]; ok { // log records over OTLP/HTTP, unless -otlp-http-addr off
			dc.OTLPEndpoint = "http://" + h
		}
		fmt.Fprintln(stderr, "Demo services are sending traces, metrics and logs; they show in the view within seconds.")
		go func() {
			defer close(demoDone)
			if _, err := demo.Run(ctx, dc); err != nil {
				log.Error("demo stopped", "err", err)
			}
		}()
	} else {
		close(demoDone)
	}
	<-ctx.Done()
	<-demoDone // the demo flushes what it made before the sidecar stops receiving
	stop()     // a second signal now kills the process the default way
	log.Info("signal received: stopping receivers and flushing", "deadline", cfg.Shutdown.String())
	sctx, scancel := context.WithTimeout(context.Background(), cfg.Shutdown)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil {
		log.Error("shutdown incomplete", "err", err)
		return 1
	}
	return 0
}

// loadAWS loads the SDK's default configuration and checks that a region
// and credentials are available; why explains when they are not.
func loadAWS(ctx context.Context, cfg config.Config) (aws.Config, string) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, err.Error()
	}
	if awsCfg.Region == "" {
		return aws.Config{}, "no AWS region (set AWS_REGION or -region)"
	}
	if awsCfg.Credentials == nil {
		return aws.Config{}, "no AWS credentials provider"
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := awsCfg.Credentials.Retrieve(cctx); err != nil {
		return aws.Config{}, "no AWS credentials: " + err.Error()
	}
	return awsCfg, ""
}

// health asks the running sidecar's health endpoint; for the container
// healthCheck ("CMD", "/sidecar", "health") in an image without a shell.
func health(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := config.Default().StatusAddr
	if v := getenv("SIDELIGHT_STATUS_ADDR"); v != "" {
		addr = v
	}
	fs.StringVar(&addr, "status-addr", addr, "address of the sidecar's status endpoint")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := status.Probe(ctx, addr); err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	return 0
}

// tuneGC trades a little memory for less GC work while the heap is small;
// the soft memory limit (app.ChooseMemoryLimit) bounds it once the budget
// fills. GOGC, when set, wins.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}

func level(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
