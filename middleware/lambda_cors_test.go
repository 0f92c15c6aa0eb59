package middleware

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
	"github.com/seed-c77c9410/sidelight/middleware/internal/lambdaevent"
)

const pageOrigin = "https://shop.example"

func corsRESTEvent(origin string) events.APIGatewayProxyRequest {
	ev := restEvent("/orders", eventHeader)
	ev.HTTPMethod = "GET"
	ev.Headers["Host"] = "abc.execute-api.eu-west-1.amazonaws.com"
	if origin != "" {
		ev.Headers["origin"] = origin
	}
	return ev
}

// TestLambdaCORSVerdicts is one table over event kinds, responses and
// failures: the verdict a browser reaches on what the client receives.
func TestLambdaCORSVerdicts(t *testing.T) {
	allow := map[string]string{"Access-Control-Allow-Origin": pageOrigin, "Vary": "Origin"}
	restOK := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: allow}, nil
	}
	restNoHeaders := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	restError := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		// The headers are set, but API Gateway never sees them: the
		// function failed, so the client gets the gateway's 502.
		return events.APIGatewayProxyResponse{StatusCode: 500, Headers: allow}, errors.New("db down")
	}
	restNoStatus := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{Headers: allow}, nil
	}
	restPtr := func(_ context.Context, _ *events.APIGatewayProxyRequest) (*events.APIGatewayProxyResponse, error) {
		return &events.APIGatewayProxyResponse{StatusCode: 201, Headers: map[string]string{"Access-Control-Allow-Origin": "https://other.example"}}, nil
	}
	httpAPI := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		// No statusCode: HTTP APIs answer 200 with the function's headers.
		return events.APIGatewayV2HTTPResponse{Headers: map[string]string{"access-control-allow-origin": "*"}}, nil
	}
	furl := func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		return events.LambdaFunctionURLResponse{StatusCode: 200}, nil
	}
	alb := func(context.Context, events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
		return events.ALBTargetGroupResponse{StatusCode: 200, MultiValueHeaders: map[string][]string{"Access-Control-Allow-Origin": {"*"}}}, nil
	}
	v2Event := events.APIGatewayV2HTTPRequest{Headers: map[string]string{"origin": pageOrigin, "x-amzn-trace-id": eventHeader}}
	v2Event.RequestContext.HTTP.Method = "GET"
	v2Event.RequestContext.DomainName = "api.example"
	urlEvent := events.LambdaFunctionURLRequest{Headers: map[string]string{"origin": pageOrigin, "x-amzn-trace-id": eventHeader}}
	urlEvent.RequestContext.HTTP.Method = "GET"
	urlEvent.RequestContext.DomainName = "abc.lambda-url.eu-west-1.on.aws"
	albEvent := events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/lb", MultiValueHeaders: map[string][]string{"Origin": {pageOrigin}, "X-Amzn-Trace-Id": {eventHeader}}}
	albEvent.RequestContext.ELB.TargetGroupArn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/1"

	type call func(ctx context.Context, f *lambdaFixture, t *testing.T) error
	wrap := func(h func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), origin string) call {
		return func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			_, err := Lambda(h, f.opts(t)...)(ctx, corsRESTEvent(origin))
			return err
		}
	}
	cases := []struct {
		name    string
		call    call
		verdict string // "" when no verdict is recorded
		code    string
		blocked float64
		status  int
	}{
		{"rest allowed", wrap(restOK, pageOrigin), "allowed", "", 0, 200},
		{"rest no allow-origin", wrap(restNoHeaders, pageOrigin), "blocked", "missing-allow-origin", 1, 200},
		{"rest error becomes the gateway 502", wrap(restError, pageOrigin), "blocked", "missing-allow-origin", 1, 0},
		{"rest no statusCode becomes the gateway 502", wrap(restNoStatus, pageOrigin), "blocked", "missing-allow-origin", 1, 0},
		{"rest no origin", wrap(restNoHeaders, ""), "", "", -1, 200},
		{"rest pointers, origin mismatch", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			ev := corsRESTEvent(pageOrigin)
			_, err := Lambda(restPtr, f.opts(t)...)(ctx, &ev)
			return err
		}, "blocked", "origin-mismatch", 1, 201},
		{"http api without status", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			_, err := Lambda(httpAPI, f.opts(t)...)(ctx, v2Event)
			return err
		}, "allowed", "", 0, 0},
		{"function url", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			_, err := Lambda(furl, f.opts(t)...)(ctx, urlEvent)
			return err
		}, "blocked", "missing-allow-origin", 1, 200},
		{"alb multi-value", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			_, err := Lambda(alb, f.opts(t)...)(ctx, albEvent)
			return err
		}, "allowed", "", 0, 200},
		{"verdicts off", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			_, err := Lambda(restNoHeaders, f.opts(t, WithoutCORSVerdicts())...)(ctx, corsRESTEvent(pageOrigin))
			return err
		}, "", "", -1, 200},
		{"handler form error", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			h := LambdaHandler(lambda.NewHandler(func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
				return events.APIGatewayProxyResponse{}, errors.New("boom")
			}), f.opts(t)...)
			_, err := h.Invoke(ctx, []byte(`{"httpMethod":"GET","path":"/x","headers":{"Origin":"`+pageOrigin+`","X-Amzn-Trace-Id":"`+eventHeader+`"},"requestContext":{"domainName":"abc.execute-api.eu-west-1.amazonaws.com","path":"/prod/x"}}`))
			return err
		}, "blocked", "missing-allow-origin", 1, 0},
		{"handler form allowed", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			h := LambdaHandler(lambda.NewHandler(func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
				return events.APIGatewayProxyResponse{StatusCode: 200, Headers: allow}, nil
			}), f.opts(t)...)
			_, err := h.Invoke(ctx, []byte(`{"httpMethod":"GET","path":"/x","headers":{"origin":"`+pageOrigin+`","X-Amzn-Trace-Id":"`+eventHeader+`"},"requestContext":{"domainName":"abc.execute-api.eu-west-1.amazonaws.com","path":"/prod/x"}}`))
			return err
		}, "allowed", "", 0, 200},
		{"handler form http api, not a response object", func(ctx context.Context, f *lambdaFixture, t *testing.T) error {
			h := LambdaHandler(lambda.NewHandler(func(context.Context, events.APIGatewayV2HTTPRequest) (string, error) {
				return "hello", nil
			}), f.opts(t)...)
			_, err := h.Invoke(ctx, []byte(`{"version":"2.0","rawPath":"/x","headers":{"origin":"`+pageOrigin+`","x-amzn-trace-id":"`+eventHeader+`"},"requestContext":{"domainName":"api.example","http":{"method":"GET","path":"/x"}}}`))
			return err
		}, "blocked", "missing-allow-origin", 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newLambdaFixture(t)
			_ = tc.call(invokeCtx(t, "", time.Minute), f, t)
			doc := f.wait(t, 1)[0]
			checkSubsegment(t, doc, eventTrace, eventParent)
			got, _ := doc.Annotations["cors_verdict"].(string)
			if got != tc.verdict {
				t.Fatalf("cors_verdict %q, want %q: %s", got, tc.verdict, doc.Raw)
			}
			if code, _ := doc.Annotations["cors_code"].(string); code != tc.code {
				t.Errorf("cors_code %q, want %q", code, tc.code)
			}
			if tc.verdict != "" && (doc.Annotations["cors_origin"] != pageOrigin || doc.Annotations["cors_preflight"] != false) {
				t.Errorf("annotations: %v", doc.Annotations)
			}
			if tc.verdict == "blocked" && doc.Annotations["cors_reason"] == nil {
				t.Errorf("blocked without a reason: %v", doc.Annotations)
			}
			inv := invocationDoc(t, f.emfDocs(t), "req-"+t.Name())
			if tc.blocked < 0 {
				if _, ok := inv["CORSBlocked"]; ok {
					t.Errorf("CORSBlocked written without a verdict: %v", inv)
				}
				return
			}
			if inv["CORSBlocked"] != tc.blocked {
				t.Errorf("CORSBlocked = %v, want %v", inv["CORSBlocked"], tc.blocked)
			}
			if c, _ := inv["cors_code"].(string); c != tc.code {
				t.Errorf("cors_code property %q, want %q", c, tc.code)
			}
			dims := inv["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)
			if len(dims) != 1 || len(dims[0].([]any)) != 1 || dims[0].([]any)[0] != "Service" {
				t.Errorf("dimensions %v, want [[Service]]", dims)
			}
		})
	}
}

