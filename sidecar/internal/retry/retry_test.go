package retry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/xray"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
)

// TestClassifyRealErrors classifies errors as the real SDK clients
// produce them from the fake services' wire answers.
func TestClassifyRealErrors(t *testing.T) {
	s := fakeaws.New()
	defer s.Close()
	s.SetEnv(t)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	xr := xray.NewFromConfig(cfg)
	cw := cloudwatch.NewFromConfig(cfg)
	put := func() error {
		_, err := xr.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{"{}"}})
		return err
	}
	putMetric := func() error {
		_, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("n"),
			MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}})
		return err
	}
	for _, tc := range []struct {
		name  string
		svc   fakeaws.Service
		fault fakeaws.Fault
		call  func() error
		retry bool
		want  retry.Reason
	}{
		{"xray 500", fakeaws.XRay, fakeaws.Fault500, put, true, retry.ServerError},
		{"xray 503", fakeaws.XRay, fakeaws.Fault503, put, true, retry.ServerError},
		{"xray throttle", fakeaws.XRay, fakeaws.FaultThrottle, put, true, retry.Throttled},
		{"xray 400", fakeaws.XRay, fakeaws.FaultBadRequest, put, false, retry.ClientError},
		{"cloudwatch throttle", fakeaws.CloudWatch, fakeaws.FaultThrottle, putMetric, true, retry.Throttled},
		{"cloudwatch 500", fakeaws.CloudWatch, fakeaws.Fault500, putMetric, true, retry.ServerError},
		{"cloudwatch 400", fakeaws.CloudWatch, fakeaws.FaultBadRequest, putMetric, false, retry.ClientError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.Fail(tc.svc, 1, tc.fault)
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			if r, why := retry.Classify(err); r != tc.retry || why != tc.want {
				t.Fatalf("Classify(%v) = %v %q, want %v %q", err, r, why, tc.retry, tc.want)
			}
		})
	}
	// Connection refused: retryable network error.
	s.Close()
	if r, why := retry.Classify(put()); !r || why != retry.Network {
		t.Fatalf("closed server: %v %q", r, why)
	}
	if r, why := retry.Classify(fmt.Errorf("x: %w", context.DeadlineExceeded)); !r || why != retry.Timeout {
		t.Fatalf("deadline: %v %q", r, why)
	}
	if r, _ := retry.Classify(errors.New("other")); r {
		t.Fatal("unknown error retryable")
	}
}

func TestBackoff(t *testing.T) {
	b := retry.Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for n, max := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 100 {
			d := b.Delay(n)
			if d < max/2 || d > max {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v]", n, d, max/2, max)
			}
		}
	}
	done := make(chan struct{})
	close(done)
	if retry.Sleep(time.Hour, done) {
		t.Fatal("Sleep ignored done")
	}
}

func ExampleClassify() {
	retryable, reason := retry.Classify(context.DeadlineExceeded)
	fmt.Println(retryable, reason)
	// Output: true timeout
}

func TestEvery(t *testing.T) {
	var e retry.Every
	t0 := time.Unix(100, 0)
	if !e.Allow(t0, time.Second) || e.Allow(t0.Add(500*time.Millisecond), time.Second) || !e.Allow(t0.Add(time.Second), time.Second) {
		t.Fatal("Every lets the wrong events through")
	}
}
