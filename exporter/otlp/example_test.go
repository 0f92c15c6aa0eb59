package otlp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

func Example() {
	// A stand-in for the sidecar's or a collector's OTLP/HTTP receiver.
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					fmt.Println(s.Name, s.Kind, s.Attributes[0].Key, s.Attributes[0].Value.GetStringValue())
				}
			}
		}
	}))
	defer collector.Close()

	// Without WithEndpointURL, the exporter reads OTEL_EXPORTER_OTLP_*
	// and defaults to http://localhost:4318/v1/traces.
	exp, err := otlp.New(otlp.WithEndpointURL(collector.URL + "/v1/traces"))
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Now()
	seg := &xray.Segment{
		Name: "checkout", TraceID: xray.NewTraceID(start), ID: xray.NewSpanID(),
		Start: start, End: start.Add(2 * time.Millisecond),
		HTTP: xray.HTTP{Method: "GET", URL: "https://api.example.com/cart"},
	}
	seg.SetHTTPStatus(200)
	exp.ExportSegment(seg) // seg is the caller's again once this returns

	if err := exp.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println("exported:", exp.Stats().Exported)
	// Output:
	// checkout SPAN_KIND_SERVER http.request.method GET
	// exported: 1
}
