package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/internal/xrayotel"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/logs"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/otlphttp"
	otlprecv "github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/otlp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/xrayudp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// otlpExporters are the exporters -traces-exporter and -logs-exporter
// chose besides the defaults, and where OTLP logs go (the view in local
// mode). The zero value routes nothing: traces go to PutTraceSegments and
// OTLP logs are refused.
type otlpExporters struct {
	traces *otlphttp.Exporter // nil: traces go to PutTraceSegments
	udp    xrayudp.Consumer   // X-Ray UDP segments as spans to traces
	logs   func(*collogspb.ExportLogsServiceRequest) (int64, string, error)
}

// buildOTLPExporters builds the exporters the configuration asks for and
// adds them to a.pipelines. emfLogs is the PutLogEvents pipeline of
// -emf-to-logs, if there is one (OTLP logs share it).
func (a *App) buildOTLPExporters(ctx context.Context, cfg aws.Config, emfLogs *logs.Pipeline) error {
	c := a.opts.Config
	if c.TracesExporter != config.ExporterXRay {
		oc := otlphttp.Config{Name: "traces_otlp", Signal: otlphttp.Traces, Endpoint: c.TracesEndpoint, Headers: c.TracesHeaders,
			Limits: otlphttp.DefaultLimits, Budget: a.budget, Counters: a.counters, Logger: a.log}
		if c.TracesExporter == config.ExporterXRayOTLP {
			if oc.Endpoint == "" {
				base, err := xrayEndpoint(ctx, cfg)
				if err != nil {
					return err
				}
				oc.Endpoint = strings.TrimSuffix(base, "/") + otlphttp.Traces.Path()
			}
			oc.Credentials, oc.SigningName, oc.Region, oc.Limits = cfg.Credentials, "xray", cfg.Region, otlphttp.XRayLimits
		}
		exp, err := otlphttp.New(oc)
		if err != nil {
			return err
		}
		tr, err := xrayotel.New(nil)
		if err != nil {
			return err
		}
		a.pipelines = append(a.pipelines, exp)
		a.otlpOut.traces = exp
		a.otlpOut.udp = segmentSpans{tr: tr, exp: exp, bad: a.counters.Counter("xray_udp.untranslated")}
	}
	if c.OTLPHTTPAddr == "off" && c.OTLPGRPCAddr == "off" {
		return nil
	}
	stream := c.LogStream
	if stream == "" {
		stream = defaultStream(a.opts.Task)
	}
	switch c.LogsExporter {
	case config.ExporterLogs:
		lp := emfLogs
		if lp == nil {
			var err error
			lp, err = logs.New(logs.Config{
				Client: cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.Retryer = aws.NopRetryer{} }),
				Budget: a.budget, Counters: a.counters, DefaultLogGroup: c.OTLPLogGroup, DefaultLogStream: stream, Logger: a.log})
			if err != nil {
				return err
			}
			a.pipelines = append(a.pipelines, lp)
		}
		a.otlpOut.logs = func(req *collogspb.ExportLogsServiceRequest) (int64, string, error) {
			return putLogEvents(lp, req, c.OTLPLogGroup, stream)
		}
	default:
		oc := otlphttp.Config{Name: "logs_otlp", Signal: otlphttp.Logs, Endpoint: c.LogsEndpoint, Headers: c.LogsHeaders,
			Limits: otlphttp.DefaultLimits, Budget: a.budget, Counters: a.counters, Logger: a.log}
		if c.LogsExporter == config.ExporterLogsOTLP {
			if oc.Endpoint == "" {
				base, err := logsEndpoint(ctx, cfg)
				if err != nil {
					return err
				}
				oc.Endpoint = strings.TrimSuffix(base, "/") + otlphttp.Logs.Path()
			}
			// CloudWatch Logs' endpoint writes to the stream the headers
			// name; they are signed with the request.
			oc.Headers = map[string]string{"x-aws-log-group": c.OTLPLogGroup, "x-aws-log-stream": stream}
			for k, v := range c.LogsHeaders {
				oc.Headers[k] = v
			}
			oc.Credentials, oc.SigningName, oc.Region, oc.Limits = cfg.Credentials, "logs", cfg.Region, otlphttp.CloudWatchLogsLimits
			lg, err := newLogGroupExporters(oc, c.OTLPLogGroup, stream)
			if err != nil {
				return err
			}
			a.pipelines = append(a.pipelines, lg)
			a.otlpOut.logs = lg.queue
			return nil
		}
		exp, err := otlphttp.New(oc)
		if err != nil {
			return err
		}
		a.pipelines = append(a.pipelines, exp)
		a.otlpOut.logs = func(req *collogspb.ExportLogsServiceRequest) (int64, string, error) {
			rej, why, err := exp.QueueLogs(req)
			return rej, why, receiverError(err)
		}
	}
	return nil
}

