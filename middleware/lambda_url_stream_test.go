package middleware

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// innermost unwraps a response writer down to the one that does not wrap
// another (lambdaurl's).
func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// TestLambdaURLHeaderChangedAfterWrite: a handler that changes its headers
// after WriteHeader (which, as in net/http, changes nothing sent) changes
// a map of its own: lambdaurl reads its header map on the invocation's
// goroutine while the handler goes on, which was a data race (-race
// reports it). The headers set before are sent, those set after are not,
// and the handler reads back what it set.
func TestLambdaURLHeaderChangedAfterWrite(t *testing.T) {
	k, err := New(WithSegmentExporter(xraytest.NewRecorder()), WithServiceName("orders"), WithSamplingRules(always(t)), WithMetricsSink(emftest.NewSink()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	h := k.LambdaURL(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Before", "sent")
		rw.Header().Add("X-Multi", "a")
		rw.Header().Add("X-Multi", "b")
		// WriteHeader hands the header to lambdaurl and returns at once
		// (a Write would wait for the body's reader, which comes after
		// lambdaurl has read the header).
		rw.WriteHeader(http.StatusOK)
		if reflect.ValueOf(rw.Header()).UnsafePointer() == reflect.ValueOf(innermost(rw).Header()).UnsafePointer() {
			t.Error("the handler writes into lambdaurl's own header map")
		}
		for i := range 200 {
			rw.Header().Set("X-After", strconv.Itoa(i))
			rw.Header()["X-Multi"][0] = "changed" // in place: the copy sent is not
		}
		if got := rw.Header().Get("X-After"); got != "199" {
			t.Errorf("the handler reads back X-After %q, want 199", got)
		}
		_, _ = io.WriteString(rw, "first;")
		rw.Header().Set("X-After-Write", "too late")
		_, _ = io.WriteString(rw, "second")
	}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "hdr"})
	//nolint:staticcheck // the plain string key aws-lambda-go uses
	ctx = context.WithValue(ctx, "x-amzn-trace-id", facadeHeader)
	resp, err := h(ctx, functionURLEvent("/stream", ""))
	if err != nil {
		t.Fatal(err)
	}
	// What the invocation's goroutine reads of the header, while the
	// handler runs.
	before, multi := resp.Headers["X-Before"], resp.Headers["X-Multi"]
	_, after := resp.Headers["X-After"]
	_, afterWrite := resp.Headers["X-After-Write"]
	after = after || afterWrite
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "first;second" || resp.StatusCode != http.StatusOK {
		t.Errorf("status %d body %q", resp.StatusCode, body)
	}
	if before != "sent" || multi != "a,b" || after {
		t.Errorf("headers sent %v: want X-Before and X-Multi as set before the write, no X-After", resp.Headers)
	}
}

// TestLambdaURLTimeoutAfterHeader: when a streamed invocation times out
// after its status and headers went out, the function URL ends the stream
// and the client keeps them (with a truncated body): the timeout report
// records that status and the CORS verdict on those headers, not the
// gateway's 502. Before the header went out, the client gets the 502.
func TestLambdaURLTimeoutAfterHeader(t *testing.T) {
	for _, tc := range []struct {
		name          string
		writeFirst    bool
		verdict, code string
		status        int
		blocked       float64
	}{
		{"header sent", true, "allowed", "", http.StatusOK, 0},
		{"nothing sent", false, "blocked", "missing-allow-origin", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := xraytest.NewRecorder()
			sink := emftest.NewSink()
			k, err := New(WithSegmentExporter(rec), WithServiceName("orders"), WithSamplingRules(always(t)), WithMetricsSink(sink),
				WithTimeoutMargin(time.Hour)) // longer than the time left: reported halfway
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
			release := make(chan struct{})
			h := k.LambdaURL(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				if tc.writeFirst {
					rw.WriteHeader(http.StatusOK)
					_, _ = io.WriteString(rw, "partial")
				}
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-" + t.Name()})
			//nolint:staticcheck // the plain string key aws-lambda-go uses
			ctx = context.WithValue(ctx, "x-amzn-trace-id", facadeHeader)
			done := make(chan error, 1)
			go func() {
				resp, err := h(ctx, corsURLEvent("GET", nil))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
				}
				done <- err
			}()
			deadline := time.Now().Add(10 * time.Second)
			for len(rec.Segments()) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			segs := rec.Segments()
			if len(segs) != 1 {
				t.Fatalf("%d segments, want the timeout report", len(segs))
			}
			seg := segs[0]
			if !seg.Fault || seg.Annotations["timeout"] != true {
				t.Fatalf("not a timeout report: %s", seg.Raw)
			}
			if got, _ := seg.Annotations["cors_verdict"].(string); got != tc.verdict || seg.Annotations["cors_code"] != anyOrNil(tc.code) {
				t.Errorf("cors_verdict %q, cors_code %v; want %q, %q: %s", got, seg.Annotations["cors_code"], tc.verdict, tc.code, seg.Raw)
			}
			if seg.HTTP.Response.Status != tc.status {
				t.Errorf("response status %d, want %d: %s", seg.HTTP.Response.Status, tc.status, seg.Raw)
			}
			docs, err := sink.Decoded()
			if err != nil {
				t.Fatal(err)
			}
			inv := invocationDoc(t, docs, "req-"+t.Name())
			if inv["Timeout"] != 1.0 || inv["CORSBlocked"] != tc.blocked {
				t.Errorf("invocation document %v: want Timeout 1, CORSBlocked %v", inv, tc.blocked)
			}
		})
	}
}
