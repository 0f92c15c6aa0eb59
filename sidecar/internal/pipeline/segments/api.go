package segments

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/xray"
)

// API is the part of the X-Ray client the pipeline uses; *xray.Client
// implements it. Implementations must honour ctx.
type API interface {
	PutTraceSegments(ctx context.Context, in *xray.PutTraceSegmentsInput, opts ...func(*xray.Options)) (*xray.PutTraceSegmentsOutput, error)
}

var _ API = (*xray.Client)(nil)