// route returns the OTLP receiver's consumer: traces and logs to the
// chosen exporters, everything else to base.
func (o otlpExporters) route(base otlprecv.Consumer) otlprecv.Consumer {
	if o.traces == nil && o.logs == nil {
		return base
	}
	return otlpRouter{Consumer: base, out: o}
}

// udpConsumer is the X-Ray UDP receiver's consumer when traces leave as
// OTLP, or def.
func (o otlpExporters) udpConsumer(def xrayudp.Consumer) xrayudp.Consumer {
	if o.udp != nil {
		return o.udp
	}
	return def
}

type otlpRouter struct {
	otlprecv.Consumer
	out otlpExporters
}

func (r otlpRouter) ConsumeTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (int64, string, error) {
	if r.out.traces == nil {
		return r.Consumer.ConsumeTraces(ctx, req)
	}
	rej, why, err := r.out.traces.QueueTraces(req)
	return rej, why, receiverError(err)
}

// ConsumeSpans takes OTLP/HTTP protobuf traces (otlprecv.SpanConsumer):
// to PutTraceSegments through the base consumer's flat-model path, or to
// the OTLP exporter as the request's own bytes, split without decoding
// them into the generated types and encoding them again.
func (r otlpRouter) ConsumeSpans(ctx context.Context, b *otlpspans.Batch) (int64, string, error) {
	if sc, ok := r.Consumer.(otlprecv.SpanConsumer); ok && r.out.traces == nil {
		return sc.ConsumeSpans(ctx, b)
	}
	if r.out.traces == nil {
		req := new(coltracepb.ExportTraceServiceRequest)
		if err := proto.Unmarshal(b.Raw, req); err != nil {
			return 0, "", otlprecv.Invalid(fmt.Errorf("decoding request: %w", err))
		}
		return r.Consumer.ConsumeTraces(ctx, req)
	}
	rej, why, err := r.out.traces.QueueTracesRaw(b.Raw)
	if errors.Is(err, otlphttp.ErrMalformed) {
		return 0, "", otlprecv.Invalid(err)
	}
	return rej, why, receiverError(err)
}

func (r otlpRouter) ConsumeLogs(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (int64, string, error) {
	if r.out.logs == nil {
		return r.Consumer.ConsumeLogs(ctx, req)
	}
	return r.out.logs(req)
}

// receiverError classifies a queueing error for the OTLP receiver: a full
// budget asks the client to retry later (429), a stopping sidecar to
// retry elsewhere (503).
func receiverError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, otlphttp.ErrBudgetFull), errors.Is(err, logs.ErrBudgetFull):
		return fmt.Errorf("%w: %w", otlprecv.ErrBudgetFull, err)
	case errors.Is(err, otlphttp.ErrStopped), errors.Is(err, logs.ErrStopped):
		return fmt.Errorf("%w: %w", otlprecv.ErrShuttingDown, err)
	}
	return err
}

// putLogEvents queues the records of req on the PutLogEvents pipeline,
// per resource in its group and stream (aws.log.group.names and
// aws.log.stream.names) or the defaults. A resource refused for the
// budget refuses the request, but resources queued before it stay queued
// (the client's retry sends them again).
func putLogEvents(lp *logs.Pipeline, req *collogspb.ExportLogsServiceRequest, group, stream string) (int64, string, error) {
	var rejected int64
	var why string
	for _, b := range otlplogs.Events(req, time.Now()) {
		tooLarge, err := lp.QueueEvents(cmpOr(b.Group, group), cmpOr(b.Stream, stream), b.Events)
		if err != nil {
			return 0, "", receiverError(err)
		}
		if tooLarge > 0 {
			rejected += int64(tooLarge)
			why = fmt.Sprintf("log records over PutLogEvents' %d bytes per event", logs.MaxBatchBytes-logs.EventOverhead)
		}
	}
	return rejected, why, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// segmentSpans sends X-Ray UDP segments to an OTLP trace exporter.
type segmentSpans struct {
	tr  *xrayotel.Translator
	exp *otlphttp.Exporter
	bad *atomic.Uint64
}

func (s segmentSpans) ConsumeSegment(doc []byte, _ xraydoc.Info) {
	ss, err := s.tr.SegmentToSpans(doc)
	if err != nil {
		s.bad.Add(1)
		return
	}
	s.exp.AddSpans(ss.Resource, ss.Spans)
}

// logsEndpoint finds CloudWatch Logs' URL the way the SDK client would:
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, then AWS_ENDPOINT_URL (BaseEndpoint),
// then the region's endpoint.
func logsEndpoint(ctx context.Context, cfg aws.Config) (string, error) {
	if v := os.Getenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"); v != "" {
		return v, nil
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return *cfg.BaseEndpoint, nil
	}
	ep, err := cloudwatchlogs.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, cloudwatchlogs.EndpointParameters{Region: aws.String(cfg.Region)})
	if err != nil {
		return "", fmt.Errorf("resolving the CloudWatch Logs endpoint for %q: %w", cfg.Region, err)
	}
	return ep.URI.String(), nil
}

