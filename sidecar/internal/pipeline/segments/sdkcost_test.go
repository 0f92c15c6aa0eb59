package segments

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
)

// answerAtOnce is an HTTP client that reads the request body and answers
// PutTraceSegments with nothing unprocessed, without a network.
type answerAtOnce struct{ bodyBytes int64 }

func (a *answerAtOnce) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		n, _ := io.Copy(io.Discard, r.Body)
		a.bodyBytes = n
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"UnprocessedTraceSegments":[]}`)), Request: r}, nil
}

// loadDoc is a load-test segment document (387 bytes).
const loadDoc = `{"trace_id":"1-6553f100-000000000000000000000001","id":"0000000000000002","name":"checkout","start_time":1700000000.123,"end_time":1700000000.456,"http":{"request":{"method":"GET","url":"http://checkout.local/cart/42","client_ip":"10.0.0.8"},"response":{"status":200,"content_length":512}},"aws":{"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},"annotations":{"route":"/cart/{id}"}}`

// BenchmarkPutTraceSegmentsSDK measures what the AWS SDK's X-Ray client
// costs per request of 50 load-test documents (387 bytes) with no network: the middleware stack,
// SigV4 (SHA-256 of the body included) and the body, with the SDK's own
// serializer and with AppendSerializer, side by side.
func BenchmarkPutTraceSegmentsSDK(b *testing.B) {
	docs := make([]string, MaxBatch)
	for i := range docs {
		docs[i] = loadDoc
	}
	in := &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs}
	for _, c := range []struct {
		name string
		opts []func(*xray.Options)
	}{{"sdk-serializer", nil}, {"append-serializer", []func(*xray.Options){AppendSerializer}}} {
		b.Run(c.name, func(b *testing.B) {
			hc := &answerAtOnce{}
			client := xray.New(xray.Options{
				Region: "us-east-1", HTTPClient: hc, BaseEndpoint: aws.String("http://127.0.0.1:1"),
				Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}, nil
				})),
			}, c.opts...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.PutTraceSegments(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			if hc.bodyBytes < int64(len(docs[0])*len(docs)) {
				b.Fatalf("request body of %d bytes for %d documents", hc.bodyBytes, len(docs))
			}
		})
	}
}
