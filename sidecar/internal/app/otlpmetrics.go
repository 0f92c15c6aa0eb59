package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlpmetrics"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlpsegments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/metrics"
	otlprecv "github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/otlp"
)

// otlpSignals is the OTLP receiver's consumer: spans (and the logs
// refusal) by otlpsegments, metrics by otlpmetrics.
type otlpSignals struct {
	*otlpsegments.Consumer
	metrics *otlpmetrics.Consumer
}

func (o otlpSignals) ConsumeMetrics(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (int64, string, error) {
	return o.metrics.ConsumeMetrics(ctx, req)
}

// withMetrics returns the OTLP consumer: traces alone (metrics refused
// with a message) when there is no metrics sink, else both.
func (a *App) withMetrics(traces *otlpsegments.Consumer, sink otlpmetrics.Sink) (otlprecv.Consumer, error) {
	if sink == nil {
		return traces, nil
	}
	m, err := otlpmetrics.New(otlpmetrics.Config{Sink: sink, Counters: a.counters, Logger: a.log})
	if err != nil {
		return nil, err
	}
	return otlpSignals{Consumer: traces, metrics: m}, nil
}

// pointSink hands OTLP's points to the metrics pipeline all together, or
// refuses them as retryable when the budget is full or the pipeline is
// stopping.
type pointSink struct{ p *metrics.Pipeline }

func (s pointSink) AddPoints(pts []cwmetric.Point) (int, error) {
	dropped, err := s.p.ConsumePoints(pts)
	switch {
	case errors.Is(err, metrics.ErrBudgetFull):
		return 0, fmt.Errorf("%w: %w", otlprecv.ErrBudgetFull, err)
	case errors.Is(err, metrics.ErrStopped):
		return 0, fmt.Errorf("%w: %w", otlprecv.ErrShuttingDown, err)
	}
	return dropped, err
}

// AddPoints gives the local view OTLP's points as EMF documents, one per
// point, the form its Inbox takes (the view keeps values, not counts or
// statistic sets). Values are repeated by their counts, at most
// maxLocalValues per point (a larger histogram is shown by a proportional
// sample); a statistic set becomes its min, its max and count-2 copies of
// the mean of the rest, which keeps its count, sum, min and max. Points the
// inbox has no room for are dropped and counted (local.dropped), as for
// spans.
func (l localConsumer) AddPoints(pts []cwmetric.Point) (dropped int, err error) {
	for i := range pts {
		doc, ok := localEMF(&pts[i])
		if !ok || !l.inbox.AddEMF(doc) {
			dropped++
		}
	}
	return dropped, nil
}

const maxLocalValues = 1000

func localEMF(p *cwmetric.Point) ([]byte, bool) {
	var vals []float64
	switch {
	case p.Stats != nil:
		s := p.Stats
		n := min(int(s.Count), maxLocalValues)
		vals = append(vals, s.Min)
		if n >= 2 {
			vals = append(vals, s.Max)
			rest := (s.Sum - s.Min - s.Max) / float64(int(s.Count)-2)
			for range n - 2 {
				vals = append(vals, rest)
			}
		}
	case p.Counts != nil:
		total := 0.0
		for _, c := range p.Counts {
			total += c
		}
		scale := min(1, maxLocalValues/total)
		for i, v := range p.Values {
			for range max(1, int(math.Round(p.Counts[i]*scale))) {
				vals = append(vals, v)
			}
		}
	default:
		vals = p.Values
	}
	doc := map[string]any{}
	names := make([]string, 0, len(p.Dims))
	for _, d := range p.Dims {
		doc[d.Name] = d.Value
		names = append(names, d.Name)
	}
	if _, clash := doc[p.Name]; clash || p.Name == "_aws" {
		return nil, false
	}
	doc[p.Name] = vals
	doc["_aws"] = map[string]any{"Timestamp": p.TimestampMs, "CloudWatchMetrics": []any{map[string]any{
		"Namespace": p.Namespace, "Dimensions": [][]string{names}, "Metrics": []any{map[string]string{"Name": p.Name, "Unit": p.Unit}}}}}
	b, err := json.Marshal(doc)
	return b, err == nil
}
