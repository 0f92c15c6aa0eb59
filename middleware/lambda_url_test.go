package middleware

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// streamingHandler writes its status, then the body in chunks, flushing
// between them as a streaming handler does.
func streamingHandler(chunks int) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		if err := AddAnnotation(r.Context(), "n", n); err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := AddMetric(r.Context(), "Chunks", float64(chunks), emf.Count); err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/missing" {
			rw.WriteHeader(http.StatusNotFound)
			return
		}
		rw.WriteHeader(http.StatusCreated)
		for i := range chunks {
			fmt.Fprintf(rw, "chunk %d of %s;", i, n)
			http.NewResponseController(rw).Flush() // lambdaurl's writer cannot flush: ignored
		}
	})
}

func functionURLEvent(path, query string) *events.LambdaFunctionURLRequest {
	ev := &events.LambdaFunctionURLRequest{RawPath: path, RawQueryString: query, Headers: map[string]string{"user-agent": "stream-test"}}
	ev.RequestContext.DomainName = "abc.lambda-url.eu-west-1.on.aws"
	ev.RequestContext.HTTP.Method = "GET"
	ev.RequestContext.HTTP.Path = path
	ev.RequestContext.HTTP.SourceIP = "203.0.113.5"
	ev.RequestContext.HTTP.UserAgent = "stream-test"
	return ev
}

// TestLambdaURLStreamsAndTracesEachInvocation: invocations of a
// response-streaming handler, several at once, each become one subsegment
// under the facade segment of their own runtime trace header, with the
// method, URL and the status written, one cold start among them, and the
// streamed body arrives intact.
func TestLambdaURLStreamsAndTracesEachInvocation(t *testing.T) {
	rec := xraytest.NewRecorder()
	sink := emftest.NewSink()
	k, err := New(WithSegmentExporter(rec), WithServiceName("orders"), WithSamplingRules(always(t)), WithMetricsSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	const chunks = 50
	h := k.LambdaURL(streamingHandler(chunks))

	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: fmt.Sprint("r", i), TenantID: fmt.Sprint("t", i)})
			//nolint:staticcheck // the plain string key aws-lambda-go uses
			ctx = context.WithValue(ctx, "x-amzn-trace-id", fmt.Sprintf("Root=%s;Parent=%016x;Sampled=1", facadeTrace, i+1))
			path := "/stream"
			if i == n-1 {
				path = "/missing"
			}
			resp, err := h(ctx, functionURLEvent(path, fmt.Sprint("n=", i)))
			if err != nil {
				t.Error(err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Error(err)
				return
			}
			var want strings.Builder
			wantStatus := http.StatusCreated
			if path == "/missing" {
				wantStatus = http.StatusNotFound
			} else {
				for c := range chunks {
					fmt.Fprintf(&want, "chunk %d of %d;", c, i)
				}
			}
			if resp.StatusCode != wantStatus || string(body) != want.String() {
				t.Errorf("invocation %d: status %d, body %q; want %d, %q", i, resp.StatusCode, body, wantStatus, want.String())
			}
		}()
	}
	wg.Wait()

	segs := rec.Segments()
	if len(segs) != n {
		t.Fatalf("%d segments, want %d", len(segs), n)
	}
	colds := 0
	for _, s := range segs {
		var i int
		if _, err := fmt.Sscan(fmt.Sprint(s.Annotations["n"]), &i); err != nil {
			t.Fatalf("annotation n: %v in %s", err, s.Raw)
		}
		wantStatus, wantPath := 201, "/stream"
		if i == n-1 {
			wantStatus, wantPath = 404, "/missing"
		}
		if s.Type != "subsegment" || s.TraceID != facadeTrace || s.ParentID != fmt.Sprintf("%016x", i+1) || s.Name != "## orders" ||
			s.HTTP.Request.Method != "GET" || s.HTTP.Request.URL != "https://abc.lambda-url.eu-west-1.on.aws"+wantPath ||
			s.HTTP.Response.Status != wantStatus || s.Annotations["tenant_id"] != fmt.Sprint("t", i) ||
			s.Error != (wantStatus == 404) || s.Fault || s.InProgress {
			t.Errorf("invocation %d: %s", i, s.Raw)
		}
		if s.Annotations["cold_start"] == true {
			colds++
		}
	}
	if colds != 1 {
		t.Errorf("%d cold starts, want 1", colds)
	}
	docs := 0
	for _, d := range sink.Documents() {
		if strings.Contains(string(d), `"function_request_id"`) && strings.Contains(string(d), fmt.Sprintf(`"Chunks":%d`, chunks)) {
			docs++
		}
	}
	if docs != n {
		t.Errorf("%d invocation EMF documents with the handler's metric, want %d", docs, n)
	}
}

// TestLambdaURLPanicIsRecorded: a handler's panic is sent as a faulted
// subsegment with the panic's stack before it is raised again (lambdaurl
// does not recover it, so this runs the inner handler directly).
func TestLambdaURLPanicIsRecorded(t *testing.T) {
	rec := xraytest.NewRecorder()
	k, err := New(WithSegmentExporter(rec), WithServiceName("orders"), WithSamplingRules(always(t)), WithoutMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	h := &lambdaURLHandler{w: newLambdaWrapper(k.config(nil)), next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("stream broke")
	})}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "p1"})
	//nolint:staticcheck // the plain string key aws-lambda-go uses
	ctx = context.WithValue(ctx, "x-amzn-trace-id", "Root="+facadeTrace+";Parent="+facadeParent+";Sampled=1")
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://abc.lambda-url.eu-west-1.on.aws/p", nil)
	func() {
		defer func() {
			if v := recover(); v != "stream broke" {
				t.Errorf("recovered %v, want the handler's panic raised again", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	segs := rec.Segments()
	if len(segs) != 1 || !segs[0].Fault || segs[0].ParentID != facadeParent || !strings.Contains(string(segs[0].Raw), "stream broke") {
		t.Fatalf("segments %v", segs)
	}
}
