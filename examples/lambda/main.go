// Command lambda runs the Lambda debugging examples locally: the shop
// function (functions/shop, wrapped by middleware.Lambda) under the real
// Lambda Runtime Interface Emulator, behind a local API Gateway that turns
// browser requests into REST API proxy events and maps function errors and
// timeouts as API Gateway does; the inventory service the function calls;
// and a page, on another origin, with one button per scenario. Segments go
// to the X-Ray daemon address (the Sidelight sidecar in local mode), and
// the function's EMF documents, which Lambda would write to CloudWatch
// Logs, are forwarded to the sidecar's EMF endpoint.
//
//	go run ./sidecar -local &
//	go run ./examples/lambda
//
// The emulator is found at -rie, $SIDELIGHT_LAMBDA_RIE, or
// aws-lambda-rie on PATH. See README.md for the scenarios.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
)

type config struct {
	api, page, inventory string // listen addresses
	view                 string // the sidecar's local view, linked from the page
	rie                  string
	binary               string // the function's bootstrap; built when empty
	xray                 string // X-Ray daemon address
	emf                  string // EMF endpoint; "" prints the documents
	timeout              int    // function timeout, seconds
	integration          time.Duration
	slow                 time.Duration // how long the inventory's /slow takes
	verbose              bool
	smoke                bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("lambda", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.api, "addr", "127.0.0.1:3000", "address of the local API Gateway")
	fs.StringVar(&c.page, "page", "127.0.0.1:3001", "address of the page (another origin)")
	fs.StringVar(&c.inventory, "inventory", "127.0.0.1:3002", "address of the inventory service")
	fs.StringVar(&c.view, "view", "http://127.0.0.1:2772", "the sidecar's local view, linked from the page")
	fs.StringVar(&c.rie, "rie", "", "the Lambda Runtime Interface Emulator (default $SIDELIGHT_LAMBDA_RIE, else aws-lambda-rie on PATH)")
	fs.StringVar(&c.binary, "function", "", "the shop function's binary (default: built with go build)")
	fs.StringVar(&c.xray, "xray", "127.0.0.1:2000", "X-Ray daemon address (UDP)")
	fs.StringVar(&c.emf, "emf", "tcp://127.0.0.1:25888", `EMF endpoint for the function's metrics; "" prints them`)
	fs.IntVar(&c.timeout, "timeout", 3, "function timeout in seconds")
	fs.DurationVar(&c.integration, "integration-timeout", 29*time.Second, "API Gateway's integration timeout")
	fs.DurationVar(&c.slow, "slow", 10*time.Second, "how long the inventory's slow endpoint takes")
	fs.BoolVar(&c.verbose, "v", false, "print the emulator's own log")
	fs.BoolVar(&c.smoke, "smoke", false, "start, run the error scenario broken and fixed, check the answers, and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.timeout < 1 || c.timeout > 900 {
		return c, fmt.Errorf("-timeout %d: Lambda timeouts are 1 to 900 seconds", c.timeout)
	}
	if c.integration <= 0 || c.slow <= 0 {
		return c, errors.New("-integration-timeout and -slow must be positive")
	}
	if _, err := xray.ParseDaemonAddress(c.xray); err != nil {
		return c, fmt.Errorf("-xray: %w", err)
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "lambda:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	a, err := start(ctx, c, stdout)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.shutdown(sctx)
		a.out.printf("stopped\n")
	}()
	a.out.printf("API Gateway (local)  http://%s\npage                 http://%s\ninventory            http://%s\nready\n", a.apiAddr, a.pageAddr, a.invAddr)
	if c.smoke {
		return smoke(ctx, "http://"+a.apiAddr, a.out)
	}
	<-ctx.Done()
	a.out.printf("stopping\n")
	return nil
}

// app is everything the example runs.
type app struct {
	out                        *syncWriter
	apiAddr, pageAddr, invAddr string
	inv                        *inventory
	gw                         *gateway
	functions                  []*function
	servers                    []*http.Server
	emitter                    *xray.Emitter
	sink                       emf.Sink
	tmp                        string
	wg                         sync.WaitGroup
}

func findRIE(flagValue string) (string, error) {
	for _, p := range []string{flagValue, os.Getenv("SIDELIGHT_LAMBDA_RIE")} {
		if p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("the Lambda Runtime Interface Emulator: %w", err)
			}
			return p, nil
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", errors.New("the Lambda Runtime Interface Emulator was not found: pass -rie or set SIDELIGHT_LAMBDA_RIE (see README.md)")
}

