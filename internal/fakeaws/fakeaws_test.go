package fakeaws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	xraytypes "github.com/aws/aws-sdk-go-v2/service/xray/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func loadConfig(t *testing.T, s *fakeaws.Server) aws.Config {
	t.Helper()
	s.SetEnv(t)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestXRayPutTraceSegments(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	cfg := loadConfig(t, s)
	c := xray.NewFromConfig(cfg)
	docs := []string{`{"id":"a"}`, `{"id":"b"}`, `{"id":"c"}`}
	s.UnprocessSegments(1, "ThrottledException")
	out, err := c.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UnprocessedTraceSegments) != 1 || aws.ToString(out.UnprocessedTraceSegments[0].Id) != "a" ||
		aws.ToString(out.UnprocessedTraceSegments[0].ErrorCode) != "ThrottledException" {
		t.Fatalf("unprocessed = %+v", out.UnprocessedTraceSegments)
	}
	if got := s.Segments(); len(got) != 2 || got[0] != docs[1] || got[1] != docs[2] {
		t.Fatalf("recorded %q", got)
	}

	s.Fail(fakeaws.XRay, 1, fakeaws.FaultThrottle)
	_, err = c.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottledException" {
		t.Fatalf("throttle fault gave %v", err)
	}
	if _, err := c.GetSamplingRules(context.Background(), &xray.GetSamplingRulesInput{}); err != nil {
		t.Fatal(err)
	}
	if n := s.Requests("PutTraceSegments"); n != 2 {
		t.Fatalf("requests = %d", n)
	}
}

func TestCloudWatchPutMetricDataCBOR(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	cw := cloudwatch.NewFromConfig(loadConfig(t, s))
	ts := time.Unix(1700000000, 0).UTC()
	var data []cwtypes.MetricDatum
	for i := range 200 { // large enough to be gzipped by the client
		data = append(data, cwtypes.MetricDatum{
			MetricName:        aws.String(fmt.Sprintf("m%d", i)),
			Dimensions:        []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String("api")}},
			Timestamp:         &ts,
			Values:            []float64{1, 2.5},
			Counts:            []float64{3, 1},
			Unit:              cwtypes.StandardUnitMilliseconds,
			StorageResolution: aws.Int32(60),
		})
	}
	_, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"), MetricData: data})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Metrics()
	if len(got) != 1 || got[0].Namespace != "ns" || len(got[0].MetricData) != 200 {
		t.Fatalf("got %+v", got)
	}
	d := got[0].MetricData[7]
	if d.MetricName != "m7" || d.Dimensions[0] != (fakeaws.Dimension{Name: "Service", Value: "api"}) ||
		!d.Timestamp.Equal(ts) || len(d.Values) != 2 || d.Values[1] != 2.5 || d.Counts[0] != 3 || d.Unit != "Milliseconds" {
		t.Fatalf("datum %+v", d)
	}

	s.Fail(fakeaws.CloudWatch, 1, fakeaws.FaultThrottle)
	_, err = cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"), MetricData: data[:1]})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" {
		t.Fatalf("throttle fault gave %v", err)
	}
	// Over the 150 values limit: the fake refuses like CloudWatch.
	big := data[0]
	big.Values, big.Counts = make([]float64, 151), nil
	_, err = cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"), MetricData: []cwtypes.MetricDatum{big}})
	if err == nil || s.Invalid() != 1 {
		t.Fatalf("151 values accepted: err=%v invalid=%d", err, s.Invalid())
	}
}

