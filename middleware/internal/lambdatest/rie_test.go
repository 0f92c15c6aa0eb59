package lambdatest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
)

// traceFor and parentFor give invocation n a trace and a parent of its own.
func traceFor(n int) string  { return fmt.Sprintf("1-65f0a1b2-%024x", n) }
func parentFor(n int) string { return fmt.Sprintf("%016x", 0xa0+n) }

// apiEvent is an API Gateway REST event for invocation n, whose
// X-Amzn-Trace-Id names its trace and parent: the emulator passes no trace
// header to the runtime, so the function finds the trace in the event.
func apiEvent(path string, n int) string {
	trace, parent := traceFor(n), parentFor(n)
	ev := map[string]any{
		"path":       path,
		"httpMethod": "POST",
		"headers": map[string]string{
			"X-Amzn-Trace-Id": "Root=" + trace + ";Parent=" + parent + ";Sampled=1",
			"User-Agent":      "lambdatest",
		},
		"requestContext": map[string]any{
			"domainName": "k3x9.execute-api.eu-west-1.amazonaws.com",
			"path":       "/prod" + path,
			"identity":   map[string]string{"sourceIp": "203.0.113.5"},
		},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// invoke sends invocation n, the API Gateway event for path, and checks
// the emulator's answer: its status, unless status is 0, and that its body
// contains want. It returns the function's subsegment for the invocation.
func invoke(t *testing.T, e *lambdatest.Emulator, path string, n, status int, want string) xraytest.Segment {
	t.Helper()
	got, body := e.Invoke(t, apiEvent(path, n))
	if status != 0 && got != status || !strings.Contains(body, want) {
		t.Fatalf("answer %d %s", got, body)
	}
	return waitSubsegment(t, e.Daemon, parentFor(n))
}

// invocationEMF waits for the per-invocation EMF document of invocation n.
func invocationEMF(t *testing.T, l *lambdatest.Lines, n int) map[string]any {
	t.Helper()
	return l.WaitEMF(t, "xray_trace_id "+traceFor(n), func(d map[string]any) bool {
		_, isInvocation := d["function_request_id"]
		return isInvocation && d["xray_trace_id"] == traceFor(n)
	})
}

func annotation(doc xraytest.Segment, key string) any { return doc.Annotations[key] }

func TestEmulatorInvocations(t *testing.T) {
	var downstreamCalls atomic.Int32
	var downstreamHeader atomic.Value
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downstreamCalls.Add(1)
		downstreamHeader.Store(r.Header.Get("X-Amzn-Trace-Id"))
	}))
	defer downstream.Close()
	// A wider margin than the default, so that the timeout report gets
	// out before the emulator's kill even on a loaded machine.
	e := startEmulator(t, "SIDELIGHT_TEST_DOWNSTREAM="+downstream.URL+"/stock", "SIDELIGHT_TEST_TIMEOUT_MARGIN=600ms")

	t.Run("success", func(t *testing.T) {
		doc := invoke(t, e, "/ok", 1, 200, `"statusCode":200`)
		if doc.TraceID != traceFor(1) || doc.Name != "## orders-fn" || doc.Fault || doc.Error {
			t.Errorf("subsegment: %s", doc.Raw)
		}
		if annotation(doc, "cold_start") != true || annotation(doc, "service") != "orders" || annotation(doc, "order") != 42.0 || annotation(doc, "cors_headers") != true {
			t.Errorf("annotations: %v", doc.Annotations)
		}
		if doc.HTTP.Request.URL != "https://k3x9.execute-api.eu-west-1.amazonaws.com/prod/ok" || doc.HTTP.Response.Status != 200 {
			t.Errorf("http: %s", doc.Raw)
		}
		call, ok := doc.Find("127.0.0.1")
		if !ok || call.Namespace != "remote" || call.HTTP.Response.Status != 200 {
			t.Fatalf("downstream call not recorded: %s", doc.Raw)
		}
		if h, _ := downstreamHeader.Load().(string); !strings.Contains(h, "Root="+traceFor(1)) || !strings.Contains(h, "Parent="+call.ID) {
			t.Errorf("downstream got header %q, want the trace with the call's subsegment as parent %s", h, call.ID)
		}
		cold := e.Stdout.WaitEMF(t, "the ColdStart document", func(d map[string]any) bool { _, ok := d["FunctionName"]; return ok })
		if cold["FunctionName"] != "orders-fn" || cold["Service"] != "orders" || cold["ColdStart"] != 1.0 {
			t.Errorf("ColdStart document: %v", cold)
		}
		inv := invocationEMF(t, e.Stdout, 1)
		if inv["Orders"] != 1.0 || inv["Errors"] != 0.0 || inv["ColdStart"] != 1.0 || inv["Timeout"] != 0.0 || inv["Service"] != "orders" {
			t.Errorf("invocation document: %v", inv)
		}
		for _, d := range []map[string]any{cold, inv} {
			dir := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
			if dir["Namespace"] != "SidelightTest" {
				t.Errorf("namespace %v, want AWS_EMF_NAMESPACE's", dir["Namespace"])
			}
		}
	})

	t.Run("returned error", func(t *testing.T) {
		doc := invoke(t, e, "/error", 2, 200, "order 7 not found")
		if !doc.Fault || doc.Cause == nil || len(doc.Cause.Exceptions) != 2 {
			t.Fatalf("want a fault with the error chain: %s", doc.Raw)
		}
		if ex := doc.Cause.Exceptions; ex[0].Type != "*fmt.wrapError" || ex[1].Type != "*main.OrderError" || ex[1].Message != "order 7 not found" {
			t.Errorf("exceptions: %+v", ex)
		}
		if annotation(doc, "cold_start") != false {
			t.Errorf("second invocation marked cold: %v", doc.Annotations)
		}
		if inv := invocationEMF(t, e.Stdout, 2); inv["Errors"] != 1.0 || inv["ColdStart"] != 0.0 {
			t.Errorf("invocation document: %v", inv)
		}
	})

	t.Run("503 response", func(t *testing.T) {
		doc := invoke(t, e, "/fail", 3, 200, `"statusCode":503`)
		if !doc.Fault || doc.HTTP.Response.Status != 503 || doc.Cause != nil {
			t.Errorf("503: %s", doc.Raw)
		}
	})

	t.Run("panic", func(t *testing.T) {
		doc := invoke(t, e, "/panic", 4, 0, "nil map")
		if !doc.Fault || doc.Cause == nil || len(doc.Cause.Exceptions) == 0 {
			t.Fatalf("want a fault: %s", doc.Raw)
		}
		ex := doc.Cause.Exceptions[0]
		if len(ex.Stack) == 0 || ex.Stack[0].Label != "main.handle" || !strings.Contains(ex.Message, "nil map") {
			t.Errorf("panic cause does not start at the panicking frame: %+v", ex)
		}
		if inv := invocationEMF(t, e.Stdout, 4); inv["Errors"] != 1.0 {
			t.Errorf("invocation document: %v", inv)
		}
		// aws-lambda-go exits after a panic; the next invocation starts a
		// new process, which is a cold start again.
		if doc := invoke(t, e, "/ok", 5, 200, ""); annotation(doc, "cold_start") != true {
			t.Errorf("invocation after the runtime restarted is not cold: %v", doc.Annotations)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		// AWS_LAMBDA_FUNCTION_TIMEOUT=2: the handler sleeps for a minute.
		doc := invoke(t, e, "/sleep", 6, 0, "Task timed out after 2.00 seconds")
		if !doc.Fault || annotation(doc, "timeout") != true || doc.Cause == nil || doc.Cause.Exceptions[0].Type != "sidelight.Timeout" ||
			!strings.Contains(doc.Cause.Exceptions[0].Message, "before the deadline") {
			t.Errorf("timeout subsegment: %s", doc.Raw)
		}
		inv := invocationEMF(t, e.Stdout, 6)
		if inv["Timeout"] != 1.0 || inv["Errors"] != 1.0 {
			t.Errorf("timeout document: %v", inv)
		}
		if d, _ := inv["Duration"].(float64); d <= 0 {
			t.Errorf("Duration %v", inv["Duration"])
		}
	})
}

func TestEmulatorHandlerForm(t *testing.T) {
	e := startEmulator(t, "SIDELIGHT_TEST_FORM=handler")
	doc := invoke(t, e, "/ok", 11, 200, `"statusCode":200`)
	if doc.HTTP.Request.Method != "POST" || doc.HTTP.Response.Status != 200 || annotation(doc, "cors_headers") != true || annotation(doc, "order") != 42.0 {
		t.Errorf("handler form: %s", doc.Raw)
	}
	if doc := invoke(t, e, "/error", 12, 0, "order 7 not found"); !doc.Fault || doc.Cause == nil {
		t.Errorf("error: %s", doc.Raw)
	}
	if inv := invocationEMF(t, e.Stdout, 12); inv["Errors"] != 1.0 {
		t.Errorf("invocation document: %v", inv)
	}
}
