package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

const (
	facadeTrace  = "1-5759e988-bd862e3fe1be46a994272793"
	facadeParent = "53995c3f42cd8ad8"
	facadeHeader = "Root=" + facadeTrace + ";Parent=" + facadeParent + ";Sampled=1;Lineage=a87bd80c:1"
	eventTrace   = "1-6a1b2c3d-00112233445566778899aabb"
	eventParent  = "0123456789abcdef"
	eventHeader  = "Root=" + eventTrace + ";Parent=" + eventParent + ";Sampled=1"
)

// invokeCtx is the context aws-lambda-go's invoke loop hands a handler:
// the deadline, the Lambda context and the runtime's trace header under
// its plain string key.
func invokeCtx(t *testing.T, traceHeader string, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-" + t.Name()})
	//nolint:staticcheck // the same plain string key aws-lambda-go uses
	return context.WithValue(ctx, "x-amzn-trace-id", traceHeader)
}

func restEvent(path, traceHeader string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{Path: path, HTTPMethod: "POST", Headers: map[string]string{}}
	if traceHeader != "" {
		ev.Headers["X-Amzn-Trace-Id"] = traceHeader
	}
	ev.RequestContext.DomainName = "abc.execute-api.eu-west-1.amazonaws.com"
	ev.RequestContext.Path = "/prod" + path
	ev.RequestContext.Identity.SourceIP = "203.0.113.9"
	ev.RequestContext.Identity.UserAgent = "test-agent"
	return ev
}

// lambdaFixture adds an EMF sink to the daemon fixture.
type lambdaFixture struct {
	*fixture
	sink *emftest.Sink
}

func newLambdaFixture(t *testing.T) *lambdaFixture {
	return &lambdaFixture{fixture: newFixture(t), sink: emftest.NewSink()}
}

func (f *lambdaFixture) opts(t *testing.T, more ...Option) []Option {
	return f.fixture.opts(t, append([]Option{WithMetricsSink(f.sink), WithMetricsNamespace("Shop")}, more...)...)
}

