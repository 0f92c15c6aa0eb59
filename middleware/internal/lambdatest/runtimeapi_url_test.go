package lambdatest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// functionURLEvent is a function URL event for invocation n, whose own
// X-Amzn-Trace-Id (which must lose to the runtime's) names n+50.
func functionURLEvent(n int) string {
	ev := map[string]any{
		"rawPath":        "/stream",
		"rawQueryString": fmt.Sprint("n=", n),
		"headers": map[string]string{
			"x-amzn-trace-id": "Root=" + traceFor(n+50) + ";Parent=" + parentFor(n+50) + ";Sampled=1",
			"user-agent":      "lambdatest",
		},
		"requestContext": map[string]any{
			"domainName": "k3x9.lambda-url.eu-west-1.on.aws",
			"http":       map[string]string{"method": "GET", "path": "/stream", "sourceIp": "203.0.113.5", "userAgent": "lambdatest"},
		},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// TestRuntimeAPIStreamingFunctionURL runs a response-streaming function
// URL handler (middleware.LambdaURL) under aws-lambda-go's real invoke
// loop, four invocations at once: each answer is the streaming
// integration response with the handler's status and its whole body, and
// each invocation is one subsegment under the runtime's facade segment
// of that invocation (not the event's header), with the method, URL and
// status, its tenant, and its EMF document; one cold start.
func TestRuntimeAPIStreamingFunctionURL(t *testing.T) {
	const n, chunks = 4, 200 // chunks: testfunction.StreamChunks
	api := newRuntimeAPI(t)
	fn, daemon := startFunction(t, api, "SIDELIGHT_TEST_FORM=url", fmt.Sprint("AWS_LAMBDA_MAX_CONCURRENCY=", n))
	for i := range n {
		api.pending <- apiInvocation{
			id:          fmt.Sprint("s", i),
			traceHeader: "Root=" + traceFor(60+i) + ";Parent=" + parentFor(60+i) + ";Sampled=1",
			payload:     functionURLEvent(i),
			tenant:      fmt.Sprint("tenant-", i),
			timeout:     time.Minute,
		}
	}
	for range n {
		var r apiResult
		select {
		case r = <-api.results:
		case <-time.After(30 * time.Second):
			t.Fatal("invocations did not finish")
		}
		var i int
		if _, err := fmt.Sscanf(r.id, "s%d", &i); err != nil || r.failed {
			t.Fatalf("answer %+v", r)
		}
		prelude, body, ok := strings.Cut(r.body, "\x00\x00\x00\x00\x00\x00\x00\x00")
		var want strings.Builder
		for c := range chunks {
			fmt.Fprintf(&want, "chunk %d of %d;", c, i)
		}
		if !ok || r.contentType != "application/vnd.awslambda.http-integration-response" ||
			!strings.Contains(prelude, `"statusCode":201`) || body != want.String() {
			t.Errorf("invocation %d: content type %q, prelude %q, body intact %v (%d bytes, want %d)",
				i, r.contentType, prelude, body == want.String(), len(body), want.Len())
		}
	}
	colds := 0
	for i := range n {
		doc := waitSubsegment(t, daemon, parentFor(60+i))
		if doc.TraceID != traceFor(60+i) || doc.Name != "## orders-fn" || doc.Annotations["n"] != fmt.Sprint(i) ||
			doc.HTTP.Request.Method != "GET" || doc.HTTP.Request.URL != "https://k3x9.lambda-url.eu-west-1.on.aws/stream" ||
			doc.HTTP.Response.Status != 201 || doc.Annotations["tenant_id"] != fmt.Sprint("tenant-", i) || doc.Fault || doc.Error {
			t.Errorf("invocation %d: %s", i, doc.Raw)
		}
		if doc.Annotations["cold_start"] == true {
			colds++
		}
		if inv := invocationEMF(t, fn.Stdout, 60+i); inv["function_request_id"] != fmt.Sprint("s", i) || inv["Chunks"] != float64(chunks) {
			t.Errorf("invocation %d: EMF %v", i, inv)
		}
	}
	if colds != 1 {
		t.Errorf("%d cold starts, want 1", colds)
	}
	all, err := daemon.Documents()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		for i := range n {
			if d.TraceID == traceFor(50+i) {
				t.Errorf("a document under the event's header rather than the runtime's: %s", d.Raw)
			}
		}
	}
}
