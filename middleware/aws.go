package middleware

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// AWS instruments every client made from cfg: each AWS SDK v2 call becomes
// an "aws" subsegment named after the service (DynamoDB, SQS, …) with the
// operation, region, request ID, retries, and the table name or queue URL
// when the call has one; throttling errors are marked as throttles. The
// call carries X-Amzn-Trace-Id, so AWS services that trace join the trace,
// and the same trace as a W3C traceparent (see Transport).
//
//	cfg, _ := config.LoadDefaultConfig(ctx)
//	middleware.AWS(&cfg)
//	db := dynamodb.NewFromConfig(cfg)
//
// It uses the default kit, or the one WithKit names; see [Kit.AWS].
func AWS(cfg *aws.Config, opts ...Option) {
	kitFrom(opts).AWS(cfg, opts...)
}

func instrumentAWS(cfg *aws.Config, c *config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *smithymiddleware.Stack) error {
		if err := stack.Initialize.Add(&awsInitialize{cfg: c}, smithymiddleware.After); err != nil {
			return err
		}
		return stack.Build.Add(awsBuild{}, smithymiddleware.After)
	})
}

type awsCallKey struct{}

type awsInitialize struct{ cfg *config }

func (*awsInitialize) ID() string { return "SidelightXRay" }

func (m *awsInitialize) HandleInitialize(ctx context.Context, in smithymiddleware.InitializeInput, next smithymiddleware.InitializeHandler) (smithymiddleware.InitializeOutput, smithymiddleware.Metadata, error) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		if sc.IsValid() {
			st, _ := stateFrom(ctx)
			ctx = context.WithValue(ctx, awsCallKey{}, outgoingFor(st, sc))
		}
		return next.HandleInitialize(ctx, in)
	}
	st, _ := stateFrom(ctx)
	sub := getSegment()
	sub.ID = xray.NewSpanID()
	sub.Name = awsmiddleware.GetServiceID(ctx)
	sub.Namespace = "aws"
	sub.Start = m.cfg.now()
	sub.HTTP.ContentLength = -1
	hdr := outgoingFor(st, sc)
	hdr.xray.ParentID = sub.ID
	ctx = context.WithValue(ctx, awsCallKey{}, hdr)

	out, md, err := next.HandleInitialize(ctx, in)

	sub.End = m.cfg.now()
	sub.AWS.Operation = awsmiddleware.GetOperationName(ctx)
	sub.AWS.Region = awsmiddleware.GetRegion(ctx)
	sub.AWS.RequestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	if results, ok := retry.GetAttemptResults(md); ok && len(results.Results) > 1 {
		sub.AWS.Retries = len(results.Results) - 1
	}
	sub.AWS.TableName, sub.AWS.QueueURL = resourceNames(in.Parameters)
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
		sub.SetHTTPStatus(raw.StatusCode)
		sub.HTTP.ContentLength = raw.ContentLength
	}
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			code := apiErr.ErrorCode()
			if strings.Contains(code, "Throttl") || code == "RequestLimitExceeded" || code == "TooManyRequestsException" || code == "ProvisionedThroughputExceededException" {
				sub.Error, sub.Throttle = true, true
			}
			if apiErr.ErrorFault() == smithy.FaultServer {
				sub.Fault = true
			} else if !sub.Fault {
				sub.Error = true
			}
		} else if sub.HTTP.Status == 0 {
			sub.Fault = true
		}
		addCause(sub, err, 1)
		if len(sub.Cause.Exceptions) > 0 {
			sub.Cause.Exceptions[0].Remote = apiErr != nil
		}
	}
	attach(ctx, st, sc, sub, m.cfg)
	return out, md, err
}

type awsBuild struct{}

func (awsBuild) ID() string { return "SidelightXRayHeader" }

func (awsBuild) HandleBuild(ctx context.Context, in smithymiddleware.BuildInput, next smithymiddleware.BuildHandler) (smithymiddleware.BuildOutput, smithymiddleware.Metadata, error) {
	if hdr, ok := ctx.Value(awsCallKey{}).(outgoingTrace); ok {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			hdr.set(req.Header)
		}
	}
	return next.HandleBuild(ctx, in)
}

// resourceNames reads the TableName and QueueUrl fields that DynamoDB and
// SQS inputs have. Reflection runs once per AWS call, which costs far less
// than the call itself, and spares the middleware a dependency on every
// service client.
func resourceNames(params any) (table, queue string) {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return "", ""
	}
	v = v.Elem()
	return stringField(v, "TableName"), stringField(v, "QueueUrl")
}

func stringField(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if !f.IsValid() {
		return ""
	}
	if f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String {
		return f.Elem().String()
	}
	if f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}