// emfDocs returns the EMF documents written so far, each checked against
// the EMF schema.
func (f *lambdaFixture) emfDocs(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range f.sink.Documents() {
		if err := schematest.EMF(d); err != nil {
			t.Fatalf("EMF schema: %v\n%s", err, d)
		}
		var m map[string]any
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// invocationDoc returns the per-invocation EMF document (dimension set
// [service]) with the given request ID.
func invocationDoc(t *testing.T, docs []map[string]any, requestID string) map[string]any {
	t.Helper()
	for _, d := range docs {
		if d["function_request_id"] == requestID {
			return d
		}
	}
	t.Fatalf("no EMF document for request %s in %v", requestID, docs)
	return nil
}

func checkSubsegment(t *testing.T, doc xraytest.Segment, trace, parent string) {
	t.Helper()
	if doc.Type != "subsegment" || doc.TraceID != trace || doc.ParentID != parent {
		t.Fatalf("want an independent subsegment of %s/%s, got type %q trace %q parent %q", trace, parent, doc.Type, doc.TraceID, doc.ParentID)
	}
	if doc.Name != "## orders" {
		t.Errorf("name %q, want \"## orders\"", doc.Name)
	}
	if doc.EndTime < doc.StartTime || doc.InProgress {
		t.Errorf("times %v..%v in_progress=%v", doc.StartTime, doc.EndTime, doc.InProgress)
	}
}

func TestLambdaSuccessUnderFacade(t *testing.T) {
	f := newLambdaFixture(t)
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get(xray.HeaderName); !strings.Contains(got, "Root="+facadeTrace) || !strings.Contains(got, "Lineage=a87bd80c:1") {
			t.Errorf("downstream trace header %q", got)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer downstream.Close()
	client := &http.Client{Transport: Transport(nil, f.opts(t)...)}

	h := Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		if err := AddAnnotation(ctx, "order", 42); err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		if err := AddMetric(ctx, "Orders", 2, emf.Count); err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, downstream.URL+"/stock", nil)
		resp, err := client.Do(req)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		resp.Body.Close()
		return events.APIGatewayProxyResponse{StatusCode: 201, Headers: map[string]string{"access-control-allow-origin": "https://shop.example"}}, nil
	}, f.opts(t)...)

	// The runtime's header wins over the event's.
	resp, err := h(invokeCtx(t, facadeHeader, time.Minute), restEvent("/orders", eventHeader))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("handler: %v %v", resp, err)
	}
	doc := f.wait(t, 1)[0]
	checkSubsegment(t, doc, facadeTrace, facadeParent)
	if doc.Fault || doc.Error {
		t.Errorf("fault/error on a 201: %s", doc.Raw)
	}
	if doc.HTTP.Request.Method != "POST" || doc.HTTP.Request.URL != "https://abc.execute-api.eu-west-1.amazonaws.com/prod/orders" ||
		doc.HTTP.Request.ClientIP != "203.0.113.9" || doc.HTTP.Response.Status != 201 {
		t.Errorf("http block: %s", doc.Raw)
	}
	for k, want := range map[string]any{"cold_start": true, "service": "orders", "order": 42.0, "cors_headers": true, "event_source": "api-gateway-rest"} {
		if doc.Annotations[k] != want {
			t.Errorf("annotation %s = %v, want %v", k, doc.Annotations[k], want)
		}
	}
	call, ok := doc.Find("127.0.0.1") // Transport names calls after the host
	if !ok {
		t.Fatalf("want the downstream call as a subsegment: %s", doc.Raw)
	}
	if call.Namespace != "remote" || call.HTTP.Response.Status != 202 {
		t.Errorf("downstream subsegment: %+v", call)
	}

	docs := f.emfDocs(t)
	if len(docs) != 2 {
		t.Fatalf("want the ColdStart and the invocation documents, got %d", len(docs))
	}
	cold := docs[0]
	if cold["ColdStart"] != 1.0 || cold["FunctionName"] == nil || cold["Service"] != "orders" {
		t.Errorf("cold start document: %v", cold)
	}
	inv := invocationDoc(t, docs, "req-"+t.Name())
	if inv["Orders"] != 2.0 || inv["Errors"] != 0.0 || inv["ColdStart"] != 1.0 || inv["Timeout"] != 0.0 || inv["xray_trace_id"] != facadeTrace {
		t.Errorf("invocation document: %v", inv)
	}
	if d, _ := inv["Duration"].(float64); d < 0 {
		t.Errorf("Duration %v", inv["Duration"])
	}
	if ns := inv["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Namespace"]; ns != "Shop" {
		t.Errorf("namespace %v", ns)
	}

	// A second invocation is warm and writes one document.
	f.sink.Reset()
	if _, err := h(invokeCtx(t, facadeHeader, time.Minute), restEvent("/orders", "")); err != nil {
		t.Fatal(err)
	}
	f.daemon.Reset()
	docs = f.emfDocs(t)
	if len(docs) != 1 || docs[0]["ColdStart"] != 0.0 {
		t.Fatalf("warm invocation documents: %v", docs)
	}
}

func TestLambdaEventHeaderFallback(t *testing.T) {
	f := newLambdaFixture(t)
	h := Lambda(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 503}, nil
	}, f.opts(t)...)
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/cart", Headers: map[string]string{"x-amzn-trace-id": eventHeader}}
	ev.RequestContext.DomainName = "xyz.lambda-url.eu-west-1.on.aws"
	ev.RequestContext.HTTP.Method = "GET"
	ev.RequestContext.HTTP.SourceIP = "198.51.100.1"
	// An empty runtime header, as the emulator gives.
	if _, err := h(invokeCtx(t, "", time.Minute), ev); err != nil {
		t.Fatal(err)
	}
	doc := f.wait(t, 1)[0]
	checkSubsegment(t, doc, eventTrace, eventParent)
	if !doc.Fault || doc.HTTP.Response.Status != 503 || doc.Annotations["cors_headers"] != false || doc.Annotations["event_source"] != "function-url" {
		t.Errorf("503 from a function URL: %s", doc.Raw)
	}
}

