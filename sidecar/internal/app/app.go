package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/hostcheck"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlpmetrics"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlpsegments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/logs"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/metrics"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/segments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
	emfrecv "github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/emf"
	otlprecv "github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/otlp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/samplingproxy"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/xrayudp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xrayput"
)

// component is what every part of the sidecar implements.
type component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Options are what main found out before building the app.
type Options struct {
	Config config.Config
	// AWS is the SDK configuration; nil means local mode.
	AWS *aws.Config
	// Task is the ECS task metadata, when running on ECS.
	Task   *ecsmeta.Task
	Logger *slog.Logger
	// MemoryLimit is the soft memory limit main applied (see
	// ChooseMemoryLimit), shown on /status; zero when none was.
	MemoryLimit MemoryLimit
}

// App is the assembled sidecar.
type App struct {
	opts      Options
	log       *slog.Logger
	counters  *status.Counters
	budget    *queue.Budget
	status    *status.Server
	udp       *xrayudp.Receiver
	emf       *emfrecv.Receiver
	proxy     *samplingproxy.Proxy
	otlp      *otlprecv.Receiver
	pipelines []component // started first, drained after the receivers stop
	receivers []component // started last, stopped first: see shutdownStarted

	store   *localview.Store
	ui      *http.Server
	uiLn    net.Listener
	uiDone  chan struct{}
	started []component

	otlpOut otlpExporters // -traces-exporter and -logs-exporter (otlpexport.go)
}

