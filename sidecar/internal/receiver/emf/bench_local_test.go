package emf

import (
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
)

// storeConsumer hands parsed documents to a store synchronously, as the
// local view's inbox goroutine does.
type storeConsumer struct{ s *localview.Store }

func (c storeConsumer) ConsumeEMF(d *emfdoc.Document) { _ = c.s.AddEMFDocument(d) }

func (storeConsumer) WantsTraceIDs() bool { return true }