func TestLambdaReturnedError(t *testing.T) {
	f := newLambdaFixture(t)
	sentinel := &json.UnsupportedValueError{Str: "NaN"}
	h := Lambda(func(ctx context.Context, _ json.RawMessage) (string, error) {
		return "", fmt.Errorf("pay: %w", sentinel)
	}, f.opts(t)...)
	_, err := h(invokeCtx(t, facadeHeader, time.Minute), json.RawMessage(`{"id":1}`))
	if !errors.Is(err, sentinel) {
		t.Fatalf("error not returned unchanged: %v", err)
	}
	doc := f.wait(t, 1)[0]
	checkSubsegment(t, doc, facadeTrace, facadeParent)
	if !doc.Fault || doc.Cause == nil || len(doc.Cause.Exceptions) < 2 {
		t.Fatalf("want a fault with the error chain: %s", doc.Raw)
	}
	ex := doc.Cause.Exceptions
	if ex[0].Type != "*fmt.wrapError" || ex[0].Message != "pay: json: unsupported value: NaN" || ex[1].Type != "*json.UnsupportedValueError" {
		t.Errorf("exceptions: %+v", ex)
	}
	if len(ex[0].Stack) < 2 || !strings.Contains(ex[0].Stack[0].Label, "middleware.Lambda") || !strings.Contains(ex[0].Stack[1].Label, "TestLambdaReturnedError") {
		t.Errorf("stack should start at the wrapper's call of the handler, then its caller: %+v", ex[0].Stack)
	}
	inv := invocationDoc(t, f.emfDocs(t), "req-"+t.Name())
	if inv["Errors"] != 1.0 {
		t.Errorf("Errors = %v", inv["Errors"])
	}
	if doc.HTTP.Request.Method != "" {
		t.Errorf("a non-HTTP event has an http block: %s", doc.Raw)
	}
}

func panickingHandler(context.Context, string) (string, error) {
	var m map[string]int
	m["x"]++
	return "", nil
}

func explicitPanic(context.Context, string) (string, error) { panic("out of stock") }

func TestLambdaPanicStackStartsAtThePanic(t *testing.T) {
	f := newLambdaFixture(t)
	h := Lambda(explicitPanic, f.opts(t)...)
	func() {
		defer func() {
			if v := recover(); v != "out of stock" {
				t.Errorf("recovered %v", v)
			}
		}()
		_, _ = h(invokeCtx(t, facadeHeader, time.Minute), "x")
	}()
	ex := f.wait(t, 1)[0].Cause.Exceptions[0]
	if ex.Type != "string" || ex.Message != "out of stock" || len(ex.Stack) == 0 || !strings.HasSuffix(ex.Stack[0].Label, "middleware.explicitPanic") {
		t.Errorf("exception %+v", ex)
	}
}

func TestLambdaPanicIsRecordedAndRaisedAgain(t *testing.T) {
	f := newLambdaFixture(t)
	h := Lambda(panickingHandler, f.opts(t)...)
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_, _ = h(invokeCtx(t, facadeHeader, time.Minute), "x")
	}()
	if err, ok := recovered.(error); !ok || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("panic not raised again: %v", recovered)
	}
	doc := f.wait(t, 1)[0]
	if !doc.Fault || doc.Cause == nil || len(doc.Cause.Exceptions) == 0 {
		t.Fatalf("want a fault: %s", doc.Raw)
	}
	ex := doc.Cause.Exceptions[0]
	if ex.Type != "runtime.plainError" && !strings.Contains(ex.Type, "runtime.") {
		t.Errorf("type %q", ex.Type)
	}
	if len(ex.Stack) == 0 || !strings.HasSuffix(ex.Stack[0].Label, "middleware.panickingHandler") {
		t.Errorf("stack does not start at the panicking function: %+v", ex.Stack)
	}
	if inv := invocationDoc(t, f.emfDocs(t), "req-"+t.Name()); inv["Errors"] != 1.0 {
		t.Errorf("Errors = %v", inv["Errors"])
	}
}