// maxLogTargets bounds the log group and stream pairs that get an
// exporter of their own; records for more go to the default pair.
const maxLogTargets = 16

// logGroupExporters sends OTLP logs to CloudWatch Logs' OTLP endpoint,
// which takes the log group and stream of a request from its headers: one
// exporter per pair, made when a resource first names its group in
// aws.log.group.names (and stream in aws.log.stream.names), the default
// pair for the others. The exporters share their counters (logs_otlp.*).
type logGroupExporters struct {
	cfg           otlphttp.Config
	group, stream string

	mu      sync.Mutex
	exps    map[[2]string]*otlphttp.Exporter
	started bool
	stopped bool
}

func newLogGroupExporters(cfg otlphttp.Config, group, stream string) (*logGroupExporters, error) {
	l := &logGroupExporters{cfg: cfg, group: group, stream: stream, exps: map[[2]string]*otlphttp.Exporter{}}
	exp, err := l.newExporter(group, stream)
	if err != nil {
		return nil, err
	}
	l.exps[[2]string{group, stream}] = exp
	return l, nil
}

func (l *logGroupExporters) newExporter(group, stream string) (*otlphttp.Exporter, error) {
	cfg := l.cfg
	cfg.Headers = maps.Clone(cfg.Headers)
	cfg.Headers["x-aws-log-group"], cfg.Headers["x-aws-log-stream"] = group, stream
	return otlphttp.New(cfg)
}

// Start starts the default pair's exporter.
func (l *logGroupExporters) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started = true
	return l.exps[[2]string{l.group, l.stream}].Start(ctx)
}

// Shutdown drains every exporter side by side within ctx.
func (l *logGroupExporters) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.stopped = true
	exps := slices.Collect(maps.Values(l.exps))
	l.mu.Unlock()
	errs := make([]error, len(exps))
	var wg sync.WaitGroup
	for i, e := range exps {
		wg.Go(func() { errs[i] = e.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// exporter returns the pair's exporter, starting one if needed.
func (l *logGroupExporters) exporter(group, stream string) (*otlphttp.Exporter, error) {
	group, stream = cmpOr(group, l.group), cmpOr(stream, l.stream)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil, otlphttp.ErrStopped
	}
	key := [2]string{group, stream}
	if e, ok := l.exps[key]; ok {
		return e, nil
	}
	if len(l.exps) >= maxLogTargets || !l.started {
		return l.exps[[2]string{l.group, l.stream}], nil
	}
	e, err := l.newExporter(group, stream)
	if err == nil {
		err = e.Start(context.Background())
	}
	if err != nil {
		return l.exps[[2]string{l.group, l.stream}], nil // an unusable name: the default pair
	}
	l.exps[key] = e
	return e, nil
}

// queue queues each resource's records on its pair's exporter. A pair
// refused for the budget refuses the request, but pairs queued before it
// stay queued (the client's retry sends them again).
func (l *logGroupExporters) queue(req *collogspb.ExportLogsServiceRequest) (int64, string, error) {
	byExp := map[*otlphttp.Exporter]*collogspb.ExportLogsServiceRequest{}
	var order []*otlphttp.Exporter
	for _, rl := range req.GetResourceLogs() {
		e, err := l.exporter(otlplogs.ResourceName(rl.GetResource(), "aws.log.group.names"), otlplogs.ResourceName(rl.GetResource(), "aws.log.stream.names"))
		if err != nil {
			return 0, "", receiverError(err)
		}
		sub, ok := byExp[e]
		if !ok {
			sub = &collogspb.ExportLogsServiceRequest{}
			byExp[e] = sub
			order = append(order, e)
		}
		sub.ResourceLogs = append(sub.ResourceLogs, rl)
	}
	var rejected int64
	var why string
	for _, e := range order {
		rej, w, err := e.QueueLogs(byExp[e])
		if err != nil {
			return 0, "", receiverError(err)
		}
		rejected += rej
		why = cmpOr(why, w)
	}
	return rejected, why, nil
}
