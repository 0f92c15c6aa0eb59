package xrayput_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/xray"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/segments"
)

// BenchmarkPutTraceSegments measures a request of 50 load-test documents
// (387 bytes each) with no network (the HTTP client answers at once):
// the SDK's client with AppendSerializer, as the sidecar used it, and
// the direct client, side by side. Both sign and hash the body.
func BenchmarkPutTraceSegments(b *testing.B) {
	b.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	b.Setenv("AWS_REGION", "us-east-1")
	b.Setenv("AWS_CONFIG_FILE", "/dev/null")
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b.Setenv("AWS_ENDPOINT_URL_XRAY", "http://127.0.0.1:1")
	docs := make([]string, segments.MaxBatch)
	for i := range docs {
		docs[i] = loadDoc
	}
	in := &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs}
	hc := &capture{}
	withCapture := func(o *xray.Options) { o.HTTPClient = hc }
	sdk, cfg := sdkClient(b, true, withCapture)
	direct := directClient(b, cfg, withCapture)
	for _, c := range []struct {
		name   string
		client segments.API
	}{{"sdk-append-serializer", sdk}, {"direct", direct}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.client.PutTraceSegments(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			if hc.req == nil || hc.req.ContentLength < int64(len(docs)*len(loadDoc)) {
				b.Fatalf("request body shorter than %d documents", len(docs))
			}
		})
	}
}