func TestLambdaTimeoutReportedBeforeDeadline(t *testing.T) {
	f := newLambdaFixture(t)
	release := make(chan struct{})
	returned := make(chan error, 1)
	late := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer late.Close()
	client := &http.Client{Transport: Transport(nil, f.opts(t)...)}
	h := Lambda(func(ctx context.Context, _ string) (string, error) {
		<-release // a handler that ignores its deadline
		err := AddMetric(ctx, "Late", 1, emf.Count)
		returned <- err
		// A call made after the report is sent on its own, under the
		// reported subsegment, before the wrapper returns.
		req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, late.URL, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
		return "late", nil
	}, f.opts(t, WithTimeoutMargin(time.Hour))...) // margin longer than the time left: report halfway
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h(invokeCtx(t, facadeHeader, 200*time.Millisecond), "x")
	}()
	// The report arrives while the handler still runs.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	docs, err := f.daemon.WaitFor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	doc := docs[0]
	if err := schematest.Segment(doc.Raw); err != nil {
		t.Fatalf("schema: %v\n%s", err, doc.Raw)
	}
	checkSubsegment(t, doc, facadeTrace, facadeParent)
	if !doc.Fault || doc.Annotations["timeout"] != true || doc.Cause == nil || doc.Cause.Exceptions[0].Type != "sidelight.Timeout" ||
		!strings.Contains(doc.Cause.Exceptions[0].Message, "about to time out") {
		t.Errorf("timeout subsegment: %s", doc.Raw)
	}
	emfDocs := f.emfDocs(t)
	inv := invocationDoc(t, emfDocs, "req-"+t.Name())
	if inv["Timeout"] != 1.0 || inv["Errors"] != 1.0 {
		t.Errorf("timeout metrics: %v", inv)
	}
	close(release)
	if err := <-returned; !errors.Is(err, ErrInvocationEnded) {
		t.Errorf("AddMetric after the report: %v", err)
	}
	<-done
	// When the handler finally returns, only the late call is sent, as an
	// independent subsegment under the reported one, and flushed before
	// the wrapper returned.
	all, _ := f.daemon.WaitFor(ctx, 2)
	if len(all) != 2 {
		t.Fatalf("%d documents, want the timeout report and the late call", len(all))
	}
	if lateDoc := all[1]; lateDoc.Type != "subsegment" || lateDoc.ParentID != doc.ID || lateDoc.Namespace != "remote" {
		t.Errorf("late call: %s", lateDoc.Raw)
	} else if err := schematest.Segment(lateDoc.Raw); err != nil {
		t.Errorf("schema: %v", err)
	}
	if n := len(f.sink.Documents()); n != len(emfDocs) {
		t.Errorf("EMF documents grew from %d to %d after the report", len(emfDocs), n)
	}
}

