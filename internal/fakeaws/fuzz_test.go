package fakeaws

import (
	"net/http"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeOTLP: any body, as protobuf or JSON, decodes or fails with an
// error (no panic), and what decodes passes the trace limits check without
// panicking either.
func FuzzDecodeOTLP(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"","links":[{"traceId":"00","spanId":"x"}]}]}]}]}`), true)
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"5B8EFFF798038103D269B633813FC60C"}]}]}]}`), true)
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"exemplars":[{"spanId":"EEE19B7EC3C1B174"}]}]}}]}]}]}`), true)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, false)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		r, _ := http.NewRequest(http.MethodPost, "http://x/v1/traces", nil)
		r.Header.Set("Content-Type", "application/x-protobuf")
		if json {
			r.Header.Set("Content-Type", "application/json")
		}
		for _, m := range []proto.Message{&coltracepb.ExportTraceServiceRequest{}, &colmetricpb.ExportMetricsServiceRequest{}, &collogspb.ExportLogsServiceRequest{}} {
			if decodeOTLP(r, body, m) != nil {
				continue
			}
			if tr, ok := m.(*coltracepb.ExportTraceServiceRequest); ok {
				_, _ = validateTraces(tr, timeNowForFuzz)
				dropSpans(tr, 1)
			}
		}
	})
}
