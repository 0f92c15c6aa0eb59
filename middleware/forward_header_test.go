package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// A client's trace header padded with thousands of keys must not be passed
// on whole to every service the handler calls: the outgoing header keeps
// the trace, the Lineage and a few other keys, within
// xray.MaxForwardedLength, through both Transport and AWS.
func TestForwardedHeaderIsBounded(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	var in strings.Builder
	in.WriteString("Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5")
	for i := 0; in.Len() < xray.MaxHeaderLength-16; i++ {
		in.WriteString(";key" + strconv.Itoa(i) + "=value")
	}
	hostile := in.String()

	for _, tt := range []struct {
		name, header string
		continued    bool
	}{
		{"padded to the length limit", hostile, true},
		{"longer than the limit", hostile + strings.Repeat(";x=y", 64<<10), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var downstream []string
			plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				downstream = append(downstream, r.Header.Get(xray.HeaderName))
			}))
			defer plain.Close()
			backend := &fakeAWS{}
			awsSrv := httptest.NewServer(backend)
			defer awsSrv.Close()
			cfg := aws.Config{
				Region:       "eu-west-1",
				Credentials:  aws.AnonymousCredentials{},
				BaseEndpoint: aws.String(awsSrv.URL),
				Retryer:      func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) },
			}
			AWS(&cfg, WithSegmentExporter(f.emitter))
			db := dynamodb.NewFromConfig(cfg)
			client := &http.Client{Transport: Transport(nil, WithSegmentExporter(f.emitter))}

			h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequestWithContext(r.Context(), "GET", plain.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if _, err := db.GetItem(r.Context(), &dynamodb.GetItemInput{TableName: aws.String("users"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "42"}}}); err != nil {
					t.Errorf("GetItem: %v", err)
				}
			}))
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set(xray.HeaderName, tt.header)
			h.ServeHTTP(httptest.NewRecorder(), req)

			got := append(downstream, backend.headers...)
			if len(got) != 2 {
				t.Fatalf("%d outgoing calls, want 2", len(got))
			}
			for i, out := range got {
				if len(out) > xray.MaxForwardedLength {
					t.Errorf("call %d carried a %d-byte trace header, limit %d", i, len(out), xray.MaxForwardedLength)
				}
				hdr, err := xray.ParseHeader(out)
				if err != nil {
					t.Fatalf("call %d carried %.200q: %v", i, out, err)
				}
				if same := xray.FormatTraceID(hdr.TraceID) == root; same != tt.continued {
					t.Errorf("call %d: trace %s, continued = %v, want %v", i, xray.FormatTraceID(hdr.TraceID), same, tt.continued)
				}
				if tt.continued && !strings.Contains(hdr.Extra, "Lineage=a87bd80c:1|68fd508a:5") {
					t.Errorf("call %d lost the Lineage: %q", i, out)
				}
			}
		})
	}
}

// The same through Lambda: an event whose trace header (the emulator gives
// no runtime header) is padded with keys is passed on bounded.
func TestLambdaForwardedHeaderIsBounded(t *testing.T) {
	f := newLambdaFixture(t)
	var in strings.Builder
	in.WriteString(eventHeader + ";Lineage=a87bd80c:1")
	for i := 0; in.Len() < xray.MaxHeaderLength-16; i++ {
		in.WriteString(";key" + strconv.Itoa(i) + "=value")
	}
	var got string
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get(xray.HeaderName)
	}))
	defer downstream.Close()
	client := &http.Client{Transport: Transport(nil, f.opts(t)...)}
	h := Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, downstream.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		resp.Body.Close()
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}, f.opts(t)...)
	if _, err := h(invokeCtx(t, "", time.Minute), restEvent("/orders", in.String())); err != nil {
		t.Fatal(err)
	}
	if len(got) > xray.MaxForwardedLength {
		t.Fatalf("downstream got a %d-byte trace header, limit %d", len(got), xray.MaxForwardedLength)
	}
	hdr, err := xray.ParseHeader(got)
	if err != nil || xray.FormatTraceID(hdr.TraceID) != eventTrace || !strings.Contains(hdr.Extra, "Lineage=a87bd80c:1") {
		t.Fatalf("downstream got %.200q (%v)", got, err)
	}
	f.wait(t, 1)
}
