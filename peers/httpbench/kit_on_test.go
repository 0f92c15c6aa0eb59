package httpbench

import (
	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// With the kit, every exporter is an xray.SegmentExporter.

func udpOption(e *xray.Emitter) middleware.Option { return middleware.WithSegmentExporter(e) }

func otlpOption(e *otlp.Exporter) (middleware.Option, bool) {
	return middleware.WithSegmentExporter(e), true
}
