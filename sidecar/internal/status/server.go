package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/hostcheck"
)

// Config configures a Server.
type Config struct {
	// Addr is the TCP address to listen on, such as 127.0.0.1:2021.
	Addr string
	// Counters are served on /status.
	Counters *Counters
	// Info, when set, is called for extra /status fields (effective UDP
	// buffer size, mode, ...).
	Info func() map[string]any
	// Healthy, when set, is consulted by /healthz in addition to the
	// shutting-down state.
	Healthy func() error
	// AllowedHosts are Host header names, besides localhost, 127.0.0.1
	// and ::1, that the server answers to (see package hostcheck); "*"
	// allows every Host. Other names get 421, which keeps a page that
	// rebinds its name to 127.0.0.1 from reading /status.
	AllowedHosts []string
	Logger       *slog.Logger
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	if c.Counters == nil {
		return errors.New("status: Counters is required")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("status: address %q: %w", c.Addr, err)
	}
	return nil
}

// Server serves /healthz and /status.
type Server struct {
	cfg      Config
	srv      *http.Server
	ln       net.Listener
	stopping atomic.Bool
	done     chan struct{}
}

// New checks cfg and returns an unstarted Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /status", s.status)
	s.srv = &http.Server{Handler: hostcheck.New(cfg.AllowedHosts).Handler(mux), ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// Handler returns the server's handler (for tests and for mounting).
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Start listens and serves in the background. It returns once the
// listener is bound, or with the bind error.
func (s *Server) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("status: listen: %w", err)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("status server stopped", "err", err)
		}
	}()
	return nil
}

// Addr returns the bound address (after Start).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetShuttingDown makes /healthz answer 503 from now on.
func (s *Server) SetShuttingDown() { s.stopping.Store(true) }

// Shutdown stops the server, waiting for open requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	if s.ln == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	if s.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if s.cfg.Healthy != nil {
		if err := s.cfg.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{"counters": s.cfg.Counters.Snapshot()}
	if s.cfg.Info != nil {
		out["info"] = s.cfg.Info()
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// Probe asks the health endpoint at addr (host:port) and returns nil when
// it answers 200 within ctx.
func Probe(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s: %s", resp.Status, body)
	}
	return nil
}
