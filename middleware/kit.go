package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// Kit owns everything the middleware sends and starts: the trace exporter
// (the X-Ray UDP emitter by default), the request metrics recorders, the
// lookup of where the service runs (ECS or EC2 metadata), the sampling
// rules it fetches from the daemon, and the CORS checker. Its HTTP, Transport, AWS and LambdaHandler methods build
// middleware that shares them; ForceFlush writes out what is pending and
// Shutdown stops it all.
//
// A Kit starts no goroutine until there is something to send: the
// exporter's sender starts with the first sampled segment, a metrics
// recorder with the first request it counts, the metadata lookup with the
// first traced request. After Shutdown it leaves none.
//
// The package-level functions ([HTTP], [Transport], [AWS], [Lambda],
// [LambdaHandler]) use the kit that [WithKit] names, else the default kit
// ([Default]).
type Kit struct {
	opts []Option // given to New; the base of every handler's options
	cfg  *config

	exporter xray.SegmentExporter // the kit's own; nil when traces are off
	rules    *sampling.Rules      // the kit's own (fetched from the daemon); nil when given

	// warm is set by the first Lambda invocation the kit's wrappers serve:
	// one cold start per kit, and so per execution environment for the
	// default kit, however many wrappers or concurrent invocations.
	warm atomic.Bool

	versions *versionSet // the versions the metrics by version carry
	tenants  tenantSet   // the tenants the metrics by tenant carry

	mu     sync.Mutex
	parts  []kitPart // metrics recorders and metadata lookups, as made
	closed bool
}

// kitPart is something a Kit flushes and stops.
type kitPart interface {
	flush(ctx context.Context) error
	shutdown(ctx context.Context) error
}

// New makes a Kit. Settings come from the environment the way the AWS and
// OpenTelemetry SDKs read them (see the package documentation), and
// options override them. New always returns a usable Kit; the error lists
// the settings it could not honour (each also reported to the WithLogger
// logger), whose part is then off or at its default: a malformed
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_EXPORTER=otlp without an exporter,
// an unusable AWS_XRAY_DAEMON_ADDRESS, and the like.
func New(opts ...Option) (*Kit, error) {
	k := &Kit{opts: opts, versions: newVersionSet()}
	cfg := newConfig(opts)
	cfg.logProblems()
	cfg.kit = k
	if cfg.rules == nil {
		cfg.rules = cfg.defaultRules()
		k.rules = cfg.rules
	}
	if cfg.corsChecker == nil {
		cfg.corsChecker, _ = corscheck.New() // no options: cannot fail
	}
	errs := cfg.problems
	if !cfg.exporterSet {
		e, err := cfg.exporterFromEnvironment()
		if err != nil {
			errs = append(errs, err)
		}
		k.exporter = e
		cfg.exporter = e
	}
	k.cfg = cfg
	return k, errors.Join(errs...)
}

// config returns the configuration of one handler: the kit's options
// with opts applied over them, sharing the kit's exporter, sampling rules
// and CORS checker unless opts replace them.
func (k *Kit) config(opts []Option) *config {
	if len(opts) == 0 {
		return k.cfg
	}
	all := append(k.opts[:len(k.opts):len(k.opts)], opts...)
	cfg := newConfig(all)
	cfg.kit = k
	if !cfg.exporterSet {
		cfg.exporter = k.exporter
	}
	if cfg.rules == nil {
		cfg.rules = k.cfg.rules
	}
	if cfg.corsChecker == nil {
		cfg.corsChecker = k.cfg.corsChecker
	}
	return cfg
}

// add registers a part for ForceFlush and Shutdown; after Shutdown the
// part is shut down at once.
func (k *Kit) add(p kitPart) {
	k.mu.Lock()
	closed := k.closed
	if !closed {
		k.parts = append(k.parts, p)
	}
	k.mu.Unlock()
	if closed {
		_ = p.shutdown(context.Background())
	}
}

