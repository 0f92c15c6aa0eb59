package xraytest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// A test of your own handler: the recorder takes the place of the X-Ray
// exporter, and the test reads the segments the middleware finished.
func ExampleRecorder() {
	rec := xraytest.NewRecorder()
	kit, _ := middleware.New(
		middleware.WithSegmentExporter(rec),
		middleware.WithServiceName("checkout"),
		middleware.WithoutMetrics(),
	)
	defer kit.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		middleware.AddAnnotation(r.Context(), "plan", "pro")
		w.WriteHeader(http.StatusCreated)
	})
	req := httptest.NewRequest("POST", "/orders", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
	kit.HTTP()(mux).ServeHTTP(httptest.NewRecorder(), req)

	for _, seg := range rec.Segments() {
		fmt.Println(seg.Name, seg.TraceID, seg.HTTP.Response.Status, seg.Annotations["route"], seg.Annotations["plan"])
	}
	// Output: checkout 1-5759e988-bd862e3fe1be46a994272793 201 POST /orders pro
}
