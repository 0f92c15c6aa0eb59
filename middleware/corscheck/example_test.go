package corscheck_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

// A preflight from a page whose tracing adds traceparent, answered by a
// server that allows only Content-Type.
func ExampleEvaluate() {
	r := httptest.NewRequest("OPTIONS", "http://api.example/orders", nil)
	r.Header.Set("Origin", "https://shop.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "content-type,traceparent")

	resp := http.Header{}
	resp.Set("Access-Control-Allow-Origin", "https://shop.example")
	resp.Set("Access-Control-Allow-Methods", "GET, POST")
	resp.Set("Access-Control-Allow-Headers", "Content-Type")
	resp.Set("Vary", "Origin")

	v, ok := corscheck.Evaluate(r, http.StatusNoContent, resp)
	fmt.Println(ok, v.Outcome, v.Preflight, v.Code)
	fmt.Println(v.Reason)
	fmt.Println(v.Hint)
	// Output:
	// true blocked true header-not-allowed
	// Request header field traceparent is not allowed by Access-Control-Allow-Headers in preflight response.
	// Tracing in the page adds traceparent: list it in Access-Control-Allow-Headers.
}

// Requests without Origin are not evaluated, and cost nothing.
func ExampleEvaluate_noOrigin() {
	r := httptest.NewRequest("GET", "http://api.example/health", nil)
	_, ok := corscheck.Evaluate(r, http.StatusOK, http.Header{})
	fmt.Println(ok)
	// Output: false
}

// A gateway error without CORS headers: the page sees "Failed to fetch".
func ExampleEvaluateEvent() {
	e := &corscheck.Event{
		Method: "GET",
		RequestHeaders: map[string]string{
			"origin": "https://shop.example",
			"host":   "abc123.lambda-url.us-east-1.on.aws",
		},
		Status:          502,
		ResponseHeaders: map[string]string{"content-type": "application/json"},
	}
	v, _ := corscheck.EvaluateEvent(e)
	fmt.Println(v.Outcome, v.Code)
	fmt.Println(v.Reason)
	fmt.Println(v.Hint)
	// Output:
	// blocked missing-allow-origin
	// No 'Access-Control-Allow-Origin' header is present on the requested resource.
	// The 502 error response has no CORS headers: error paths, and gateways or proxies in front, must add them too.
}

// A Checker that knows the pages send credentials and read X-Request-Id.
func ExampleNew() {
	c, err := corscheck.New(
		corscheck.WithCredentials(corscheck.CredentialsInclude),
		corscheck.WithNeededResponseHeaders("X-Request-Id"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := httptest.NewRequest("GET", "http://api.example/me", nil)
	r.Header.Set("Origin", "https://shop.example")
	resp := http.Header{}
	resp.Set("Access-Control-Allow-Origin", "*")
	resp.Set("X-Request-Id", "r-1")

	v, _ := c.Evaluate(r, http.StatusOK, resp)
	fmt.Println(v.Outcome, v.Code)
	fmt.Println(v.Reason)
	// Output:
	// blocked wildcard-with-credentials
	// The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.
}

// An origin echoed without Vary: allowed, with a warning.
func ExampleWarning() {
	r := httptest.NewRequest("GET", "http://api.example/catalog", nil)
	r.Header.Set("Origin", "https://shop.example")
	resp := http.Header{}
	resp.Set("Access-Control-Allow-Origin", "https://shop.example")
	resp.Set("Cache-Control", "public, max-age=60")

	v, _ := corscheck.Evaluate(r, http.StatusOK, resp)
	fmt.Println(v.Outcome, v.Warnings, v.Warnings.Has(corscheck.WarnMissingVaryOrigin))
	// Output: allowed missing-vary-origin true
}

// Recording a verdict on a trace segment.
func ExampleVerdict_Annotate() {
	r := httptest.NewRequest("GET", "http://api.example/orders", nil)
	r.Header.Set("Origin", "https://shop.example")
	v, _ := corscheck.Evaluate(r, http.StatusInternalServerError, http.Header{})
	v.Annotate(func(key string, value any) { fmt.Printf("%s=%v\n", key, value) })
	if v.Blocked() {
		fmt.Println("count", corscheck.MetricBlocked, "by", corscheck.DimensionRoute, "and", corscheck.DimensionReason, "=", v.Code)
	}
	// Output:
	// cors_verdict=blocked
	// cors_origin=https://shop.example
	// cors_preflight=false
	// cors_code=missing-allow-origin
	// cors_reason=No 'Access-Control-Allow-Origin' header is present on the requested resource.
	// cors_hint=The 500 error response has no CORS headers: error paths, and gateways or proxies in front, must add them too.
	// count CORSBlocked by Route and Reason = missing-allow-origin
}

// Outcome names are stable annotation values.
func ExampleOutcome() {
	fmt.Println(corscheck.Allowed, corscheck.Blocked, corscheck.DependsOnCredentials)
	// Output: allowed blocked depends-on-credentials
}

// Declaring that the pages never send credentials removes the
// depends-on-credentials verdicts that Authorization headers cause.
func ExampleWithCredentials() {
	r := httptest.NewRequest("GET", "http://api.example/orders", nil)
	r.Header.Set("Origin", "https://shop.example")
	r.Header.Set("Authorization", "Bearer t")
	resp := http.Header{}
	resp.Set("Access-Control-Allow-Origin", "https://shop.example")
	resp.Set("Vary", "Origin")

	v, _ := corscheck.Evaluate(r, http.StatusOK, resp)
	fmt.Println(v.Outcome, v.Code)

	omit, _ := corscheck.New(corscheck.WithCredentials(corscheck.CredentialsOmit))
	v, _ = omit.Evaluate(r, http.StatusOK, resp)
	fmt.Println(v.Outcome)
	// Output:
	// depends-on-credentials credentials-not-allowed
	// allowed
}

// A header the page reads but the response does not expose.
func ExampleWithNeededResponseHeaders() {
	c, _ := corscheck.New(corscheck.WithNeededResponseHeaders("X-Request-Id"))
	r := httptest.NewRequest("GET", "http://api.example/orders", nil)
	r.Header.Set("Origin", "https://shop.example")
	resp := http.Header{}
	resp.Set("Access-Control-Allow-Origin", "*")
	resp.Set("X-Request-Id", "r-7")

	v, _ := c.Evaluate(r, http.StatusOK, resp)
	fmt.Println(v.Outcome, v.Warnings)
	fmt.Println(v.Hint)
	// Output:
	// allowed header-not-exposed
	// Response header X-Request-Id is not listed in Access-Control-Expose-Headers: the page reads it as null.
}
