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
// 8192). When the queue is full, Emit drops the segment and counts it.
func WithQueueSize(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.queueSize = n
		}
	})
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
