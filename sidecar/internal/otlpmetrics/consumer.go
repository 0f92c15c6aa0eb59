package otlpmetrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/internal/otelcw"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// Sink takes the CloudWatch points of one OTLP request.
type Sink interface {
	// AddPoints takes all of pts (valid only during the call) or none. It
	// returns how many it dropped for good (reported to the client as
	// rejected), or an error that refuses them all with none kept: one
	// wrapping otlp.ErrBudgetFull or otlp.ErrShuttingDown. It must not
	// block on the network.
	AddPoints(pts []cwmetric.Point) (dropped int, err error)
}

// DefaultNamespace is the namespace the middleware would write its RED
// metrics to in this environment: AWS_EMF_NAMESPACE, else
// POWERTOOLS_METRICS_NAMESPACE, else the EMF exporter's default.
func DefaultNamespace() string {
	return cmp.Or(os.Getenv("AWS_EMF_NAMESPACE"), os.Getenv("POWERTOOLS_METRICS_NAMESPACE"), emf.DefaultNamespace)
}

// Config configures a Consumer.
type Config struct {
	// Translator (default: otelcw.New with DefaultNamespace()).
	Translator *otelcw.Translator
	Sink       Sink
	Counters   *status.Counters
	Logger     *slog.Logger
}

// Consumer takes OTLP metrics (the ConsumeMetrics method of the
// receiver's Consumer; see the package doc).
type Consumer struct {
	tr           *otelcw.Translator
	sink         Sink
	log          *slog.Logger
	untranslated map[otelcw.Reason]*atomic.Uint64
	dataPoints   *atomic.Uint64
	points       *atomic.Uint64
	baselines    *atomic.Uint64
}

// New checks cfg and returns a Consumer.
func New(cfg Config) (*Consumer, error) {
	if cfg.Sink == nil || cfg.Counters == nil {
		return nil, errors.New("otlpmetrics: Sink and Counters are required")
	}
	if cfg.Translator == nil {
		tr, err := otelcw.New(otelcw.Config{Namespace: DefaultNamespace()})
		if err != nil {
			return nil, err
		}
		cfg.Translator = tr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := cfg.Counters
	return &Consumer{tr: cfg.Translator, sink: cfg.Sink, log: cfg.Logger,
		untranslated: status.Family(c, "otlp.metrics.untranslated.", otelcw.Reasons...),
		dataPoints:   c.Counter("otlp.metrics.data_points"),
		points:       c.Counter("otlp.metrics.points"),
		baselines:    c.Counter("otlp.metrics.baselines"),
	}, nil
}

// ConsumeMetrics translates req and hands its points to the Sink.
func (c *Consumer) ConsumeMetrics(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (int64, string, error) {
	var dropped int
	res, err := c.tr.Translate(req, func(pts []cwmetric.Point) error {
		d, err := c.sink.AddPoints(pts)
		dropped = d
		return err
	})
	c.dataPoints.Add(uint64(res.DataPoints))
	if err != nil {
		return 0, "", err
	}
	for i, r := range otelcw.Reasons {
		if n := res.Dropped[i]; n > 0 {
			c.untranslated[r].Add(uint64(n))
		}
	}
	c.points.Add(uint64(res.Points - dropped))
	c.baselines.Add(uint64(res.Baselines))
	rejected := res.Drops() + dropped
	if rejected == 0 {
		return 0, "", nil
	}
	var msg string
	if res.Drops() > 0 {
		msg = fmt.Sprintf("%d of %d data points could not be turned into CloudWatch metrics; first: %v", res.Drops(), res.DataPoints, res.First)
	}
	if dropped > 0 {
		d := fmt.Sprintf("%d data points dropped: CloudWatch would refuse them (see the sidecar's metrics.dropped counters)", dropped)
		if msg == "" {
			msg = d
		} else {
			msg += "; " + d
		}
	}
	c.log.Debug("OTLP data points rejected", "rejected", rejected, "data_points", res.DataPoints, "first", res.First)
	return int64(rejected), msg, nil
}
