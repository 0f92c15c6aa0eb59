package otlp_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/otlp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// printer is a Consumer that prints span names and takes everything.
type printer struct{}

func (printer) ConsumeTraces(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (int64, string, error) {
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				fmt.Printf("span %q trace %x\n", sp.GetName(), sp.GetTraceId())
			}
		}
	}
	return 0, "", nil
}

func (printer) ConsumeMetrics(context.Context, *colmetricpb.ExportMetricsServiceRequest) (int64, string, error) {
	return 0, "", nil
}

func (printer) ConsumeLogs(context.Context, *collogspb.ExportLogsServiceRequest) (int64, string, error) {
	return 0, "", otlp.ErrBudgetFull // logs are not taken now: the client retries later
}

func Example() {
	counters := status.NewCounters()
	r, err := otlp.New(otlp.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "off", Consumer: printer{}, Counters: counters})
	if err != nil {
		panic(err)
	}
	if err := r.Start(context.Background()); err != nil {
		panic(err)
	}
	defer func() { _ = r.Shutdown(context.Background()) }()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	url := "http://" + r.HTTPAddr().String()
	resp, err := client.Post(url+otlp.PathTraces, "application/json", strings.NewReader(
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"GET /cart","kind":2}]}]}]}`))
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	fmt.Println("traces:", resp.StatusCode)

	resp, err = client.Post(url+otlp.PathLogs, "application/json", strings.NewReader(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}`))
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	fmt.Println("logs:", resp.StatusCode, "Retry-After", resp.Header.Get("Retry-After"))
	fmt.Println("accepted spans:", counters.Get("otlp.accepted.spans"), "refused budget_full:", counters.Get("otlp.refused.budget_full"))
	// Output:
	// span "GET /cart" trace 5b8efff798038103d269b633813fc60c
	// traces: 200
	// logs: 429 Retry-After 1
	// accepted spans: 1 refused budget_full: 1
}
