package segments

import (
	"bytes"
	"context"

	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/xrayput"
)

// AppendSerializer is an X-Ray client option that replaces the SDK's
// PutTraceSegments body serializer with one that appends the documents
// into a single buffer (the SDK escapes byte by byte into a bytes.Buffer,
// which was the largest single cost per segment in the load test). It is
// meant for documents that passed xraydoc.Check (see xrayput.AppendDocString);
// anything else is still encoded correctly, only more slowly. The
// request is otherwise the SDK's: same path, headers, SigV4 signing and
// response handling. Other operations keep the SDK serializer.
func AppendSerializer(o *xray.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		orig, ok := stack.Serialize.Get("OperationSerializer")
		if !ok {
			return nil
		}
		_, swapErr := stack.Serialize.Swap("OperationSerializer", appendSerializer{orig: orig})
		return swapErr
	})
}

type appendSerializer struct {
	orig middleware.SerializeMiddleware
}

func (appendSerializer) ID() string { return "OperationSerializer" }

func (s appendSerializer) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (
	middleware.SerializeOutput, middleware.Metadata, error,
) {
	input, ok := in.Parameters.(*xray.PutTraceSegmentsInput)
	req, ok2 := in.Request.(*smithyhttp.Request)
	if !ok || !ok2 {
		return s.orig.HandleSerialize(ctx, in, next)
	}
	req.URL.Path = smithyhttp.JoinPath(req.URL.Path, "/TraceSegments")
	if req.URL.RawPath != "" {
		req.URL.RawPath = smithyhttp.JoinPath(req.URL.RawPath, "/TraceSegments")
	}
	req.Method = "POST"
	req.Header.Set("Content-Type", "application/json")
	// Not pooled: the transport may still read the body after the
	// response arrived.
	b := xrayput.AppendBody(nil, input.TraceSegmentDocuments)
	req, err := req.SetStream(bytes.NewReader(b))
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, err
	}
	in.Request = req
	return next.HandleSerialize(ctx, in)
}