// TestLambdaCORSTimeout: the timeout report carries the verdict on the
// gateway's error answer, since the function will not answer.
func TestLambdaCORSTimeout(t *testing.T) {
	f := newLambdaFixture(t)
	release := make(chan struct{})
	h := Lambda(func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		<-release
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Access-Control-Allow-Origin": "*"}}, nil
	}, f.opts(t, WithTimeoutMargin(time.Hour))...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h(invokeCtx(t, "", 200*time.Millisecond), corsRESTEvent(pageOrigin))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	docs, err := f.daemon.WaitFor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	doc := docs[0]
	close(release)
	<-done
	if doc.Annotations["timeout"] != true || doc.Annotations["cors_verdict"] != "blocked" || doc.Annotations["cors_code"] != "missing-allow-origin" {
		t.Errorf("timeout report: %s", doc.Raw)
	}
	if inv := invocationDoc(t, f.emfDocs(t), "req-"+t.Name()); inv["CORSBlocked"] != 1.0 || inv["Timeout"] != 1.0 {
		t.Errorf("invocation document: %v", inv)
	}
}

// TestLambdaCORSUnsampled: with no segment to annotate, the verdict still
// reaches the EMF document.
func TestLambdaCORSUnsampled(t *testing.T) {
	f := newLambdaFixture(t)
	h := Lambda(func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, errors.New("boom")
	}, f.opts(t)...)
	ev := corsRESTEvent(pageOrigin)
	ev.Headers["X-Amzn-Trace-Id"] = "Root=" + eventTrace + ";Parent=" + eventParent + ";Sampled=0"
	_, _ = h(invokeCtx(t, "", time.Minute), ev)
	inv := invocationDoc(t, f.emfDocs(t), "req-"+t.Name())
	if inv["CORSBlocked"] != 1.0 || inv["cors_code"] != "missing-allow-origin" {
		t.Errorf("invocation document: %v", inv)
	}
	if docs, _ := f.daemon.Documents(); len(docs) != 0 {
		t.Errorf("unsampled invocation sent %d documents", len(docs))
	}
}