// HTTP returns middleware that traces every request; see the package-level
// [HTTP]. opts apply over the kit's own.
func (k *Kit) HTTP(opts ...Option) func(http.Handler) http.Handler {
	return newHTTP(k.config(opts))
}

// Transport returns an http.RoundTripper that traces outgoing calls; see
// the package-level [Transport].
func (k *Kit) Transport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	return newTransport(base, k.config(opts))
}

// AWS instruments the AWS SDK clients made from cfg; see the
// package-level [AWS].
func (k *Kit) AWS(cfg *aws.Config, opts ...Option) {
	instrumentAWS(cfg, k.config(opts))
}

// LambdaHandler wraps a lambda.Handler; see the package-level [Lambda].
// (Kit has no Lambda method, since Go methods cannot take type
// parameters: pass WithKit(k) to Lambda.)
func (k *Kit) LambdaHandler(h lambda.Handler, opts ...Option) lambda.Handler {
	return newLambdaHandler(h, k.config(opts))
}

// Exporter returns the trace exporter the kit sends segments to (the one
// WithSegmentExporter gave, or the one it made), or nil when traces are
// off. Give it to xray.NewSpanProcessor so that OpenTelemetry spans go the
// same way.
func (k *Kit) Exporter() xray.SegmentExporter { return k.cfg.exporter }

// ForceFlush writes the metrics recorded so far and waits until the
// segments ended so far are sent, or ctx ends. A metadata read in
// progress is waited for first, so that the metrics carry the version it
// finds.
func (k *Kit) ForceFlush(ctx context.Context) error {
	k.mu.Lock()
	parts := k.parts[:len(k.parts):len(k.parts)]
	k.mu.Unlock()
	var errs []error
	for _, p := range parts {
		errs = append(errs, p.flush(ctx))
	}
	if e := k.cfg.exporter; e != nil {
		errs = append(errs, e.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// Shutdown writes what is pending and stops every goroutine the kit
// started, honouring ctx's deadline. It shuts down the exporter the kit
// made, and flushes (but leaves running) one given with
// WithSegmentExporter, which its owner shuts down. Middleware built from
// the kit keeps working afterwards, sending nothing: later segments are
// dropped and counted by the exporter. Calling Shutdown again returns nil.
func (k *Kit) Shutdown(ctx context.Context) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	parts := k.parts
	k.parts = nil
	k.mu.Unlock()
	var errs []error
	// Metadata reads first: the metrics written at shutdown carry the
	// version they read.
	for _, p := range parts {
		if env, ok := p.(*environment); ok {
			errs = append(errs, env.flush(ctx))
		}
	}
	for _, p := range parts {
		errs = append(errs, p.shutdown(ctx))
	}
	if k.rules != nil {
		errs = append(errs, k.rules.Shutdown(ctx))
	}
	if k.exporter != nil {
		errs = append(errs, k.exporter.Shutdown(ctx))
	} else if e := k.cfg.exporter; e != nil {
		errs = append(errs, e.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// defaultKit is made on first use by the package-level functions.
var defaultKit = sync.OnceValue(func() *Kit {
	k, _ := New(WithLogger(slog.Default())) // problems are logged
	return k
})

// Default returns the default kit, which the package-level functions use
// when no WithKit option names another. It is made on first use from the
// environment alone and reports setup problems (never requests) to
// slog.Default(). Shut it down when the service stops, so that the last
// segments and metrics are sent:
//
//	defer middleware.Default().Shutdown(ctx)
func Default() *Kit { return defaultKit() }

// kitFrom returns the kit named by a WithKit option, else the default.
func kitFrom(opts []Option) *Kit {
	for i := len(opts) - 1; i >= 0; i-- {
		if w, ok := opts[i].(withKit); ok && w.k != nil {
			return w.k
		}
	}
	return Default()
}

// WithKit makes a package-level function build its middleware from k
// instead of the default kit: k's exporter, metrics and settings, with the
// other options applied over k's. Kit methods ignore it.
func WithKit(k *Kit) Option { return withKit{k} }

type withKit struct{ k *Kit }

func (withKit) apply(*config) {}