// New builds the sidecar. Nothing is bound until Start.
func New(ctx context.Context, o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := o.Config
	a := &App{opts: o, log: o.Logger, counters: status.NewCounters(), budget: queue.NewBudget(c.MemoryBudget)}
	var segConsumer xrayudp.Consumer
	var emfConsumer emfrecv.Consumer
	var segSink otlpsegments.Sink
	var admitTraces func(int64) bool // nil: no room check before decoding
	// reuseBodies: OTLP traces go to QueueSegments, which copies every
	// document, and nothing else keeps a part of the request.
	var reuseBodies bool
	var metSink otlpmetrics.Sink // nil: OTLP metrics refused
	var err error
	if o.AWS == nil {
		if err := checkLocalExporters(c, o.Logger); err != nil {
			return nil, err
		}
		store, err := localview.New(localview.Config{PersistPath: c.PersistPath, AllowedHosts: c.AllowedHosts, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		a.store = store
		inbox := store.NewInbox(localview.InboxConfig{
			Dropped: a.counters.Counter("local.dropped"), Rejected: a.counters.Counter("local.rejected")})
		a.pipelines = append(a.pipelines, inbox) // drained after the receivers stop, before the store closes
		lc := localConsumer{inbox: inbox}
		segConsumer, emfConsumer, segSink, metSink = lc, lc, lc, lc
		a.otlpOut.logs = lc.consumeLogs // OTLP logs to the view (local.go)
		if c.XRayTCPAddr != "off" {
			a.proxy, err = samplingproxy.New(samplingproxy.Config{Addr: c.XRayTCPAddr, Local: true, AllowedHosts: c.AllowedHosts, Counters: a.counters, Logger: o.Logger})
			if err != nil {
				return nil, err
			}
		}
	} else {
		cons, err := a.buildAWS(ctx)
		if err != nil {
			return nil, err
		}
		segConsumer, emfConsumer, segSink = cons.seg, cons.emf, pipelineSink{cons.seg}
		if a.otlpOut.traces == nil {
			admitTraces = func(n int64) bool { return cons.seg.HasRoom(otlpsegments.QueuedEstimate(n)) }
			reuseBodies = true
		}
		segConsumer = a.otlpOut.udpConsumer(segConsumer)
		if cons.metrics != nil {
			metSink = pointSink{cons.metrics}
		}
	}
	a.udp, err = xrayudp.New(xrayudp.Config{Addr: c.XRayUDPAddr, ReadBuffer: c.UDPReadBuf, Consumer: segConsumer,
		Counters: a.counters, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	if c.EMFTCPAddr != "off" || c.EMFUDPAddr != "off" {
		a.emf, err = emfrecv.New(emfrecv.Config{TCPAddr: c.EMFTCPAddr, UDPAddr: c.EMFUDPAddr, ReadBuffer: c.UDPReadBuf,
			Consumer: emfConsumer, Counters: a.counters, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
	}
	if c.OTLPHTTPAddr != "off" || c.OTLPGRPCAddr != "off" {
		traces, err := otlpsegments.New(otlpsegments.Config{Sink: segSink, Counters: a.counters, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		cons, err := a.withMetrics(traces, metSink)
		if err != nil {
			return nil, err
		}
		a.otlp, err = otlprecv.New(otlprecv.Config{HTTPAddr: c.OTLPHTTPAddr, GRPCAddr: c.OTLPGRPCAddr,
			AllowHost: hostcheck.New(c.AllowedHosts).Allows, Consumer: a.otlpOut.route(cons), Counters: a.counters, Logger: o.Logger,
			// Decode memory counts in the telemetry budget, and a traces
			// request the queue has no room for is refused before decoding.
			Budget: a.budget, AdmitTraces: admitTraces, ReuseTraceBodies: reuseBodies})
		if err != nil {
			return nil, err
		}
	}
	a.status, err = status.New(status.Config{Addr: c.StatusAddr, AllowedHosts: c.AllowedHosts, Counters: a.counters, Info: a.info, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return a, nil
}

type awsConsumers struct {
	seg     *segments.Pipeline
	emf     emfrecv.Consumer
	metrics *metrics.Pipeline // nil when EMF goes to CloudWatch Logs
}

func (a *App) buildAWS(ctx context.Context) (awsConsumers, error) {
	c, cfg, log := a.opts.Config, *a.opts.AWS, a.log
	noRetry := aws.NopRetryer{} // the pipelines retry, count and bound retries themselves
	var ecsSeg []byte
	if a.opts.Task != nil && c.ECSSegments {
		ecsSeg = a.opts.Task.SegmentECS()
	}
	seg, err := segments.New(segments.Config{
		Client: a.xrayClient(ctx, cfg, noRetry),
		Budget: a.budget, Counters: a.counters, ECS: ecsSeg, Logger: log})
	if err != nil {
		return awsConsumers{}, err
	}
	a.pipelines = append(a.pipelines, seg)
	out := awsConsumers{seg: seg}
	if c.EMFToLogs {
		stream := c.LogStream
		if stream == "" {
			stream = defaultStream(a.opts.Task)
		}
		lp, err := logs.New(logs.Config{
			Client: cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.Retryer = noRetry }),
			Budget: a.budget, Counters: a.counters, DefaultLogGroup: c.LogGroup, DefaultLogStream: stream, Logger: log})
		if err != nil {
			return awsConsumers{}, err
		}
		a.pipelines = append(a.pipelines, lp)
		out.emf = lp
	} else {
		var extra []metrics.Dimension
		if len(c.ECSDims) > 0 {
			if a.opts.Task == nil {
				log.Warn("-ecs-dimensions set but no ECS task metadata is available; no dimensions added")
			} else {
				pairs, err := a.opts.Task.Dimensions(c.ECSDims)
				if err != nil {
					return awsConsumers{}, err
				}
				for _, p := range pairs {
					extra = append(extra, metrics.Dimension{Name: p[0], Value: p[1]})
				}
			}
		}
		mp, err := metrics.New(metrics.Config{
			Client: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Retryer = noRetry }),
			Budget: a.budget, Counters: a.counters, FlushInterval: c.MetricsFlush, ExtraDimensions: extra, Logger: log})
		if err != nil {
			return awsConsumers{}, err
		}
		a.pipelines = append(a.pipelines, mp)
		out.emf, out.metrics = mp, mp
	}
	emfLogs, _ := out.emf.(*logs.Pipeline)
	if err := a.buildOTLPExporters(ctx, cfg, emfLogs); err != nil {
		return awsConsumers{}, err
	}
	if c.XRayTCPAddr != "off" {
		endpoint, err := xrayEndpoint(ctx, cfg)
		if err != nil {
			return awsConsumers{}, err
		}
		a.proxy, err = samplingproxy.New(samplingproxy.Config{Addr: c.XRayTCPAddr, Endpoint: endpoint, Region: cfg.Region, AllowedHosts: c.AllowedHosts,
			Credentials: cfg.Credentials, Counters: a.counters, Logger: log})
		if err != nil {
			return awsConsumers{}, err
		}
	}
	return out, nil
}

// xrayClient is the segments pipeline's X-Ray client: xrayput's, which
// sends PutTraceSegments without the SDK's middleware stack, unless the
// configuration has something only the SDK's client does (see xrayput.New),
// in which case the SDK's client with segments.AppendSerializer. Both use
// the same HTTP client: the configuration's, with buffers that hold a
// batch when it is the SDK's default one.
func (a *App) xrayClient(ctx context.Context, cfg aws.Config, retryer aws.Retryer) segments.API {
	opts := func(o *xray.Options) {
		o.Retryer = retryer
		if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = withBatchBuffers(b, 4)
		}
	}
	direct, err := xrayput.New(ctx, cfg, opts)
	if err == nil {
		return direct
	}
	a.log.Info("PutTraceSegments through the AWS SDK's client", "reason", err.Error())
	return xray.NewFromConfig(cfg, opts, segments.AppendSerializer)
}

// withBatchBuffers is b (the SDK's default HTTP client, or one
// LoadDefaultConfig set up, with its TLS and proxy settings) with buffers
// that hold a whole batch (a 50-segment request is about 20-35 KB; with
// the default 4 KB write buffer each request took several write system
// calls and a 32 KB copy buffer) and an idle connection kept per worker.
func withBatchBuffers(b *awshttp.BuildableClient, workers int) *awshttp.BuildableClient {
	return b.WithTransportOptions(func(t *http.Transport) {
		t.WriteBufferSize = 64 << 10
		t.ReadBufferSize = 16 << 10
		t.MaxIdleConnsPerHost = max(workers, t.MaxIdleConnsPerHost)
	})
}

// xrayEndpoint finds X-Ray's URL the way the SDK client would:
// AWS_ENDPOINT_URL_XRAY, then AWS_ENDPOINT_URL (BaseEndpoint), then the
// region's endpoint.
func xrayEndpoint(ctx context.Context, cfg aws.Config) (string, error) {
	if v := os.Getenv("AWS_ENDPOINT_URL_XRAY"); v != "" {
		return v, nil
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return *cfg.BaseEndpoint, nil
	}
	var ep smithyendpoints.Endpoint
	ep, err := xray.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, xray.EndpointParameters{Region: aws.String(cfg.Region)})
	if err != nil {
		return "", fmt.Errorf("resolving the X-Ray endpoint for %q: %w", cfg.Region, err)
	}
	return ep.URI.String(), nil
}

func defaultStream(task *ecsmeta.Task) string {
	if task != nil && task.TaskARN != "" {
		return task.TaskARN[strings.LastIndex(task.TaskARN, "/")+1:]
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "sidelight"
}

// Start binds every socket and starts every goroutine. On error, what was
// started is shut down again.
func (a *App) Start(ctx context.Context) error {
	var comps []component
	comps = append(comps, a.pipelines...)
	comps = append(comps, a.status)
	if a.store != nil {
		comps = append(comps, uiComponent{a})
		if a.opts.Config.PersistPath != "" && a.opts.Config.PersistEvery > 0 {
			comps = append(comps, newPersister(a))
		}
	}
	a.receivers = a.receivers[:0]
	if a.proxy != nil {
		a.receivers = append(a.receivers, a.proxy)
	}
	a.receivers = append(a.receivers, a.udp)
	if a.emf != nil {
		a.receivers = append(a.receivers, a.emf)
	}
	if a.otlp != nil {
		a.receivers = append(a.receivers, a.otlp)
	}
	comps = append(comps, a.receivers...)
	for _, c := range comps {
		if err := c.Start(ctx); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = a.shutdownStarted(sctx)
			return err
		}
		a.started = append(a.started, c)
	}
	a.log.Info("sidecar started", slog.Any("info", a.info()))
	return nil
}

// Shutdown stops receiving, drains and stops (see the package contract).
func (a *App) Shutdown(ctx context.Context) error {
	a.status.SetShuttingDown()
	return a.shutdownStarted(ctx)
}

// shutdownStarted stops what Start started. The receivers stop taking
// work in at the same moment and, concurrently, hand what their sockets
// and connections already hold to the pipelines (each receiver's Shutdown
// drains; a receiver added later must do the same); only when every
// receiver is done do the pipelines drain (all at once, each within ctx),
// so that nothing read during shutdown arrives after its pipeline
// stopped. Then the servers stop.
func (a *App) shutdownStarted(ctx context.Context) error {
	var errs []error
	var stopping []component
	for _, c := range a.started {
		if containsComp(a.receivers, c) {
			stopping = append(stopping, c)
		}
	}
	rerrs := make([]error, len(stopping))
	var wg sync.WaitGroup
	for i, c := range stopping {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rerrs[i] = c.Shutdown(ctx)
		}()
	}
	wg.Wait()
	errs = append(errs, rerrs...)
	// The pipelines drain side by side: one whose backend is down must not
	// spend the deadline of the others.
	perrs := make([]error, len(a.pipelines))
	for i, p := range a.pipelines {
		if containsComp(a.started, p) {
			wg.Go(func() { perrs[i] = p.Shutdown(ctx) })
		}
	}
	wg.Wait()
	errs = append(errs, perrs...)
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	for i := len(a.started) - 1; i >= 0; i-- {
		c := a.started[i]
		if !containsComp(a.receivers, c) && !containsComp(a.pipelines, c) {
			errs = append(errs, c.Shutdown(ctx))
		}
	}
	a.started = nil
	err := errors.Join(errs...)
	a.log.Info("sidecar stopped", slog.Any("counters", a.counters.Snapshot()), slog.Any("err", err))
	return err
}

func containsComp(cs []component, c component) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// Counters returns the sidecar's counters.
func (a *App) Counters() *status.Counters { return a.counters }

// Local reports whether the app runs in local mode.
func (a *App) Local() bool { return a.store != nil }

// Addrs returns the bound addresses by name, after Start.
func (a *App) Addrs() map[string]string {
	m := map[string]string{"xray_udp": a.udp.Addr().String(), "status": a.status.Addr()}
	if a.emf != nil {
		if t := a.emf.TCPAddr(); t != nil {
			m["emf_tcp"] = t.String()
		}
		if u := a.emf.UDPAddr(); u != nil {
			m["emf_udp"] = u.String()
		}
	}
	if a.proxy != nil {
		m["xray_tcp"] = a.proxy.Addr().String()
	}
	if a.otlp != nil {
		if h := a.otlp.HTTPAddr(); h != nil {
			m["otlp_http"] = h.String()
		}
		if g := a.otlp.GRPCAddr(); g != nil {
			m["otlp_grpc"] = g.String()
		}
	}
	if a.uiLn != nil {
		m["ui"] = localview.URL(a.uiLn.Addr())
	}
	return m
}

func (a *App) info() map[string]any {
	m := map[string]any{"mode": "aws", "memory_budget_bytes": a.budget.Limit(), "memory_budget_used": a.budget.Used()}
	if ml := a.opts.MemoryLimit; ml.Source != "" {
		m["memory_limit_bytes"], m["memory_limit_source"] = ml.Bytes, ml.Source
	}
	if a.store != nil {
		m["mode"] = "local"
	}
	if a.opts.AWS != nil {
		m["region"] = a.opts.AWS.Region
	}
	if a.udp != nil && a.udp.ReadBufferSize() > 0 {
		m["xray_udp_rcvbuf_effective"] = a.udp.ReadBufferSize()
		m["xray_udp_max_read_pause_us"] = a.udp.MaxReadPause().Microseconds()
		m["xray_udp_sockets"] = a.udp.Sockets()
	}
	if a.started != nil {
		for k, v := range a.Addrs() {
			m["addr_"+k] = v
		}
	}
	if a.opts.Task != nil {
		m["ecs_task_arn"] = a.opts.Task.TaskARN
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // only on /status requests and at start
	m["go_heap_alloc_bytes"], m["go_sys_bytes"], m["go_num_gc"] = ms.HeapAlloc, ms.Sys, ms.NumGC
	return m
}

// pipelineSink hands OTLP's documents to the segments pipeline all
// together, or refuses them as retryable when the budget is full or the
// pipeline is stopping (instead of dropping queued segments, as UDP
// traffic, which cannot be told to resend, does).
type pipelineSink struct{ p *segments.Pipeline }

func (s pipelineSink) AddSegments(docs [][]byte, infos []xraydoc.Info) (int, error) {
	switch err := s.p.QueueSegments(docs, infos); {
	case errors.Is(err, segments.ErrBudgetFull):
		return 0, fmt.Errorf("%w: %w", otlprecv.ErrBudgetFull, err)
	case errors.Is(err, segments.ErrStopped):
		return 0, fmt.Errorf("%w: %w", otlprecv.ErrShuttingDown, err)
	default:
		return 0, err
	}
}
