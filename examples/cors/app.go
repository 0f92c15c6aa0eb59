package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// Service names: how the three servers appear in the trace map.
const (
	apiService    = "cors-api"
	pageService   = "cors-page"
	ordersService = "cors-orders"
)

// app is the running example: the API, the page, and the orders backend
// that the API's gateway routes call (and that fails, for scenario 2's
// 502), each on its own loopback port.
type app struct {
	apiURL, pageURL, ordersURL string
	view                       string // the sidecar's local view

	emitter *xray.Emitter
	sink    *emf.AgentSink
	kit     *middleware.Kit // owns the request metrics
	servers []*http.Server
	serving sync.WaitGroup
	client  *http.Client // the gateway's, traced
}

// start listens on the configured addresses and serves. Telemetry goes to
// cfg.daemon and cfg.emfEndpoint; nothing needs to listen there.
func start(ctx context.Context, cfg config, log *slog.Logger) (_ *app, err error) {
	a := &app{view: cfg.view}
	var lns []net.Listener
	defer func() {
		if err != nil && a.servers == nil {
			for _, ln := range lns {
				ln.Close()
			}
			a.closeTelemetry(context.Background())
		}
	}()
	listen := func(addr string) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		lns = append(lns, ln)
		return "http://" + ln.Addr().String(), nil
	}
	if a.apiURL, err = listen(cfg.apiAddr); err != nil {
		return nil, err
	}
	if a.pageURL, err = listen(cfg.pageAddr); err != nil {
		return nil, err
	}
	if a.ordersURL, err = listen(cfg.ordersAddr); err != nil {
		return nil, err
	}

	if a.emitter, err = xray.NewEmitter(xray.WithDaemonAddress(cfg.daemon), xray.WithLogger(log)); err != nil {
		return nil, err
	}
	if a.sink, err = emf.NewAgentSink(cfg.emfEndpoint, emf.WithAgentLogger(log)); err != nil {
		return nil, err
	}
	// Every request is traced: this is a demonstration, not production.
	rules, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		return nil, err
	}
	if a.kit, err = middleware.New(
		middleware.WithSegmentExporter(a.emitter), middleware.WithSamplingRules(rules), middleware.WithLogger(log),
		middleware.WithMetricsSink(a.sink), middleware.WithMetricsNamespace(cfg.namespace), middleware.WithMetricsInterval(cfg.interval),
	); err != nil {
		return nil, err
	}
	// The page reads X-Request-Id (scenario 9): ask for a warning when a
	// response carries it without exposing it.
	checker, err := corscheck.New(corscheck.WithNeededResponseHeaders(corsscenarios.NeededHeader))
	if err != nil {
		return nil, err
	}
	traced := func(service string, extra ...middleware.Option) func(http.Handler) http.Handler {
		return a.kit.HTTP(append([]middleware.Option{middleware.WithServiceName(service)}, extra...)...)
	}

	a.client = &http.Client{Transport: a.kit.Transport(nil), Timeout: 5 * time.Second}
	api := corsscenarios.New(corsscenarios.Config{
		AllowedOrigins: []string{a.pageURL, cfg.otherOrigin},
		Upstream:       a.client,
		UpstreamURL:    a.ordersURL,
	})
	handlers := []http.Handler{
		traced(apiService, middleware.WithCORSChecker(checker))(api),
		traced(pageService, middleware.WithoutMetrics())(pageRoutes(corsscenarios.NewPage(corsscenarios.PageConfig{API: a.apiURL, TraceView: cfg.view}))),
		traced(ordersService, middleware.WithoutMetrics())(orders()),
	}
	for i, ln := range lns {
		srv := &http.Server{Handler: handlers[i], ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		a.servers = append(a.servers, srv)
		a.serving.Add(1)
		go func() {
			defer a.serving.Done()
			_ = srv.Serve(ln)
		}()
	}
	lns = nil // the servers own them now

	// Scenario 7: a visit from the other origin fills the shared cache.
	if err := corsscenarios.Prime(ctx, a.client, a.apiURL, cfg.otherOrigin); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return nil, errors.Join(err, a.Shutdown(sctx))
	}
	return a, nil
}

// pageRoutes serves the page at / only (a browser also asks for
// /favicon.ico).
func pageRoutes(page http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", page)
	return mux
}

// orders is the backend behind the gateway routes: it crashes on every
// request, so the gateway answers 502 (scenario 2).
func orders() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_ = middleware.RecordError(r.Context(), errors.New("orders: database connection pool exhausted"))
		// Drop the connection without an answer, as a crashing process does.
		panic(http.ErrAbortHandler)
	})
	return mux
}

// Shutdown stops the servers and flushes the telemetry, within ctx.
func (a *app) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range a.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	a.serving.Wait()
	a.client.CloseIdleConnections()
	errs = append(errs, a.closeTelemetry(ctx))
	return errors.Join(errs...)
}

func (a *app) closeTelemetry(ctx context.Context) error {
	var errs []error
	if a.kit != nil {
		errs = append(errs, a.kit.Shutdown(ctx))
	}
	if a.sink != nil {
		errs = append(errs, a.sink.Shutdown(ctx))
	}
	if a.emitter != nil {
		errs = append(errs, a.emitter.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
