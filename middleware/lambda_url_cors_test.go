package middleware

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-lambda-go/lambdaurl"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// corsURLEvent is a function URL request from a page at pageOrigin.
func corsURLEvent(method string, headers map[string]string, cookies ...string) *events.LambdaFunctionURLRequest {
	ev := functionURLEvent("/stream", "")
	ev.RequestContext.HTTP.Method = method
	ev.Headers["origin"] = pageOrigin
	for k, v := range headers {
		ev.Headers[k] = v
	}
	ev.Cookies = cookies
	return ev
}

// streamedVerdict runs one streamed invocation through lambdaurl and
// returns the subsegment's cors_* annotations and the invocation's EMF
// document.
func streamedVerdict(t *testing.T, h http.Handler, ev *events.LambdaFunctionURLRequest) (xraytest.Segment, map[string]any) {
	t.Helper()
	rec := xraytest.NewRecorder()
	sink := emftest.NewSink()
	k, err := New(WithSegmentExporter(rec), WithServiceName("orders"), WithSamplingRules(always(t)), WithMetricsSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-" + t.Name()})
	//nolint:staticcheck // the plain string key aws-lambda-go uses
	ctx = context.WithValue(ctx, "x-amzn-trace-id", facadeHeader)
	resp, err := k.LambdaURL(h)(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	segs := rec.Segments()
	if len(segs) != 1 {
		t.Fatalf("%d segments, want 1", len(segs))
	}
	docs, err := sink.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	return segs[0], invocationDoc(t, docs, "req-"+t.Name())
}

// TestLambdaURLCORSVerdicts: a streamed function URL response gets the
// verdict a browser reaches on the status and headers lambdaurl sends,
// taken when the header is committed, one case per verdict.
func TestLambdaURLCORSVerdicts(t *testing.T) {
	body := func(status int, hdr map[string][]string) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			for k, vs := range hdr {
				for _, v := range vs {
					rw.Header().Add(k, v)
				}
			}
			if status != 0 {
				rw.WriteHeader(status)
			}
			_, _ = io.WriteString(rw, "part one;")
			_, _ = io.WriteString(rw, "part two")
		})
	}
	allow := map[string][]string{"Access-Control-Allow-Origin": {pageOrigin}, "Vary": {"Origin"}}
	cases := []struct {
		name    string
		h       http.Handler
		ev      *events.LambdaFunctionURLRequest
		verdict string
		code    string
		status  int
	}{
		{"allowed", body(0, allow), corsURLEvent("GET", nil), "allowed", "", 200},
		{"allowed, wrote nothing", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Access-Control-Allow-Origin", "*")
		}), corsURLEvent("GET", nil), "allowed", "", 200},
		{"missing allow-origin", body(http.StatusCreated, nil), corsURLEvent("GET", nil), "blocked", "missing-allow-origin", 201},
		{"allow-origin set after the header went out", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(rw, "first chunk")
			rw.Header().Set("Access-Control-Allow-Origin", pageOrigin) // too late: never sent
		}), corsURLEvent("GET", nil), "blocked", "missing-allow-origin", 200},
		{"origin mismatch", body(0, map[string][]string{"Access-Control-Allow-Origin": {"https://other.example"}}), corsURLEvent("GET", nil), "blocked", "origin-mismatch", 200},
		{"two allow-origin values, joined by lambdaurl", body(0, map[string][]string{"Access-Control-Allow-Origin": {pageOrigin, "https://other.example"}}),
			corsURLEvent("GET", nil), "blocked", "multiple-allow-origin", 200},
		{"wildcard with credentials", body(0, map[string][]string{"Access-Control-Allow-Origin": {"*"}}),
			corsURLEvent("GET", nil, "session=1"), "blocked", "wildcard-with-credentials", 200},
		{"credentials not allowed", body(0, allow), corsURLEvent("GET", nil, "session=1"), "blocked", "credentials-not-allowed", 200},
		{"preflight allowed", body(http.StatusNoContent, map[string][]string{"Access-Control-Allow-Origin": {pageOrigin}, "Access-Control-Allow-Methods": {"PUT"}}),
			corsURLEvent("OPTIONS", map[string]string{"access-control-request-method": "PUT"}), "allowed", "", 204},
		{"preflight method not allowed", body(http.StatusNoContent, map[string][]string{"Access-Control-Allow-Origin": {pageOrigin}, "Access-Control-Allow-Methods": {"GET"}}),
			corsURLEvent("OPTIONS", map[string]string{"access-control-request-method": "PUT"}), "blocked", "method-not-allowed", 204},
		{"preflight status", body(http.StatusNotFound, allow),
			corsURLEvent("OPTIONS", map[string]string{"access-control-request-method": "PUT"}), "blocked", "preflight-status", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seg, inv := streamedVerdict(t, tc.h, tc.ev)
			got, _ := seg.Annotations["cors_verdict"].(string)
			code, _ := seg.Annotations["cors_code"].(string)
			if got != tc.verdict || code != tc.code {
				t.Fatalf("cors_verdict %q, cors_code %q; want %q, %q: %s", got, code, tc.verdict, tc.code, seg.Raw)
			}
			if seg.Annotations["cors_origin"] != pageOrigin || seg.HTTP.Response.Status != tc.status {
				t.Errorf("annotations %v, status %d (want %d)", seg.Annotations, seg.HTTP.Response.Status, tc.status)
			}
			want := 0.0
			if tc.verdict == "blocked" {
				want = 1
			}
			if inv["CORSBlocked"] != want {
				t.Errorf("CORSBlocked = %v, want %v", inv["CORSBlocked"], want)
			}
			if c, _ := inv["cors_code"].(string); c != tc.code {
				t.Errorf("cors_code property %q, want %q", c, tc.code)
			}
		})
	}
}

