// Command app is the "orders" service of the ECS example: a small HTTP API
// instrumented with Sidelight's middleware. It sends X-Ray segments and
// CloudWatch Embedded Metric Format (EMF) documents to the Sidelight
// sidecar running next to it in the same ECS task.
//
// It is configured only through the environment, as the task definition
// sets it:
//
//	PORT                     port to serve on (default 8080)
//	HOST                     address to serve on (default: every interface)
//	OTEL_SERVICE_NAME        segment name and metrics Service dimension (default "orders")
//	AWS_EMF_NAMESPACE        CloudWatch namespace of the RED metrics (default "Sidelight/Examples")
//	AWS_XRAY_DAEMON_ADDRESS  where segments go (default 127.0.0.1:2000, the sidecar)
//	AWS_EMF_AGENT_ENDPOINT   where EMF goes (default tcp://127.0.0.1:25888, the sidecar)
//	METRICS_INTERVAL         how often metrics are written (default 10s)
//
// Routes:
//
//	GET  /orders/{id}   200 with the order; 404 for an unknown id; id "boom" is a
//	                    simulated fault (500); ?delay=800ms waits first (at most 5s)
//	POST /orders        201; 400 when the body is not {"item": "...", "quantity": n>0}
//	GET  /healthz       200 "ok", for the load balancer; not traced or counted
//
// On SIGTERM (what ECS sends when it stops a task) it stops accepting
// requests, finishes those in flight and writes the last metrics.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// Defaults, used when the environment does not say otherwise.
const (
	DefaultPort      = "8080"
	DefaultService   = "orders"
	DefaultNamespace = "Sidelight/Examples"
	maxDelay         = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, os.Getenv, logger, nil); err != nil {
		logger.Error("orders stopped", "error", err.Error())
		os.Exit(1)
	}
}

// config is what the environment sets.
type config struct {
	Addr          string
	Service       string
	Namespace     string
	DaemonAddress string
	EMFEndpoint   string
	Interval      time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:          net.JoinHostPort(getenv("HOST"), or(getenv("PORT"), DefaultPort)),
		Service:       or(getenv("OTEL_SERVICE_NAME"), DefaultService),
		Namespace:     or(getenv("AWS_EMF_NAMESPACE"), DefaultNamespace),
		DaemonAddress: or(getenv("AWS_XRAY_DAEMON_ADDRESS"), xray.DefaultDaemonAddress),
		EMFEndpoint:   or(getenv("AWS_EMF_AGENT_ENDPOINT"), emf.DefaultAgentEndpoint),
		Interval:      10 * time.Second,
	}
	if p, err := strconv.Atoi(or(getenv("PORT"), DefaultPort)); err != nil || p < 0 || p > 65535 {
		return c, fmt.Errorf("PORT %q: want a port number", getenv("PORT"))
	}
	if _, err := xray.ParseDaemonAddress(c.DaemonAddress); err != nil {
		return c, fmt.Errorf("AWS_XRAY_DAEMON_ADDRESS: %w", err)
	}
	if s := getenv("METRICS_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("METRICS_INTERVAL %q: want a positive duration such as 10s", s)
		}
		c.Interval = d
	}
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// run serves until ctx ends, then shuts down in order: the server (in-flight
// requests finish), the metrics (the last interval is written), the
// segment emitter and the EMF connection. ready, when not nil, is called
// with the listening address once requests are accepted.
func run(ctx context.Context, getenv func(string) string, logger *slog.Logger, ready func(net.Addr)) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	svc, err := newService(cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: svc.handler, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	logger.Info("orders listening", "addr", ln.Addr().String(), "service", cfg.Service,
		"namespace", cfg.Namespace, "xray", cfg.DaemonAddress, "emf", cfg.EMFEndpoint)

	select {
	case err = <-served:
	case <-ctx.Done():
	}
	// ECS waits stopTimeout (30 s by default) after SIGTERM before SIGKILL.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return errors.Join(err, ignoreClosed(srv.Shutdown(sctx)), svc.shutdown(sctx))
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// service is the instrumented handler and what must be shut down with it.
type service struct {
	handler  http.Handler
	shutdown func(context.Context) error
}

func newService(cfg config, logger *slog.Logger) (*service, error) {
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(cfg.DaemonAddress), xray.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	sink, err := emf.NewAgentSink(cfg.EMFEndpoint, emf.WithAgentLogger(logger))
	if err != nil {
		_ = emitter.Shutdown(context.Background())
		return nil, err
	}
	kit, err := middleware.New(
		middleware.WithSegmentExporter(emitter),
		middleware.WithServiceName(cfg.Service),
		middleware.WithMetricsSink(sink),
		middleware.WithMetricsNamespace(cfg.Namespace),
		middleware.WithMetricsInterval(cfg.Interval),
		middleware.WithLogger(logger),
	)
	if err != nil {
		_ = errors.Join(emitter.Shutdown(context.Background()), sink.Shutdown(context.Background()))
		return nil, err
	}
	traced := kit.HTTP()(routes(newStore()))

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	root.Handle("/", traced)
	return &service{
		handler: root,
		shutdown: func(ctx context.Context) error {
			// The kit first: its last metrics go through the sink.
			return errors.Join(kit.Shutdown(ctx), sink.Shutdown(ctx), emitter.Shutdown(ctx))
		},
	}, nil
}

type order struct {
	ID       string `json:"id"`
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

// store keeps orders in memory; the example has no database.
type store struct {
	mu     sync.Mutex
	next   int
	orders map[string]order
}

func newStore() *store {
	return &store{next: 2, orders: map[string]order{"1": {ID: "1", Item: "coffee beans", Quantity: 2}}}
}

func routes(st *store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if d := r.URL.Query().Get("delay"); d != "" {
			delay, err := time.ParseDuration(d)
			if err != nil || delay < 0 || delay > maxDelay {
				http.Error(w, "delay: want a duration between 0 and 5s", http.StatusBadRequest)
				return
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		id := r.PathValue("id")
		_ = middleware.AddAnnotation(r.Context(), "order_id", id)
		if id == "boom" {
			_ = middleware.RecordError(r.Context(), errors.New("simulated fault: the order database is unreachable"))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		st.mu.Lock()
		o, ok := st.orders[id]
		st.mu.Unlock()
		if !ok {
			http.Error(w, "no such order", http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var o order
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil || o.Item == "" || o.Quantity <= 0 {
			http.Error(w, `want {"item": "...", "quantity": n} with n > 0`, http.StatusBadRequest)
			return
		}
		st.mu.Lock()
		o.ID = strconv.Itoa(st.next)
		st.next++
		if len(st.orders) < 10000 {
			st.orders[o.ID] = o
		}
		st.mu.Unlock()
		writeJSON(w, http.StatusCreated, o)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
