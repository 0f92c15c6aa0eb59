package xray

import (
	"log/slog"
	"os"
)

type config struct {
	address   string
	queueSize int
	logger    *slog.Logger
	maxDoc    int

	dropWhenFull bool
	noGSO        bool
}

// Option configures an Emitter.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithDaemonAddress sets the daemon address, in either form that
// AWS_XRAY_DAEMON_ADDRESS accepts. It overrides the environment variable.
func WithDaemonAddress(addr string) Option {
	return optionFunc(func(c *config) { c.address = addr })
}

// WithQueueSize sets how many segments may wait for the sender (default
// 8192). See Emitter for what happens when it is full.
func WithQueueSize(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.queueSize = n
		}
	})
}

// WithDropWhenFull makes ExportSegment drop (and count) a datagram when the queue
// is full, instead of sending it from the caller's goroutine. Use it where
// the request path must not spend even one system call on telemetry.
func WithDropWhenFull() Option {
	return optionFunc(func(c *config) { c.dropWhenFull = true })
}

// WithoutSegmentationOffload makes the sender write each datagram as it
// is (with sendmmsg) instead of in runs of equal size with UDP segmentation
// offload, which pads shorter documents with trailing spaces. Use it if
// something between you and the daemon mishandles that padding.
func WithoutSegmentationOffload() Option {
	return optionFunc(func(c *config) { c.noGSO = true })
}

// WithLogger sets where the emitter reports send errors and drops, at most
// once per interval; by default it logs nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// withMaxDatagram lowers the datagram limit; tests use it to exercise splitting.
func withMaxDatagram(n int) Option {
	return optionFunc(func(c *config) { c.maxDoc = n })
}

func newConfig(opts []Option) config {
	c := config{
		address:   os.Getenv("AWS_XRAY_DAEMON_ADDRESS"),
		queueSize: 8192,
		logger:    slog.New(slog.DiscardHandler),
		maxDoc:    MaxDatagramSize,
	}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}
