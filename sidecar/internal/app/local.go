package app

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/segment"
)

// localConsumer feeds the local view instead of AWS.
type localConsumer struct {
	store    *localview.Store
	rejected *atomic.Uint64
}

func (l localConsumer) ConsumeSegment(doc []byte, _ segment.Info) {
	if err := l.store.AddSegment(doc); err != nil {
		l.rejected.Add(1)
	}
}

func (l localConsumer) ConsumeEMF(doc []byte) {
	if err := l.store.AddEMF(doc); err != nil {
		l.rejected.Add(1)
	}
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
