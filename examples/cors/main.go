// Command cors is the CORS example of Sidelight's tutorial
// (examples/cors/README.md): a page on one origin that calls an API on
// another, with one button per way of getting CORS wrong and its fix. The
// API, the page and a backend the API calls are instrumented with
// Sidelight's middleware, which records on every cross-origin request what
// the browser decided (cors_* annotations) and counts blocked responses
// (the CORSBlocked metric).
//
//	go run ./sidecar -local       # in one terminal: the local trace view
//	go run ./examples/cors        # in another: prints the page's URL
//	go run ./examples/cors -smoke # no browser: each scenario's requests once, verdicts printed
//
// Segments go to AWS_XRAY_DAEMON_ADDRESS (default 127.0.0.1:2000) and
// metrics to AWS_EMF_AGENT_ENDPOINT (default tcp://127.0.0.1:25888): the
// sidecar's defaults. Flags override both (see -h).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cors:", err)
		}
		os.Exit(2)
	}
}

// config is what the flags and the environment say.
type config struct {
	apiAddr     string // the API's listen address
	pageAddr    string // the page's listen address
	ordersAddr  string // the backend the gateway routes call
	daemon      string // X-Ray daemon (or sidecar) address
	emfEndpoint string // EMF agent (or sidecar) endpoint
	view        string // the sidecar's local view, for the printed links
	otherOrigin string // a second allowed origin (scenario 7 primes the cache with it)
	namespace   string // CloudWatch namespace of the metrics
	interval    time.Duration
	smoke       bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{}
	fs := flag.NewFlagSet("cors", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.apiAddr, "api-addr", "127.0.0.1:8090", "address the API listens on")
	fs.StringVar(&c.pageAddr, "page-addr", "127.0.0.1:8091", "address the page listens on (another origin than the API)")
	fs.StringVar(&c.ordersAddr, "orders-addr", "127.0.0.1:0", "address of the backend the gateway routes call")
	fs.StringVar(&c.daemon, "daemon", or(getenv("AWS_XRAY_DAEMON_ADDRESS"), "127.0.0.1:2000"), "X-Ray daemon or Sidelight sidecar address (default from AWS_XRAY_DAEMON_ADDRESS)")
	fs.StringVar(&c.emfEndpoint, "emf", or(getenv("AWS_EMF_AGENT_ENDPOINT"), "tcp://127.0.0.1:25888"), "EMF agent or Sidelight sidecar endpoint (default from AWS_EMF_AGENT_ENDPOINT)")
	fs.StringVar(&c.view, "view", "http://127.0.0.1:2772", "URL of the sidecar's local trace view, for the printed links")
	fs.StringVar(&c.otherOrigin, "other-origin", "https://admin.example.com", "another origin the API allows (scenario 7 fills the cache with its answer)")
	fs.StringVar(&c.namespace, "namespace", "SidelightExamples", "CloudWatch namespace of the metrics")
	fs.DurationVar(&c.interval, "metrics-interval", 5*time.Second, "how often metrics are written")
	fs.BoolVar(&c.smoke, "smoke", false, "send each scenario's requests once, as Chromium would, print the verdicts and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if u, err := url.Parse(c.view); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("-view %q: want an http:// URL", c.view)
	}
	c.view = strings.TrimSuffix(c.view, "/")
	if c.interval <= 0 {
		return c, fmt.Errorf("-metrics-interval %v: must be positive", c.interval)
	}
	return c, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// run starts the example and serves until ctx ends, or, with -smoke, runs
// every scenario once and returns.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := start(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cors: open the page   %s\n", a.pageURL)
	fmt.Fprintf(stdout, "cors: API             %s\n", a.apiURL)
	fmt.Fprintf(stdout, "cors: segments go to  %s (X-Ray daemon protocol), metrics to %s\n", cfg.daemon, cfg.emfEndpoint)
	fmt.Fprintf(stdout, "cors: blocked requests in the trace view  %s\n", blockedURL(cfg.view))

	var runErr error
	if cfg.smoke {
		runErr = smoke(ctx, a, stdout)
	} else {
		<-ctx.Done()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	shutdownErr := a.Shutdown(sctx)
	// Telemetry that could not be delivered is not the example's failure,
	// but it must not go unnoticed.
	lost := false
	if st := a.emitter.Stats(); st.Dropped() > 0 {
		lost = true
		// UDP reports only some losses: more segments may be lost.
		fmt.Fprintf(stderr, "cors: sending segments to %s failed %d times (%d segments sent): is the sidecar running (go run ./sidecar -local)?\n", cfg.daemon, st.Dropped(), st.Segments)
	}
	if st := a.sink.Stats(); st.Dropped > 0 {
		lost = true
		fmt.Fprintf(stderr, "cors: %d metric documents could not be sent to %s: is the sidecar running?\n", st.Dropped, cfg.emfEndpoint)
	}
	if shutdownErr != nil && !lost {
		fmt.Fprintf(stderr, "cors: shutdown: %v\n", shutdownErr)
	}
	return runErr
}

// blockedURL is the local view's list of traces with a blocked verdict.
func blockedURL(view string) string {
	return view + "/#/traces?annotation=" + url.QueryEscape("cors_verdict=blocked")
}