func TestLambdaWithoutTraceSendsNoSegment(t *testing.T) {
	for name, header := range map[string]string{
		"none":        "",
		"no parent":   "Root=" + facadeTrace + ";Sampled=1",
		"not sampled": "Root=" + facadeTrace + ";Parent=" + facadeParent + ";Sampled=0",
	} {
		t.Run(name, func(t *testing.T) {
			f := newLambdaFixture(t)
			var outgoing string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { outgoing = r.Header.Get(xray.HeaderName) }))
			defer srv.Close()
			client := &http.Client{Transport: Transport(nil, f.opts(t)...)}
			h := Lambda(func(ctx context.Context, _ string) (string, error) {
				if err := AddAnnotation(ctx, "k", "v"); err != nil {
					return "", err
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					return "", err
				}
				resp.Body.Close()
				return "ok", AddMetric(ctx, "Seen", 1, emf.Count)
			}, f.opts(t)...)
			if _, err := h(invokeCtx(t, header, time.Minute), "x"); err != nil {
				t.Fatal(err)
			}
			if err := f.emitter.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if docs, _ := f.daemon.Documents(); len(docs) != 0 {
				t.Errorf("sent %d documents without a parent to attach to", len(docs))
			}
			if !strings.Contains(outgoing, "Sampled=0") {
				t.Errorf("downstream header %q, want Sampled=0", outgoing)
			}
			if name != "none" && !strings.Contains(outgoing, "Root="+facadeTrace) {
				t.Errorf("downstream header %q does not continue the trace", outgoing)
			}
			inv := invocationDoc(t, f.emfDocs(t), "req-"+t.Name())
			if inv["Seen"] != 1.0 {
				t.Errorf("metrics still written: %v", inv)
			}
			if _, has := inv["xray_trace_id"]; has != (name != "none") {
				t.Errorf("xray_trace_id present=%v for %s", has, name)
			}
		})
	}
}

func TestLambdaHandlerForm(t *testing.T) {
	f := newLambdaFixture(t)
	next := lambda.NewHandler(func(ctx context.Context, ev events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
		if err := AddMetadata(ctx, "path", ev.Path); err != nil {
			return events.ALBTargetGroupResponse{}, err
		}
		return events.ALBTargetGroupResponse{StatusCode: 404, MultiValueHeaders: map[string][]string{"Access-Control-Allow-Origin": {"*"}}}, nil
	})
	h := LambdaHandler(next, f.opts(t)...)
	payload := `{"httpMethod":"GET","path":"/lb","headers":{"host":"lb.example","x-forwarded-for":"192.0.2.7, 10.0.0.1","x-forwarded-proto":"https","x-amzn-trace-id":"` + eventHeader + `"},"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/1"}}}`
	out, err := h.Invoke(invokeCtx(t, "", time.Minute), []byte(payload))
	if err != nil || !strings.Contains(string(out), `"statusCode":404`) {
		t.Fatalf("Invoke: %s %v", out, err)
	}
	doc := f.wait(t, 1)[0]
	checkSubsegment(t, doc, eventTrace, eventParent)
	if !doc.Error || doc.Fault || doc.HTTP.Response.Status != 404 || doc.HTTP.Request.URL != "https://lb.example/lb" ||
		doc.HTTP.Request.ClientIP != "192.0.2.7" || !doc.HTTP.Request.XForwardedFor || doc.Annotations["cors_headers"] != true {
		t.Errorf("ALB invocation: %s", doc.Raw)
	}
	if string(doc.Metadata["default"]["path"]) != `"/lb"` {
		t.Errorf("metadata: %s", doc.Raw)
	}

	// A handler error through the Handler form.
	failing := LambdaHandler(lambda.NewHandler(func() error { return errors.New("nope") }), f.opts(t)...)
	if _, err := failing.Invoke(invokeCtx(t, facadeHeader, time.Minute), []byte(`{}`)); err == nil || err.Error() != "nope" {
		t.Fatalf("error not passed on: %v", err)
	}
	f.daemon.Reset()
}