// TestLambdaURLCORSNoOrigin: without Origin no verdict is recorded and the
// header is not kept for one.
func TestLambdaURLCORSNoOrigin(t *testing.T) {
	ev := functionURLEvent("/stream", "")
	seg, inv := streamedVerdict(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if sw, ok := rw.(*responseWriter).ResponseWriter.(*streamWriter); !ok || sw.keep {
			t.Error("the header is kept for a verdict on a request without Origin")
		}
		_, _ = io.WriteString(rw, "x")
	}), ev)
	if seg.Annotations["cors_verdict"] != nil {
		t.Errorf("verdict without Origin: %v", seg.Annotations)
	}
	if _, ok := inv["CORSBlocked"]; ok {
		t.Errorf("CORSBlocked without Origin: %v", inv)
	}
}

// TestLambdaURLCORSPanic: a handler that panics before writing leaves the
// client the function URL's 502 (blocked, no allow-origin); one that
// panics after its header went out leaves the client that header.
func TestLambdaURLCORSPanic(t *testing.T) {
	// A request context carrying the event, as lambdaurl makes it: the
	// panic is raised again, so the inner handler is run directly
	// (lambdaurl would not recover it).
	var reqCtx context.Context
	capture := lambdaurl.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { reqCtx = r.Context() }))
	base := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "p"})
	//nolint:staticcheck // the plain string key aws-lambda-go uses
	base = context.WithValue(base, "x-amzn-trace-id", facadeHeader)
	resp, err := capture(base, corsURLEvent("GET", nil))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)

	for _, tc := range []struct {
		name          string
		write         bool
		verdict, code string
	}{
		{"before writing", false, "blocked", "missing-allow-origin"},
		{"after the header", true, "allowed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := xraytest.NewRecorder()
			k, err := New(WithSegmentExporter(rec), WithServiceName("orders"), WithSamplingRules(always(t)), WithoutMetrics())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
			h := &lambdaURLHandler{w: newLambdaWrapper(k.config(nil)), next: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
				rw.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				if tc.write {
					rw.WriteHeader(http.StatusOK)
				}
				panic("stream broke")
			})}
			req, _ := http.NewRequestWithContext(reqCtx, "GET", "https://abc.lambda-url.eu-west-1.on.aws/stream", nil)
			func() {
				defer func() { _ = recover() }()
				h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			}()
			segs := rec.Segments()
			if len(segs) != 1 || !segs[0].Fault {
				t.Fatalf("segments %v", segs)
			}
			if got, _ := segs[0].Annotations["cors_verdict"].(string); got != tc.verdict || segs[0].Annotations["cors_code"] != anyOrNil(tc.code) {
				t.Errorf("annotations %v, want verdict %q code %q", segs[0].Annotations, tc.verdict, tc.code)
			}
		})
	}
}

func anyOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}
