package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
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