func TestLambdaConcurrentInvocationsKeepTheirOwnTrace(t *testing.T) {
	f := newLambdaFixture(t)
	h := Lambda(func(ctx context.Context, n int) (int, error) {
		if err := AddMetric(ctx, "Item", float64(n), emf.Count); err != nil {
			return 0, err
		}
		return n, AddAnnotation(ctx, "n", n)
	}, f.opts(t)...)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parent := fmt.Sprintf("%016x", i+1)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: fmt.Sprint("r", i), TenantID: fmt.Sprint("t", i)})
			//nolint:staticcheck
			ctx = context.WithValue(ctx, "x-amzn-trace-id", "Root="+facadeTrace+";Parent="+parent+";Sampled=1")
			if _, err := h(ctx, i); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	docs := f.wait(t, n)
	for _, d := range docs {
		want := fmt.Sprintf("%016x", int(d.Annotations["n"].(float64))+1)
		if d.ParentID != want {
			t.Errorf("invocation %v has parent %s, want %s", d.Annotations["n"], d.ParentID, want)
		}
		if tenant := fmt.Sprint("t", d.Annotations["n"]); d.Annotations["tenant_id"] != tenant {
			t.Errorf("invocation %v has tenant %v, want %s", d.Annotations["n"], d.Annotations["tenant_id"], tenant)
		}
	}
	emfDocs := f.emfDocs(t)
	for i := range n {
		inv := invocationDoc(t, emfDocs, fmt.Sprint("r", i))
		if inv["Item"] != float64(i) || inv["tenant_id"] != fmt.Sprint("t", i) {
			t.Errorf("request r%d has Item %v, tenant_id %v", i, inv["Item"], inv["tenant_id"])
		}
	}
	colds := 0
	for _, d := range docs {
		if d.Annotations["cold_start"] == true {
			colds++
		}
	}
	if colds != 1 {
		t.Errorf("%d cold starts among concurrent invocations, want 1", colds)
	}
}

func TestAddMetricOutsideAnInvocation(t *testing.T) {
	if err := AddMetric(context.Background(), "X", 1, emf.Count); !errors.Is(err, ErrNoInvocation) {
		t.Errorf("got %v", err)
	}
	f := newLambdaFixture(t)
	var kept context.Context
	h := Lambda(func(ctx context.Context, _ string) (string, error) {
		kept = ctx
		if err := AddMetric(ctx, "bad name\x00", 1, emf.Count); !errors.Is(err, emf.ErrInvalidName) {
			t.Errorf("invalid name: %v", err)
		}
		if err := AddMetric(ctx, "X", 1, emf.Unit("Parsecs")); !errors.Is(err, emf.ErrInvalidUnit) {
			t.Errorf("invalid unit: %v", err)
		}
		return "", nil
	}, f.opts(t)...)
	if _, err := h(invokeCtx(t, facadeHeader, time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if err := AddMetric(kept, "X", 1, emf.Count); !errors.Is(err, ErrInvocationEnded) {
		t.Errorf("after the invocation: %v", err)
	}
	f.wait(t, 1)
	off := Lambda(func(ctx context.Context, _ string) (string, error) {
		return "", AddMetric(ctx, "X", 1, emf.Count)
	}, f.opts(t, WithoutMetrics())...)
	f.sink.Reset()
	if _, err := off(invokeCtx(t, "", time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sink.Documents()); n != 0 {
		t.Errorf("WithoutEMF wrote %d documents", n)
	}
}

func TestLambdaAWSCallsBecomeSubsegments(t *testing.T) {
	f := newLambdaFixture(t)
	fake := &fakeAWS{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(srv.URL)}
	AWS(&cfg, f.opts(t)...)
	db := dynamodb.NewFromConfig(cfg)
	h := Lambda(func(ctx context.Context, id string) (string, error) {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: id}}})
		if err != nil {
			return "", err
		}
		return out.Item["id"].(*ddbtypes.AttributeValueMemberS).Value, nil
	}, f.opts(t)...)
	if got, err := h(invokeCtx(t, facadeHeader, time.Minute), "42"); err != nil || got != "42" {
		t.Fatalf("handler: %q %v", got, err)
	}
	doc := f.wait(t, 1)[0]
	call, ok := doc.Find("DynamoDB")
	if !ok {
		t.Fatalf("no DynamoDB subsegment: %s", doc.Raw)
	}
	if call.Namespace != "aws" || call.AWS["operation"] != "GetItem" || call.AWS["table_name"] != "orders" || call.AWS["region"] != "eu-west-1" {
		t.Errorf("DynamoDB subsegment: %+v", call)
	}
	if len(fake.headers) != 1 || !strings.Contains(fake.headers[0], "Root="+facadeTrace) || !strings.Contains(fake.headers[0], "Parent="+call.ID) {
		t.Errorf("DynamoDB got trace headers %q, want the trace with the call's subsegment as parent", fake.headers)
	}
}

