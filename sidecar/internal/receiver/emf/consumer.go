package emf

import "github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"

// Consumer takes the EMF documents the receiver accepted, each parsed
// once, here (see emf.Document): the consumer aggregates doc.Points, or
// forwards doc.Raw, and never parses the line again. doc and its slices
// are only valid during the call (doc.Clone keeps a copy); ConsumeEMF
// must not block on the network and must be safe for concurrent use.
type Consumer interface {
	ConsumeEMF(doc *emfdoc.Document)
}

// RejectionObserver is implemented by a Consumer that wants to know of
// the lines the receiver refused (the local view shows them): RejectedEMF
// is called once per refused line, with the reason also counted as
// emf.rejected.<reason>. It must not block.
type RejectionObserver interface {
	RejectedEMF(reason emfdoc.Reason)
}

// TraceIDFinder is implemented by a Consumer that links metrics to
// traces (the local view): when WantsTraceIDs reports true, the receiver
// also collects the X-Ray trace IDs of each document's root members into
// doc.TraceIDs (see emf.Parser.Decode).
type TraceIDFinder interface {
	WantsTraceIDs() bool
}