// TestCloudWatchDimensionRules: one datum breaking the Dimension type's
// documented rules fails the whole request with InvalidParameterValue.
func TestCloudWatchDimensionRules(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	cw := cloudwatch.NewFromConfig(loadConfig(t, s), func(o *cloudwatch.Options) { o.Retryer = aws.NopRetryer{} })
	good := cwtypes.MetricDatum{MetricName: aws.String("m"), Values: []float64{1},
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String("api")}}}
	long := strings.Repeat("x", 1024)
	for _, tc := range []struct {
		name, dimName, value string
		ok                   bool
	}{
		{"valid", "Service", "api", true},
		{"longest", strings.Repeat("n", 255), long, true},
		{"inner spaces", "a b", " c ", true},
		{"non-ASCII value", "user", "José", false},
		{"non-ASCII name", "usér", "x", false},
		{"blank value", "user", " ", false},
		{"blank name", "\t", "x", false},
		{"control character", "user", "a\x01", false},
		{"DEL", "user", "a\x7f", false},
		{"name starts with a colon", ":user", "x", false},
		{"colon inside", "us:er", ":x", true},
		{"name too long", strings.Repeat("n", 256), "x", false},
		{"value too long", "user", long + "x", false},
		{"duplicate name", "Service", "web", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := good
			d.Dimensions = append(slices.Clone(good.Dimensions), cwtypes.Dimension{Name: aws.String(tc.dimName), Value: aws.String(tc.value)})
			if tc.dimName == "Service" && tc.value == "api" {
				d.Dimensions = good.Dimensions
			}
			before := s.Invalid()
			_, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"),
				MetricData: []cwtypes.MetricDatum{good, d}})
			var ae smithy.APIError
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && (!errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" || s.Invalid() != before+1):
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
	for _, ns := range []string{":ns", "nś", "n\x00s"} {
		if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns),
			MetricData: []cwtypes.MetricDatum{good}}); err == nil {
			t.Errorf("namespace %q accepted", ns)
		}
	}
	s.RefuseMetrics(func(d fakeaws.MetricDatum) bool { return d.MetricName == "bad" })
	bad := good
	bad.MetricName = aws.String("bad")
	if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"),
		MetricData: []cwtypes.MetricDatum{good, bad}}); err == nil {
		t.Error("RefuseMetrics rule ignored")
	}
	if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"),
		MetricData: []cwtypes.MetricDatum{good}}); err != nil {
		t.Errorf("good datum refused: %v", err)
	}
}

func TestLogsPutLogEvents(t *testing.T) {
	s := fakeaws.New(fakeaws.WithLogStreamsRequired())
	defer s.Close()
	c := cloudwatchlogs.NewFromConfig(loadConfig(t, s))
	in := &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String("g"), LogStreamName: aws.String("s"),
		LogEvents: []logtypes.InputLogEvent{{Timestamp: aws.Int64(1), Message: aws.String(`{"a":1}`)}},
	}
	_, err := c.PutLogEvents(context.Background(), in)
	var nf *logtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("missing stream gave %v", err)
	}
	if _, err := c.CreateLogStream(context.Background(), &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutLogEvents(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if got := s.LogRequests(); len(got) != 1 || got[0].LogEvents[0].Message != `{"a":1}` {
		t.Fatalf("got %+v", got)
	}
}

func TestUnsignedRejected(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	resp, err := http.Post(s.URL()+"/TraceSegments", "application/json", strings.NewReader(`{"TraceSegmentDocuments":["{}"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || s.Unsigned() != 1 || s.SegmentCount() != 0 {
		t.Fatalf("status %d unsigned %d", resp.StatusCode, s.Unsigned())
	}
}

func TestHangReleasedByClientTimeout(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	c := xray.NewFromConfig(loadConfig(t, s))
	s.Hang(fakeaws.XRay, true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{"{}"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang gave %v", err)
	}
}

func ExampleServer() {
	s := fakeaws.New()
	defer s.Close()
	s.Fail(fakeaws.CloudWatch, 2, fakeaws.Fault503)
	fmt.Println(strings.HasPrefix(s.URL(), "http://127.0.0.1:"), s.Requests("PutMetricData"))
	// Output: true 0
}

// TestActionsNameWhatWasCalled: the IAM action of every signed call made
// with the real SDK clients, and nothing for an unsigned one.
func TestActionsNameWhatWasCalled(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	cfg := loadConfig(t, s)
	ctx := context.Background()
	x := xray.NewFromConfig(cfg)
	if _, err := x.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{`{"id":"a"}`}}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.GetSamplingTargets(ctx, &xray.GetSamplingTargetsInput{SamplingStatisticsDocuments: []xraytypes.SamplingStatisticsDocument{}}); err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.URL()+"/GetSamplingRules", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := []string{"logs:CreateLogStream", "xray:GetSamplingTargets", "xray:PutTraceSegments"}
	if got := s.Actions(); !slices.Equal(got, want) {
		t.Errorf("Actions() = %v, want %v", got, want)
	}
}
