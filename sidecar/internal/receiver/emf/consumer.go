package emf

// Consumer takes valid EMF documents (one line, without the newline).
// doc is only valid during the call; ConsumeEMF must not block on the
// network and must be safe for concurrent use.
type Consumer interface {
	ConsumeEMF(doc []byte)
}
