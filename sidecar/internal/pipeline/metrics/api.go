package metrics

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// API is the part of the CloudWatch client the pipeline uses;
// *cloudwatch.Client implements it. Implementations must honour ctx.
type API interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var _ API = (*cloudwatch.Client)(nil)