type discardSink struct{}

func (discardSink) WriteDocument(context.Context, []byte) error { return nil }
func (discardSink) Flush(context.Context) error                 { return nil }
func (discardSink) Shutdown(context.Context) error              { return nil }

// TestLambdaCORSNoOriginAllocatesNothingMore: the verdict costs no
// allocation when the request has no Origin.
func TestLambdaCORSNoOriginAllocatesNothingMore(t *testing.T) {
	f := newFixture(t)
	ev := corsRESTEvent("")
	ev.Headers["X-Amzn-Trace-Id"] = "Root=" + eventTrace + ";Parent=" + eventParent + ";Sampled=0"
	run := func(opts ...Option) float64 {
		h := Lambda(func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}, append(f.opts(t, WithMetricsSink(discardSink{})), opts...)...)
		ctx := invokeCtx(t, "", time.Hour)
		return testing.AllocsPerRun(100, func() { _, _ = h(ctx, ev) })
	}
	with, without := run(), run(WithoutCORSVerdicts())
	if with > without {
		t.Errorf("no-Origin invocation: %v allocations with verdicts, %v without", with, without)
	}
}

// BenchmarkLambdaCORS measures an unsampled REST API invocation whose
// metrics go nowhere: without Origin, with an allowed Origin, and with a
// failing handler (the verdict on the gateway's 502), against verdicts
// off.
func BenchmarkLambdaCORS(b *testing.B) {
	daemon, err := xraytest.NewDaemon()
	if err != nil {
		b.Fatal(err)
	}
	defer daemon.Close()
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer emitter.Shutdown(context.Background())
	ok := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Access-Control-Allow-Origin": "*"}}, nil
	}
	fail := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, errFailed
	}
	unsampled := "Root=" + eventTrace + ";Parent=" + eventParent + ";Sampled=0"
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, c := range []struct {
		name   string
		origin string
		h      func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)
		opts   []Option
	}{
		{"no-origin", "", ok, nil},
		{"no-origin-verdicts-off", "", ok, []Option{WithoutCORSVerdicts()}},
		{"allowed", pageOrigin, ok, nil},
		{"allowed-verdicts-off", pageOrigin, ok, []Option{WithoutCORSVerdicts()}},
		{"gateway-502", pageOrigin, fail, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			ev := corsRESTEvent(c.origin)
			ev.Headers["X-Amzn-Trace-Id"] = unsampled
			h := Lambda(c.h, append([]Option{WithSegmentExporter(emitter), WithServiceName("orders"), WithoutMetrics(), WithMetricsSink(discardSink{})}, c.opts...)...)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, _ = h(ctx, ev)
			}
		})
	}
}

var errFailed = errors.New("failed")

// FuzzLambdaCORSRaw feeds the raw-JSON path (LambdaHandler) arbitrary
// events and answers: no panic, and a failed invocation is never allowed.
func FuzzLambdaCORSRaw(f *testing.F) {
	f.Add([]byte(`{"httpMethod":"GET","headers":{"Origin":"https://a.example"},"requestContext":{}}`), []byte(`{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"*"}}`), false)
	f.Add([]byte(`{"version":"2.0","headers":{"origin":"https://a.example"},"cookies":["a=b"],"requestContext":{"http":{"method":"PUT"}}}`), []byte(`"hi"`), true)
	f.Add([]byte(`{"multiValueHeaders":{"ORIGIN":["https://a.example","x"]},"requestContext":{"elb":{}}}`), []byte(`{"statusCode":0}`), false)
	f.Fuzz(func(t *testing.T, payload, out []byte, failed bool) {
		for _, kind := range []lambdaevent.Kind{lambdaevent.APIGatewayREST, lambdaevent.APIGatewayHTTP, lambdaevent.ALB, lambdaevent.FunctionURL} {
			r := corsRawRequest(payload, kind)
			if r == nil {
				continue
			}
			e, ok := corsEvent(r, out, failed)
			if !ok {
				t.Fatalf("no event for a raw request and answer %q", out)
			}
			v, ok := defaultCORSChecker.EvaluateEvent(&e)
			if ok && failed && v.Outcome == corscheck.Allowed {
				t.Fatalf("a failed invocation allowed: %+v", v)
			}
		}
	})
}

// defaultCORSChecker is the checker a kit makes when none is given.
var defaultCORSChecker, _ = corscheck.New()
