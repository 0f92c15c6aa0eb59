package localview

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults used for the zero values of Config's fields.
const (
	DefaultMaxTraces     = 10_000
	DefaultMaxBytes      = 32 << 20
	DefaultMaxMetricDocs = 50_000
	DefaultMaxSeries     = 2_000
	DefaultRetention     = time.Hour

	DefaultMaxLogRecords   = 20_000
	DefaultMaxLogBytes     = 16 << 20
	DefaultMaxUnlinkedLogs = 1_000

	// MaxDocBytes is the largest segment or EMF document accepted. It is the
	// CloudWatch Logs limit for one event; X-Ray's own limit is 64 KiB.
	MaxDocBytes = 1 << 20

	// MaxDocsPerTrace bounds the documents (segments and independent
	// subsegments) kept for one trace; further ones are refused with an error.
	MaxDocsPerTrace = 1000
)

// Config configures a Store. The zero value is usable: every zero field takes
// the default named in its comment.
type Config struct {
	// MaxTraces caps the number of traces kept (DefaultMaxTraces). The
	// oldest-received traces are evicted first.
	MaxTraces int
	// MaxBytes caps the bytes of stored documents, segments and EMF together,
	// counted as their compacted JSON (DefaultMaxBytes). The heap the store
	// holds is about three times this (measured: 18 MiB of heap for 6 MiB of
	// documents in 10,000 traces), for the parsed summaries and indexes.
	MaxBytes int64
	// MaxMetricDocs caps the number of EMF documents kept (DefaultMaxMetricDocs).
	MaxMetricDocs int
	// MaxSeries caps the number of distinct metric series (namespace, metric
	// name, dimensions). Points of further series are dropped and counted
	// (DefaultMaxSeries).
	MaxSeries int
	// MaxLogRecords and MaxLogBytes cap the OTLP log records kept
	// (DefaultMaxLogRecords, DefaultMaxLogBytes), counted apart from the
	// traces' MaxTraces and MaxBytes so that logs never evict traces; the
	// oldest received are evicted first. Bytes are the records' estimated
	// size in memory (otlplogs.Record.Size).
	MaxLogRecords int
	MaxLogBytes   int64
	// MaxUnlinkedLogs caps the records kept without a trace ID, within
	// MaxLogRecords (DefaultMaxUnlinkedLogs).
	MaxUnlinkedLogs int
	// PersistPath, when set, names a file that New loads and that Close and
	// Persist rewrite with what the store holds (JSON lines).
	PersistPath string
	// Retention drops documents received longer ago than this (DefaultRetention).
	Retention time.Duration
	// AllowedHosts are Host header names, besides localhost, 127.0.0.1 and
	// ::1, that the handler serves (for example a container's name). Without
	// them any other Host is refused, which defeats DNS rebinding. The entry
	// "*" allows every Host: only for a view deliberately served beyond
	// loopback (Listen with allowRemote), where the network is trusted.
	AllowedHosts []string
	// Logger receives start-up and persistence messages, never one line per
	// document. Nil discards.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil). Tests inject their own.
	Now func() time.Time
	// Inputs say where the store's documents come from, for the page to
	// tell a user with no data yet what to send where (DefaultInputs, the
	// sidecar's default addresses, when nil).
	Inputs []Input
}

// Input is one place that feeds the store, as the page shows it.
type Input struct {
	Signal  string `json:"signal"`        // what arrives there: "X-Ray segments"
	Address string `json:"address"`       // where: "udp://127.0.0.1:2000"
	Env     string `json:"env,omitempty"` // how an SDK is pointed at it: "AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000"
}

// DefaultInputs are the sidecar's default receiving addresses.
var DefaultInputs = []Input{
	{Signal: "X-Ray segments", Address: "udp://127.0.0.1:2000", Env: "AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000"},
	{Signal: "EMF metrics", Address: "tcp://127.0.0.1:25888", Env: "AWS_EMF_AGENT_ENDPOINT=tcp://127.0.0.1:25888"},
	{Signal: "OpenTelemetry traces, metrics and logs", Address: "http://127.0.0.1:4318", Env: "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"},
}

// Validate reports a Config that cannot be used.
func (c Config) Validate() error {
	var errs []error
	if c.MaxTraces < 0 {
		errs = append(errs, fmt.Errorf("MaxTraces %d is negative", c.MaxTraces))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxBytes %d is negative", c.MaxBytes))
	}
	if c.MaxMetricDocs < 0 {
		errs = append(errs, fmt.Errorf("MaxMetricDocs %d is negative", c.MaxMetricDocs))
	}
	if c.MaxSeries < 0 {
		errs = append(errs, fmt.Errorf("MaxSeries %d is negative", c.MaxSeries))
	}
	if c.MaxLogRecords < 0 || c.MaxLogBytes < 0 || c.MaxUnlinkedLogs < 0 {
		errs = append(errs, fmt.Errorf("MaxLogRecords %d, MaxLogBytes %d or MaxUnlinkedLogs %d is negative", c.MaxLogRecords, c.MaxLogBytes, c.MaxUnlinkedLogs))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("Retention %v is negative", c.Retention))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("localview: invalid config: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxTraces == 0 {
		c.MaxTraces = DefaultMaxTraces
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxMetricDocs == 0 {
		c.MaxMetricDocs = DefaultMaxMetricDocs
	}
	if c.MaxSeries == 0 {
		c.MaxSeries = DefaultMaxSeries
	}
	if c.MaxLogRecords == 0 {
		c.MaxLogRecords = DefaultMaxLogRecords
	}
	if c.MaxLogBytes == 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	if c.MaxUnlinkedLogs == 0 {
		c.MaxUnlinkedLogs = DefaultMaxUnlinkedLogs
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Inputs == nil {
		c.Inputs = DefaultInputs
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
