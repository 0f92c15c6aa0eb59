package fakeaws_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

// post signs (with the SDK's signer, as a client would) and sends body.
func post(t *testing.T, s *fakeaws.Server, path, service string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: fakeaws.AccessKeyID, SecretAccessKey: fakeaws.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, fakeaws.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func traceReq(n int, at time.Time) *coltracepb.ExportTraceServiceRequest {
	var spans []*tracepb.Span
	for i := range n {
		spans = append(spans, &tracepb.Span{
			TraceId: bytes.Repeat([]byte{0xab}, 16), SpanId: []byte{1, 2, 3, 4, 5, 6, 7, byte(i)},
			Name: fmt.Sprintf("span-%d", i), StartTimeUnixNano: uint64(at.UnixNano()), EndTimeUnixNano: uint64(at.Add(time.Millisecond).UnixNano()),
		})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "api"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

func protoBody(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var protoHdr = map[string]string{"Content-Type": "application/x-protobuf"}

// TestOTLPTracesEndpoint: protobuf, gzip and JSON bodies are decoded and
// recorded; the IAM action is xray:PutSpans.
func TestOTLPTracesEndpoint(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	now := time.Now()
	resp, body := post(t, s, "/v1/traces", "xray", protoBody(t, traceReq(3, now)), protoHdr)
	if resp.StatusCode != 200 {
		t.Fatalf("protobuf: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, s, "/v1/traces", "xray", gz(protoBody(t, traceReq(2, now))),
		map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
	if resp.StatusCode != 200 {
		t.Fatalf("gzip: %d %s", resp.StatusCode, body)
	}
	js := fmt.Sprintf(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"json","startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, now.UnixNano(), now.UnixNano())
	resp, body = post(t, s, "/v1/traces", "xray", []byte(js), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %s", resp.StatusCode, body)
	}
	got := s.OTLPTraces()
	if len(got) != 3 || s.SpanCount() != 6 {
		t.Fatalf("%d requests, %d spans", len(got), s.SpanCount())
	}
	sp := got[2].ResourceSpans[0].ScopeSpans[0].Spans[0]
	if hex.EncodeToString(sp.TraceId) != "5b8efff798038103d269b633813fc60c" || hex.EncodeToString(sp.SpanId) != "eee19b7ec3c1b174" || sp.Name != "json" {
		t.Fatalf("JSON span decoded as %v", sp)
	}
	if got[1].ResourceSpans[0].ScopeSpans[0].Spans[1].Name != "span-1" {
		t.Fatal("gzip span names lost")
	}
	if a := s.Actions(); !slices.Equal(a, []string{"xray:PutSpans"}) {
		t.Fatalf("Actions() = %v", a)
	}
}

// TestOTLPTraceLimits: each documented limit of X-Ray's OTLP endpoint
// refuses the whole request.
func TestOTLPTraceLimits(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	now := time.Now()
	bigSpan := traceReq(1, now)
	bigSpan.ResourceSpans[0].ScopeSpans[0].Spans[0].Name = strings.Repeat("n", 200_001)
	bigRes := traceReq(1, now)
	bigRes.ResourceSpans[0].Resource.Attributes[0].Value = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("r", 16_001)}}
	gap := traceReq(2, now)
	gap.ResourceSpans[0].ScopeSpans[0].Spans[1].StartTimeUnixNano = uint64(now.Add(-25 * time.Hour).UnixNano())
	huge := traceReq(1, now)
	for range 30 {
		huge.ResourceSpans[0].ScopeSpans[0].Spans = append(huge.ResourceSpans[0].ScopeSpans[0].Spans, bigSpan.ResourceSpans[0].ScopeSpans[0].Spans[0])
	}
	for _, tc := range []struct {
		name   string
		req    *coltracepb.ExportTraceServiceRequest
		status int
	}{
		{"10,000 spans", traceReq(10_000, now), 200},
		{"10,001 spans", traceReq(10_001, now), 400},
		{"span over 200 KB", bigSpan, 400},
		{"resource over 16 KB", bigRes, 400},
		{"15 days old", traceReq(1, now.Add(-15*24*time.Hour)), 400},
		{"13 days old", traceReq(1, now.Add(-13*24*time.Hour)), 200},
		{"3 hours ahead", traceReq(1, now.Add(3*time.Hour)), 400},
		{"25 hours apart", gap, 400},
		{"over 5 MB uncompressed", huge, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.SpanCount()
			resp, body := post(t, s, "/v1/traces", "xray", protoBody(t, tc.req), protoHdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 && s.SpanCount() != before {
				t.Fatal("refused request recorded")
			}
		})
	}
	// A gzip bomb: 9 members of 1 MiB of zeros each, about 9 KB in all.
	bomb := bytes.Repeat(gz(make([]byte, 1<<20)), 9)
	resp, _ := post(t, s, "/v1/traces", "xray", bomb, map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip bomb: %d", resp.StatusCode)
	}
	resp, _ = post(t, s, "/v1/traces", "xray", []byte("x"), map[string]string{"Content-Type": "text/plain"})
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %d", resp.StatusCode)
	}
	resp, _ = post(t, s, "/v1/traces", "xray", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 400 {
		t.Fatalf("non-hex JSON ID: %d", resp.StatusCode)
	}
}

// TestOTLPFaultsAndPartialSuccess: injected throttling is 429 with
// Retry-After; injected rejections come back as partial success.
func TestOTLPFaultsAndPartialSuccess(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	s.Fail(fakeaws.XRay, 1, fakeaws.FaultThrottle)
	resp, _ := post(t, s, "/v1/traces", "xray", protoBody(t, traceReq(1, time.Now())), protoHdr)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("throttle: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.RejectOTLP(fakeaws.XRay, 2)
	resp, body := post(t, s, "/v1/traces", "xray", protoBody(t, traceReq(3, time.Now())), protoHdr)
	var out coltracepb.ExportTraceServiceResponse
	if resp.StatusCode != 200 || proto.Unmarshal(body, &out) != nil || out.GetPartialSuccess().GetRejectedSpans() != 2 {
		t.Fatalf("partial success: %d %v", resp.StatusCode, &out)
	}
	if s.SpanCount() != 1 || s.OTLPTraces()[0].ResourceSpans[0].ScopeSpans[0].Spans[0].Name != "span-2" {
		t.Fatalf("kept %d spans", s.SpanCount())
	}
}

// TestOTLPLogsEndpoint: the log group and stream headers are required and
// recorded; the IAM action is logs:PutLogEvents.
func TestOTLPLogsEndpoint(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{
		LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hello"}}, TraceId: bytes.Repeat([]byte{1}, 16)}},
	}}}}}
	resp, _ := post(t, s, "/v1/logs", "logs", protoBody(t, req), protoHdr)
	if resp.StatusCode != 400 || s.LogRecordCount() != 0 {
		t.Fatalf("no group header: %d", resp.StatusCode)
	}
	resp, body := post(t, s, "/v1/logs", "logs", protoBody(t, req), map[string]string{"Content-Type": "application/x-protobuf",
		"X-Aws-Log-Group": "g", "X-Aws-Log-Stream": "s"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	got := s.OTLPLogs()
	if len(got) != 1 || got[0].LogGroup != "g" || got[0].LogStream != "s" ||
		got[0].Request.ResourceLogs[0].ScopeLogs[0].LogRecords[0].Body.GetStringValue() != "hello" {
		t.Fatalf("recorded %+v", got)
	}
	resp, _ = post(t, s, "/v1/metrics", "monitoring", []byte(`{"resourceMetrics":[]}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 || len(s.OTLPMetrics()) != 1 {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	if a := s.Actions(); !slices.Equal(a, []string{"cloudwatch:PutMetricData", "logs:PutLogEvents"}) {
		t.Fatalf("Actions() = %v", a)
	}
}

// tamper changes a request after the SDK signed it.
type tamper func(*http.Request)

func (f tamper) Do(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultClient.Do(r)
}

// TestTamperedRequestsRefused: the fake recomputes each signature, so a
// request changed after signing (body, a signed header, the target), one
// signed with another secret or for another service is refused 403 and
// counted, and nothing of it is recorded. A request signed as the SDK
// signs it passes.
func TestTamperedRequestsRefused(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	s.SetEnv(t)
	docs := []string{`{"id":"a"}`}
	for _, tc := range []struct {
		name   string
		change tamper
		opts   []func(*config.LoadOptions) error
	}{
		{"body", func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			b = bytes.Replace(b, []byte(`\"a\"`), []byte(`\"b\"`), 1)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}, nil},
		{"signed header", func(r *http.Request) { r.Header.Set("Content-Type", "application/x-amz-json-1.1") }, nil},
		{"query", func(r *http.Request) { r.URL.RawQuery = "x=1" }, nil},
		{"date", func(r *http.Request) {
			r.Header.Set("X-Amz-Date", time.Now().UTC().Add(time.Second).Format("20060102T150405Z"))
		}, nil},
		{"wrong secret", func(*http.Request) {}, []func(*config.LoadOptions) error{config.WithCredentialsProvider(aws.CredentialsProviderFunc(
			func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: fakeaws.AccessKeyID, SecretAccessKey: "not-the-secret"}, nil
			}))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]func(*config.LoadOptions) error{config.WithRetryMaxAttempts(1)}, tc.opts...)
			cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			before := s.BadSignatures()
			_, err = xray.NewFromConfig(cfg, func(o *xray.Options) { o.HTTPClient = tc.change }).PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
			if err == nil || s.BadSignatures() != before+1 || len(s.Segments()) != 0 {
				t.Fatalf("err=%v bad signatures %d→%d segments %d", err, before, s.BadSignatures(), len(s.Segments()))
			}
			if !strings.Contains(err.Error(), "403") {
				t.Errorf("not refused with 403: %v", err)
			}
		})
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xray.NewFromConfig(cfg).PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs}); err != nil {
		t.Fatalf("untouched request refused: %v (%s)", err, s.LastSignatureError())
	}
	// A tampered OTLP body is refused the same way.
	body := protoBody(t, traceReq(1, time.Now()))
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	sum := sha256.Sum256(body)
	_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: fakeaws.AccessKeyID, SecretAccessKey: fakeaws.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "xray", fakeaws.Region, time.Now())
	body[len(body)-1] ^= 1
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || s.SpanCount() != 0 {
		t.Fatalf("tampered OTLP body: %d", resp.StatusCode)
	}
	// Signed for the wrong service.
	resp, _ = post(t, s, "/v1/traces", "logs", protoBody(t, traceReq(1, time.Now())), protoHdr)
	if resp.StatusCode != 403 || !strings.Contains(s.LastSignatureError(), "service") {
		t.Fatalf("wrong service: %d %s", resp.StatusCode, s.LastSignatureError())
	}
}
