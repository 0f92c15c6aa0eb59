package red

import (
	"testing"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tid returns the trace ID that s spells in X-Ray form, the zero ID for
// "", and for anything else (fuzz input) an ID made of s's first bytes.
func tid(s string) trace.TraceID {
	if s == "" {
		return trace.TraceID{}
	}
	if id, err := xray.ParseTraceID(s); err == nil {
		return id
	}
	var id trace.TraceID
	copy(id[:], s)
	return id
}