// start listens, builds the function if needed, and starts the emulators.
func start(ctx context.Context, c config, stdout io.Writer) (a *app, err error) {
	rie, err := findRIE(c.rie)
	if err != nil {
		return nil, err
	}
	a = &app{out: &syncWriter{w: stdout}}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a.shutdown(sctx)
		}
	}()
	listen := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		return l, nil
	}
	apiL, err := listen(c.api)
	if err != nil {
		return a, err
	}
	pageL, err := listen(c.page)
	if err != nil {
		apiL.Close()
		return a, err
	}
	invL, err := listen(c.inventory)
	if err != nil {
		apiL.Close()
		pageL.Close()
		return a, err
	}
	a.apiAddr, a.pageAddr, a.invAddr = apiL.Addr().String(), pageL.Addr().String(), invL.Addr().String()

	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if a.emitter, err = xray.NewEmitter(xray.WithDaemonAddress(c.xray), xray.WithLogger(logger)); err != nil {
		return a, err
	}
	if c.emf != "" {
		if a.sink, err = emf.NewAgentSink(c.emf, emf.WithAgentLogger(logger)); err != nil {
			return a, fmt.Errorf("-emf: %w", err)
		}
	}

	a.inv = &inventory{slowDelay: c.slow}
	invHandler := middleware.HTTP(middleware.WithSegmentExporter(a.emitter), middleware.WithServiceName("inventory"), middleware.WithoutMetrics())(a.inv.handler())
	a.serve(invL, invHandler)
	a.serve(pageL, pageHandler("http://"+a.apiAddr, c.view))

	binary := c.binary
	if binary == "" {
		if a.tmp, err = os.MkdirTemp("", "sidelight-lambda-"); err != nil {
			return a, err
		}
		binary = filepath.Join(a.tmp, "bootstrap")
		if err := buildFunction(ctx, binary); err != nil {
			return a, err
		}
	}
	common := []string{
		"AWS_XRAY_DAEMON_ADDRESS=" + c.xray,
		"SHOP_DOWNSTREAM=http://" + a.invAddr,
		"POWERTOOLS_SERVICE_NAME=shop",
		"AWS_EMF_NAMESPACE=SidelightExamples",
	}
	specs := []functionConfig{
		{name: "shop", env: append([]string{"SHOP_INIT=parallel"}, common...)},
		{name: "shop-slowinit", env: append([]string{"SHOP_INIT=serial"}, common...)},
	}
	fns := make([]*function, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		s.rie, s.binary, s.timeout, s.out, s.emf, s.verbose = rie, binary, c.timeout, a.out, a.sink, c.verbose
		wg.Go(func() { fns[i], errs[i] = startFunction(ctx, s) })
	}
	wg.Wait()
	for _, f := range fns {
		if f != nil {
			a.functions = append(a.functions, f)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return a, err
	}
	shop, slow := fns[0], fns[1]
	a.gw = &gateway{
		route: func(path string) invoker {
			scenario, _, _ := strings.Cut(strings.Trim(path, "/"), "/")
			switch {
			case strings.HasPrefix(path, "/coldstart/broken"):
				return slow
			case scenario == "":
				return nil
			}
			for _, s := range scenarios {
				if s.ID == scenario {
					return shop
				}
			}
			return nil
		},
		emitter:     a.emitter,
		stage:       "shop-api/local",
		integration: c.integration,
		out:         a.out,
	}
	a.serve(apiL, a.gw)
	return a, nil
}

func buildFunction(ctx context.Context, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the function needs the go command: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/seed-c77c9410/sidelight/examples/lambda/functions/shop")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the function: %w\n%s", err, b)
	}
	return nil
}

func (a *app) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.servers = append(a.servers, srv)
	a.wg.Go(func() { _ = srv.Serve(l) })
}

// shutdown stops the servers, the emulators, and flushes the telemetry,
// within ctx's deadline.
func (a *app) shutdown(ctx context.Context) {
	for _, s := range a.servers {
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
		}
	}
	a.wg.Wait()
	var wg sync.WaitGroup
	for _, f := range a.functions {
		wg.Go(f.stop)
	}
	wg.Wait()
	if a.emitter != nil {
		_ = a.emitter.Shutdown(ctx)
	}
	if a.sink != nil {
		_ = a.sink.Shutdown(ctx)
	}
	if a.tmp != "" {
		_ = os.RemoveAll(a.tmp)
	}
}
