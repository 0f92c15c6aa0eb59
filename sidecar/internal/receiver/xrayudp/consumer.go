package xrayudp

import "github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"

// Consumer takes accepted segment documents. doc is only valid during the
// call; ConsumeSegment must not block (the reading loop calls it).
type Consumer interface {
	ConsumeSegment(doc []byte, info xraydoc.Info)
}
