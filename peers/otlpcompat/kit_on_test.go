package otlpcompat

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// serveSidelight serves req with the middleware exporting to exp.
func serveSidelight(t *testing.T, exp *otlp.Exporter, req *http.Request) {
	h := middleware.HTTP(middleware.WithSegmentExporter(exp), middleware.WithServiceName("checkout"),
		middleware.WithSamplingRules(rules(t)), middleware.WithoutMetrics())(app())
	h.ServeHTTP(httptest.NewRecorder(), req)
}
