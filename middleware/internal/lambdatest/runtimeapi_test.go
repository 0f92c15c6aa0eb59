package lambdatest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
)

// runtimeAPI is a Lambda runtime API of our own, so that aws-lambda-go's
// real invoke loop receives Lambda-Runtime-Trace-Id, which the emulator
// does not pass on.
type runtimeAPI struct {
	srv     *httptest.Server
	pending chan apiInvocation
	results chan apiResult
}

type apiInvocation struct {
	id, traceHeader, payload string
	tenant                   string // Lambda-Runtime-Aws-Tenant-Id, when set
	timeout                  time.Duration
}

type apiResult struct {
	id        string
	failed    bool
	errorType string
	body      string
	// contentType is the answer's Content-Type: a streamed function URL
	// response is application/vnd.awslambda.http-integration-response.
	contentType string
}

func newRuntimeAPI(t testing.TB) *runtimeAPI {
	api := &runtimeAPI{pending: make(chan apiInvocation, 16), results: make(chan apiResult, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-api.pending:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(inv.timeout).UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn")
			if inv.traceHeader != "" {
				h.Set("Lambda-Runtime-Trace-Id", inv.traceHeader)
			}
			if inv.tenant != "" {
				h.Set("Lambda-Runtime-Aws-Tenant-Id", inv.tenant)
			}
			_, _ = io.WriteString(w, inv.payload)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{kind}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		api.results <- apiResult{
			id:        r.PathValue("id"),
			failed:    r.PathValue("kind") == "error",
			errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type"),
			body:      string(body),

			contentType: r.Header.Get("Content-Type"),
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		t.Errorf("init error: %s", body)
		w.WriteHeader(http.StatusAccepted)
	})
	api.srv = httptest.NewServer(mux)
	t.Cleanup(api.srv.Close)
	return api
}

func (api *runtimeAPI) addr() string { return strings.TrimPrefix(api.srv.URL, "http://") }

// result waits for the function's answer to invocation id.
func (api *runtimeAPI) result(t testing.TB, id string) apiResult {
	t.Helper()
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	select {
	case r := <-api.results:
		if r.id != id {
			t.Fatalf("answer for %s, want %s", r.id, id)
		}
		return r
	case <-timeout.C:
		t.Fatalf("no answer for %s", id)
	}
	return apiResult{}
}

// startFunction runs the test function against api, as Lambda runs a
// provided.al2023 function.
func startFunction(t *testing.T, api *runtimeAPI, env ...string) (*lambdatest.Process, *xraytest.Daemon) {
	t.Helper()
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + api.addr(),
		"AWS_XRAY_DAEMON_ADDRESS=" + d.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=orders-fn",
		"POWERTOOLS_SERVICE_NAME=orders",
		"_X_AMZN_TRACE_ID=",
	}, env...)
	return lambdatest.StartProcess(t, env, functionBinary), d
}

func TestRuntimeAPITraceHeaderFromTheInvokeLoop(t *testing.T) {
	api := newRuntimeAPI(t)
	fn, daemon := startFunction(t, api)

	// The runtime's header names the facade segment; the event carries a
	// different one (API Gateway's), which must lose.
	facade := "Root=" + traceFor(21) + ";Parent=fa0000000000021a;Sampled=1"
	api.pending <- apiInvocation{id: "inv-21", traceHeader: facade, payload: apiEvent("/ok", 99), timeout: time.Minute}
	if r := api.result(t, "inv-21"); r.failed || !strings.Contains(r.body, `"statusCode":200`) {
		t.Fatalf("answer %+v", r)
	}
	doc := waitSubsegment(t, daemon, "fa0000000000021a")
	if doc.TraceID != traceFor(21) || doc.Type != "subsegment" {
		t.Errorf("subsegment not under the runtime's facade: %s", doc.Raw)
	}
	if inv := invocationEMF(t, fn.Stdout, 21); inv["function_request_id"] != "inv-21" {
		t.Errorf("EMF: %v", inv)
	}

	// Sampled=0 from the runtime: nothing is sent, even though the event
	// asks for sampling; metrics are still written.
	api.pending <- apiInvocation{id: "inv-22", traceHeader: "Root=" + traceFor(22) + ";Parent=fa0000000000022a;Sampled=0", payload: apiEvent("/ok", 98), timeout: time.Minute}
	if r := api.result(t, "inv-22"); r.failed {
		t.Fatalf("answer %+v", r)
	}
	invocationEMF(t, fn.Stdout, 22)

	// An error goes to the runtime API's error endpoint as usual.
	api.pending <- apiInvocation{id: "inv-23", traceHeader: "Root=" + traceFor(23) + ";Parent=fa0000000000023a;Sampled=1", payload: apiEvent("/error", 97), timeout: time.Minute}
	r := api.result(t, "inv-23")
	if !r.failed || !strings.Contains(r.body, "order 7 not found") {
		t.Fatalf("answer %+v", r)
	}
	if doc := waitSubsegment(t, daemon, "fa0000000000023a"); !doc.Fault || doc.TraceID != traceFor(23) {
		t.Errorf("error subsegment: %s", doc.Raw)
	}
	all, err := daemon.Documents()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if d.TraceID == traceFor(22) || d.ParentID == parentFor(98) {
			t.Errorf("a document for the unsampled invocation: %s", d.Raw)
		}
	}
}

