//go:build sidelightkit

package httpbench

import (
	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// withSegmentExporter gives the middleware exporter/otlp (needs
// middleware.WithSegmentExporter, from the kit).
func withSegmentExporter(e *otlp.Exporter) (middleware.Option, bool) {
	return middleware.WithSegmentExporter(e), true
}
