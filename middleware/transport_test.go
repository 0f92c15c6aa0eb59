package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// Two services, both wrapped: the caller's Transport hands the trace to
// the callee, whose segment names the caller's subsegment as its parent.
func TestTransportContinuesTraceDownstream(t *testing.T) {
	f := newFixture(t)
	var calleeHeader string
	callee := httptest.NewServer(HTTP(f.opts(t, WithServiceName("payments"))...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calleeHeader = r.Header.Get("X-Amzn-Trace-Id")
		w.WriteHeader(http.StatusTooManyRequests)
	})))
	defer callee.Close()
	client := &http.Client{Transport: Transport(nil, WithSegmentExporter(f.emitter))}
	caller := httptest.NewServer(HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "POST", callee.URL+"/charge?card=secret", strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if req.Header.Get("X-Amzn-Trace-Id") != "" {
			t.Error("Transport changed the caller's request")
		}
	})))
	defer caller.Close()

	req, _ := http.NewRequest("GET", caller.URL, nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1|68fd508a:5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	docs := f.wait(t, 2)
	var callerSeg, calleeSeg xraytest_Segment
	for _, d := range docs {
		if d.Name == "orders" {
			callerSeg = d
		} else {
			calleeSeg = d
		}
	}
	sub, ok := callerSeg.Find(strings.Split(strings.TrimPrefix(callee.URL, "http://"), ":")[0])
	if !ok {
		t.Fatalf("no remote subsegment in %s", pretty(callerSeg))
	}
	if sub.Namespace != "remote" || !sub.HTTP.Request.Traced || sub.HTTP.Request.Method != "POST" || strings.Contains(sub.HTTP.Request.URL, "secret") {
		t.Errorf("remote subsegment %s", pretty(sub))
	}
	if sub.HTTP.Response.Status != 429 || !sub.Throttle || !sub.Error {
		t.Errorf("429 from downstream not recorded as throttle: %s", pretty(sub))
	}
	if calleeSeg.TraceID != callerSeg.TraceID || calleeSeg.ParentID != sub.ID {
		t.Errorf("callee trace %s parent %s; caller trace %s subsegment %s", calleeSeg.TraceID, calleeSeg.ParentID, callerSeg.TraceID, sub.ID)
	}
	if !strings.HasSuffix(calleeHeader, ";Sampled=1;Lineage=a87bd80c:1|68fd508a:5") {
		t.Errorf("Lineage not passed on: %q", calleeHeader)
	}
}

func TestTransportRecordsFailures(t *testing.T) {
	f := newFixture(t)
	client := &http.Client{Transport: Transport(nil, WithSegmentExporter(f.emitter))}
	h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://127.0.0.1:1/unreachable", nil)
		if _, err := client.Do(req); err == nil {
			t.Error("call to a closed port succeeded")
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	seg := f.wait(t, 1)[0]
	sub, ok := seg.Find("127.0.0.1")
	if !ok || !sub.Fault || sub.Cause == nil || !strings.Contains(sub.Cause.Exceptions[0].Message, "refused") {
		t.Fatalf("failed call not recorded as a fault: %s", pretty(seg))
	}
}

func TestTransportWithoutTracePassesThrough(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("X-Amzn-Trace-Id") }))
	defer srv.Close()
	f := newFixture(t)
	resp, err := (&http.Client{Transport: Transport(nil, WithSegmentExporter(f.emitter))}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "" {
		t.Fatalf("header %q added outside any trace", got)
	}
}

// fakeAWS answers DynamoDB (awsJson1.0) and SQS calls, and records the
// trace headers it receives.
type fakeAWS struct {
	headers      []string
	traceparents []string
	throttle     bool
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.headers = append(f.headers, r.Header.Get("X-Amzn-Trace-Id"))
	f.traceparents = append(f.traceparents, r.Header.Get("Traceparent"))
	io.Copy(io.Discard, r.Body)
	target := r.Header.Get("X-Amz-Target")
	w.Header().Set("X-Amzn-RequestId", "REQ-"+strings.ReplaceAll(target, ".", "-"))
	switch {
	case f.throttle:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate of requests exceeds the allowed throughput."})
	case strings.HasPrefix(target, "DynamoDB_20120810.GetItem"):
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		io.WriteString(w, `{"Item":{"id":{"S":"42"}}}`)
	case strings.HasPrefix(target, "AmazonSQS.SendMessage"):
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-RequestId", "REQ-SQS")
		io.WriteString(w, `{"MessageId":"m-1","MD5OfMessageBody":"99914b932bd37a50b983c5e7c90ae93b"}`)
	default:
		w.WriteHeader(404)
	}
}

