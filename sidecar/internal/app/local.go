package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// localConsumer feeds the local view instead of AWS, through an inbox: the
// receive loops never wait on the view; when it falls behind, documents
// are dropped and counted (local.dropped).
type localConsumer struct{ inbox *localview.Inbox }

func (l localConsumer) ConsumeSegment(doc []byte, _ xraydoc.Info) { l.inbox.AddSegment(doc) }

// ConsumeEMF gives the view a document the EMF receiver parsed: the view
// keeps its points and never parses the line again.
func (l localConsumer) ConsumeEMF(doc *emfdoc.Document) { l.inbox.AddEMFDocument(doc) }

// RejectedEMF shows the view the lines the EMF receiver refused, by reason.
func (l localConsumer) RejectedEMF(reason emfdoc.Reason) { l.inbox.RejectedEMF(reason) }

// WantsTraceIDs: the view links metrics to traces, so the receiver
// collects the trace IDs of each document while it parses it.
func (localConsumer) WantsTraceIDs() bool { return true }

// AddSegments gives the view the documents of one OTLP request; those the
// inbox has no room for are dropped, counted (local.dropped) and reported
// to the client as rejected: a local view favours the newest data over
// making SDKs resend.
func (l localConsumer) AddSegments(docs [][]byte, _ []xraydoc.Info) (dropped int, err error) {
	for _, d := range docs {
		if !l.inbox.AddSegment(d) {
			dropped++
		}
	}
	return dropped, nil
}

// consumeLogs gives the view the records of one OTLP logs request, turned
// into typed records once here (package otlplogs), never parsed again.
// When the inbox has no room the request's records are dropped, counted
// (local.dropped) and reported to the client as rejected, as for spans.
func (l localConsumer) consumeLogs(req *collogspb.ExportLogsServiceRequest) (int64, string, error) {
	if n := l.inbox.AddLogs(otlplogs.Records(req, time.Now())); n > 0 {
		return int64(n), "the local view is behind; log records dropped", nil
	}
	return 0, "", nil
}

// localIgnoredExporters lists, by flag, the exporter settings local mode
// does not use: it keeps what it receives in the view and sends nothing
// on, so a -traces-exporter, -logs-exporter, endpoint, headers or OTLP
// log group that asks for sending somewhere has no effect there.
func localIgnoredExporters(c config.Config) []string {
	var set []string
	if c.TracesExporter != "" && c.TracesExporter != config.ExporterXRay {
		set = append(set, "-traces-exporter "+c.TracesExporter)
	}
	if c.TracesEndpoint != "" {
		set = append(set, "-traces-endpoint")
	}
	if len(c.TracesHeaders) > 0 {
		set = append(set, "-traces-headers")
	}
	if c.LogsExporter != "" && c.LogsExporter != config.ExporterLogs {
		set = append(set, "-logs-exporter "+c.LogsExporter)
	}
	if c.LogsEndpoint != "" {
		set = append(set, "-logs-endpoint")
	}
	if len(c.LogsHeaders) > 0 {
		set = append(set, "-logs-headers")
	}
	if c.OTLPLogGroup != "" && c.OTLPLogGroup != config.Default().OTLPLogGroup {
		set = append(set, "-otlp-log-group")
	}
	return set
}

// localIgnoredAWS lists, by flag, the settings of the AWS exporters'
// requests (region, EMF to CloudWatch Logs, its group and stream, ECS
// dimensions) that local mode has no use for.
func localIgnoredAWS(c config.Config) []string {
	var set []string
	d := config.Default()
	if c.Region != "" {
		set = append(set, "-region")
	}
	if c.EMFToLogs {
		set = append(set, "-emf-to-logs")
	}
	if c.LogGroup != d.LogGroup {
		set = append(set, "-log-group")
	}
	if c.LogStream != d.LogStream {
		set = append(set, "-log-stream")
	}
	if len(c.ECSDims) > 0 {
		set = append(set, "-ecs-dimensions")
	}
	return set
}

// checkLocalExporters handles the settings localIgnoredExporters finds
// (and warns of those localIgnoredAWS finds, which ask for nothing to be
// sent that local mode would send elsewhere). Asked for local mode (-local, -demo, SIDELIGHT_LOCAL), the sidecar runs
// and logs a warning naming them: running a task definition's sidecar
// locally, settings and all, is what local mode is for. Fallen into local
// mode because no AWS region and credentials were found, it refuses to
// start, naming them: a sidecar told to export must not quietly keep
// everything to itself instead.
func checkLocalExporters(c config.Config, log *slog.Logger) error {
	if aws := localIgnoredAWS(c); len(aws) > 0 {
		log.Warn("local mode ignores these AWS settings: nothing is sent to AWS", "settings", strings.Join(aws, ", "))
	}
	set := localIgnoredExporters(c)
	if len(set) == 0 {
		return nil
	}
	if c.Local {
		log.Warn("local mode ignores these exporter settings: telemetry stays in the view and is sent nowhere", "settings", strings.Join(set, ", "))
		return nil
	}
	return fmt.Errorf("local mode would ignore %s (flags or their SIDELIGHT_* variables): it keeps telemetry in its view and sends nothing on; "+
		"give the sidecar an AWS region and credentials to export, or ask for local mode with -local to run without them", strings.Join(set, ", "))
}

// uiComponent serves the local view.
type uiComponent struct{ a *App }

func (u uiComponent) Start(context.Context) error {
	a := u.a
	ln, err := localview.Listen(a.opts.Config.UIAddr, a.opts.Config.AllowRemote)
	if err != nil {
		return err
	}
	a.uiLn = ln
	a.ui = &http.Server{Handler: a.store.Handler(), ReadHeaderTimeout: 5 * time.Second}
	a.uiDone = make(chan struct{})
	go func() {
		defer close(a.uiDone)
		if err := a.ui.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("local view server stopped", "err", err)
		}
	}()
	a.log.Info("local mode: open the view", "url", localview.URL(ln.Addr()))
	return nil
}

func (u uiComponent) Shutdown(ctx context.Context) error {
	a := u.a
	if a.ui == nil {
		return nil
	}
	err := a.ui.Shutdown(ctx)
	if err != nil {
		_ = a.ui.Close()
	}
	<-a.uiDone
	return err
}

// persister writes the local view's file every PersistEvery, so that a
// crash loses at most that much; Shutdown stops it, and the store's Close
// writes the file one last time.
type persister struct {
	a    *App
	stop chan struct{}
	done chan struct{}
}

func newPersister(a *App) *persister {
	return &persister{a: a, stop: make(chan struct{}), done: make(chan struct{})}
}

func (p *persister) Start(context.Context) error {
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.a.opts.Config.PersistEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := p.a.store.Persist(); err != nil {
					p.a.log.Warn("local view not persisted", "err", err)
				}
			case <-p.stop:
				return
			}
		}
	}()
	return nil
}

func (p *persister) Shutdown(ctx context.Context) error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