// TestRuntimeAPIConcurrentInvocations runs eight invocations at once in
// one process (AWS_LAMBDA_MAX_CONCURRENCY, as Lambda Managed Instances
// do), where aws-lambda-go leaves _X_AMZN_TRACE_ID unset: each must keep
// its own trace and tenant, for its subsegment, its downstream call and
// its metrics, and the process counts one cold start.
func TestRuntimeAPIConcurrentInvocations(t *testing.T) {
	const n = 8
	var mu sync.Mutex
	seen := map[string]string{} // trace root → header the downstream got
	arrived := 0
	release := make(chan struct{})
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("X-Amzn-Trace-Id")
		mu.Lock()
		root, _, _ := strings.Cut(strings.TrimPrefix(h, "Root="), ";")
		seen[root] = h
		arrived++
		if arrived == n {
			close(release) // all n invocations are in flight together
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(20 * time.Second):
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	}))
	defer downstream.Close()
	api := newRuntimeAPI(t)
	fn, daemon := startFunction(t, api, "AWS_LAMBDA_MAX_CONCURRENCY="+strconv.Itoa(n), "SIDELIGHT_TEST_DOWNSTREAM="+downstream.URL)

	for i := range n {
		api.pending <- apiInvocation{
			id:          fmt.Sprint("c", i),
			traceHeader: "Root=" + traceFor(30+i) + ";Parent=" + parentFor(30+i) + ";Sampled=1",
			payload:     apiEvent("/ok", 90+i), // the event's own header must lose
			tenant:      fmt.Sprint("tenant-", i),
			timeout:     time.Minute,
		}
	}
	for range n {
		select {
		case r := <-api.results:
			if r.failed || !strings.Contains(r.body, `"statusCode":200`) {
				t.Fatalf("answer %+v", r)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("invocations did not finish")
		}
	}
	colds := 0
	for i := range n {
		doc := waitSubsegment(t, daemon, parentFor(30+i))
		if doc.TraceID != traceFor(30+i) {
			t.Errorf("invocation %d: subsegment in trace %s", i, doc.TraceID)
		}
		call, ok := doc.Find("127.0.0.1")
		if !ok {
			t.Fatalf("invocation %d: no downstream subsegment: %s", i, doc.Raw)
		}
		mu.Lock()
		h := seen[traceFor(30+i)]
		mu.Unlock()
		if !strings.Contains(h, "Parent="+call.ID) {
			t.Errorf("invocation %d: downstream header %q, want parent %s", i, h, call.ID)
		}
		if doc.Annotations["cold_start"] == true {
			colds++
		}
		if doc.Annotations["tenant_id"] != fmt.Sprint("tenant-", i) {
			t.Errorf("invocation %d: tenant annotation %v", i, doc.Annotations["tenant_id"])
		}
		if inv := invocationEMF(t, fn.Stdout, 30+i); inv["function_request_id"] != fmt.Sprint("c", i) || inv["tenant_id"] != fmt.Sprint("tenant-", i) {
			t.Errorf("invocation %d: EMF %v", i, inv)
		}
	}
	if colds != 1 {
		t.Errorf("%d cold starts, want 1", colds)
	}
}