func TestAWSCallsBecomeSubsegments(t *testing.T) {
	f := newFixture(t)
	backend := &fakeAWS{}
	srv := httptest.NewServer(backend)
	defer srv.Close()
	cfg := aws.Config{
		Region:       "eu-west-1",
		Credentials:  aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) },
	}
	AWS(&cfg, WithSegmentExporter(f.emitter))
	db := dynamodb.NewFromConfig(cfg)
	queue := sqs.NewFromConfig(cfg)

	h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := db.GetItem(r.Context(), &dynamodb.GetItemInput{TableName: aws.String("users"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "42"}}}); err != nil {
			t.Errorf("GetItem: %v", err)
		}
		if _, err := queue.SendMessage(r.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/123456789012/jobs"), MessageBody: aws.String("{}")}); err != nil {
			t.Errorf("SendMessage: %v", err)
		}
		backend.throttle = true
		_, err := db.GetItem(r.Context(), &dynamodb.GetItemInput{TableName: aws.String("users"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "43"}}})
		var te *types.ThrottlingException
		if err == nil || !errors.As(err, &te) && !strings.Contains(err.Error(), "Throttling") {
			t.Errorf("throttled GetItem: %v", err)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	seg := f.wait(t, 1)[0]
	if len(seg.Subsegments) != 3 {
		t.Fatalf("want 3 aws subsegments: %s", pretty(seg))
	}
	get, put, throttled := seg.Subsegments[0], seg.Subsegments[1], seg.Subsegments[2]
	if get.Name != "DynamoDB" || get.Namespace != "aws" || get.AWS["operation"] != "GetItem" || get.AWS["region"] != "eu-west-1" ||
		get.AWS["table_name"] != "users" || get.AWS["request_id"] != "REQ-DynamoDB_20120810-GetItem" || get.HTTP.Response.Status != 200 {
		t.Errorf("GetItem subsegment %s", pretty(get))
	}
	if put.Name != "SQS" || put.AWS["operation"] != "SendMessage" || put.AWS["queue_url"] != srv.URL+"/123456789012/jobs" {
		t.Errorf("SendMessage subsegment %s", pretty(put))
	}
	if !throttled.Throttle || !throttled.Error || throttled.Fault || throttled.Cause == nil || !throttled.Cause.Exceptions[0].Remote {
		t.Errorf("throttled subsegment %s", pretty(throttled))
	}
	for i, h := range backend.headers {
		hdr, err := xray.ParseHeader(h)
		if err != nil || xray.FormatTraceID(hdr.TraceID) != seg.TraceID || hdr.ParentID.String() != seg.Subsegments[i].ID {
			t.Errorf("call %d carried trace header %q", i, h)
		}
		if want := string(xray.AppendTraceparent(nil, hdr.TraceID, hdr.ParentID, true)); backend.traceparents[i] != want {
			t.Errorf("call %d carried traceparent %q, want %q", i, backend.traceparents[i], want)
		}
	}
}

func TestAWSOutsideRequestIsUntraced(t *testing.T) {
	f := newFixture(t)
	backend := &fakeAWS{}
	srv := httptest.NewServer(backend)
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(srv.URL)}
	AWS(&cfg, WithSegmentExporter(f.emitter))
	if _, err := dynamodb.NewFromConfig(cfg).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	_ = f.emitter.ForceFlush(context.Background())
	if docs, _ := f.daemon.Documents(); len(docs) != 0 || backend.headers[0] != "" {
		t.Fatalf("untraced call sent %d documents, header %q", len(docs), backend.headers[0])
	}
}
