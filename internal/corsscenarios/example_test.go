package corsscenarios_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
)

// The scenario server answers the broken and the fixed variant of each
// scenario; here scenario 1.
func ExampleNew() {
	api := corsscenarios.New(corsscenarios.Config{AllowedOrigins: []string{"http://127.0.0.1:8091"}})
	for _, path := range []string{"/s1/broken", "/s1/fixed"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8090"+path, nil)
		req.Header.Set("Origin", "http://127.0.0.1:8091")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Printf("%s: %d, Access-Control-Allow-Origin %q\n", path, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
	// Output:
	// /s1/broken: 200, Access-Control-Allow-Origin ""
	// /s1/fixed: 200, Access-Control-Allow-Origin "http://127.0.0.1:8091"
}

// Preflight says which fetches the browser asks about first, and which
// header names the preflight lists.
func ExampleScenario_Preflight() {
	for _, s := range corsscenarios.All() {
		if s.Number != 4 {
			continue
		}
		pre, names := s.Preflight()
		fmt.Println(s.ID, pre, names)
	}
	// Output:
	// s4/broken-traceparent true [traceparent]
	// s4/broken-amzn true [x-amzn-trace-id]
	// s4/broken-auth true [authorization]
	// s4/fixed true [authorization traceparent x-amzn-trace-id]
}

// NewPage serves the page that calls the API from another origin.
func ExampleNewPage() {
	page := corsscenarios.NewPage(corsscenarios.PageConfig{API: "http://127.0.0.1:8090", TraceView: "http://127.0.0.1:2772"})
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output: 200 text/html; charset=utf-8
}