func TestLambdaTimeoutMarginOff(t *testing.T) {
	f := newLambdaFixture(t)
	ctx := invokeCtx(t, facadeHeader, 50*time.Millisecond)
	h := Lambda(func(ctx context.Context, _ string) (string, error) {
		<-ctx.Done() // past the deadline: with the report off, nothing went out early
		if docs, _ := f.daemon.Documents(); len(docs) != 0 {
			t.Errorf("%d documents before the handler returned", len(docs))
		}
		return "", ctx.Err()
	}, f.opts(t, WithTimeoutMargin(0))...)
	if _, err := h(ctx, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// The handler returned after its deadline: the wrapper still flushed.
	doc := f.wait(t, 1)[0]
	if doc.Annotations["timeout"] != nil || !doc.Fault || doc.Cause.Exceptions[0].Type != "context.deadlineExceededError" {
		t.Errorf("subsegment: %s", doc.Raw)
	}
	if inv := invocationDoc(t, f.emfDocs(t), "req-"+t.Name()); inv["Timeout"] != 0.0 || inv["Errors"] != 1.0 {
		t.Errorf("EMF: %v", inv)
	}
}

func TestLambdaInvalidNamespaceTurnsMetricsOffAndSaysSo(t *testing.T) {
	f := newLambdaFixture(t)
	var logged strings.Builder
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	h := Lambda(func(ctx context.Context, _ string) (string, error) {
		return "ok", AddMetric(ctx, "X", 1, emf.Count)
	}, f.opts(t, WithMetricsNamespace(strings.Repeat("n", 300)), WithLogger(logger))...)
	if out, err := h(invokeCtx(t, facadeHeader, time.Minute), ""); err != nil || out != "ok" {
		t.Fatalf("handler: %q %v", out, err)
	}
	if n := len(f.sink.Documents()); n != 0 {
		t.Errorf("%d EMF documents with an invalid namespace", n)
	}
	if !strings.Contains(logged.String(), "Lambda metrics are off") {
		t.Errorf("nothing logged: %q", logged.String())
	}
	f.wait(t, 1) // tracing still works
}

// TestLambdaTracedInvocationWakesNoGoroutine: with the UDP emitter, a
// traced invocation sends its subsegment on the handler's own goroutine
// before it returns, so no sender goroutine is woken (or even started)
// per invocation, and the subsegment has reached the daemon's socket
// without a flush handshake.
func TestLambdaTracedInvocationWakesNoGoroutine(t *testing.T) {
	f := newLambdaFixture(t)
	h := Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}, f.opts(t, WithTimeoutMargin(0))...)
	before := goleak.IgnoreCurrent()
	for i := range 3 {
		ctx := invokeCtx(t, facadeHeader, time.Minute)
		if _, err := h(ctx, restEvent("/orders", "")); err != nil {
			t.Fatal(err)
		}
		if err := goleak.Find(before); err != nil {
			t.Fatalf("invocation %d left a goroutine running: %v", i, err)
		}
	}
	if docs := f.wait(t, 3); len(docs) != 3 {
		t.Fatalf("%d documents, want 3", len(docs))
	}
	if st := f.emitter.Stats(); st.Segments != 3 || st.Datagrams != 3 || st.Dropped() != 0 {
		t.Fatalf("emitter stats %+v", st)
	}
}
