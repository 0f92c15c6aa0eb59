package middleware

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/middleware/internal/lambdaevent"
)

// FuzzLambdaEventSubsegment reads arbitrary events and responses the way
// the Lambda wrapper does and checks that the subsegment it would send is
// a valid X-Ray document whatever the event holds (invalid UTF-8, quotes,
// control characters, huge values). It encodes the document directly:
// the full path through the emitter is covered by the Lambda tests.
func FuzzLambdaEventSubsegment(f *testing.F) {
	for _, name := range []string{"apigw-rest.json", "apigw-http.json", "function-url.json", "alb.json"} {
		raw, err := os.ReadFile(filepath.Join("internal", "lambdaevent", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, []byte(`{"statusCode":200}`))
	}
	f.Add([]byte(`{"httpMethod":"G\u0000T","path":"/\xff\xfe","requestContext":{"domainName":"a\"b","identity":{"userAgent":"\ud800"}}}`), []byte(`{"statusCode":503,"headers":{"access-control-allow-origin":"*"}}`))
	f.Add([]byte(`{"requestContext":{"elb":{}},"httpMethod":"GET","headers":{"x-forwarded-for":"`+string(make([]byte, 300))+`"}}`), []byte(`{"statusCode":429}`))
	f.Add([]byte(`{"requestContext":{"http":{"method":"GET"}}}`), []byte(`not json`))
	start := time.Unix(1_700_000_000, 0)
	trace, _ := xray.ParseTraceID(facadeTrace)
	parent, _ := xray.ParseSpanID(facadeParent)

	f.Fuzz(func(t *testing.T, event, response []byte) {
		req, ok := lambdaevent.Parse(event)
		if !ok {
			return
		}
		seg := &xray.Segment{Name: "## fuzz", TraceID: trace, ID: xray.NewSpanID(), ParentID: parent, Independent: true, Start: start, End: start.Add(time.Millisecond)}
		setHTTPRequest(seg, &req)
		if resp, ok := lambdaevent.ParseResponse(response); ok {
			setHTTPResponse(seg, &resp)
		}
		doc := xray.AppendDocument(nil, seg)
		if err := schematest.Segment(doc); err != nil {
			t.Fatalf("schema: %v\n%s", err, doc)
		}
	})
}
