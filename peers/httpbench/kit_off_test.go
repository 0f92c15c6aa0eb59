//go:build !sidelightkit

package httpbench

import (
	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// FOLLOW-UP for the merge of the kit (branch h-kit): the middleware on
// this branch takes only an *xray.Emitter (WithEmitter), so it cannot be
// given exporter/otlp. kit_on_test.go (-tags sidelightkit) holds the
// versions for after the merge, when this file and the tags can go.

func udpOption(e *xray.Emitter) middleware.Option { return middleware.WithEmitter(e) }

func otlpOption(*otlp.Exporter) (middleware.Option, bool) { return nil, false }
