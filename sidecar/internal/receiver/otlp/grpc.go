package otlp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed calls
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func (r *Receiver) newGRPCServer() *grpc.Server {
	s := grpc.NewServer(
		// Applies to the decompressed message too: grpc-go refuses a
		// larger one with RESOURCE_EXHAUSTED (without RetryInfo, so
		// clients do not retry it).
		grpc.MaxRecvMsgSize(int(r.cfg.MaxRequestBytes)),
		grpc.ForceServerCodecV2(&protoCodec{
			opts:      proto.UnmarshalOptions{RecursionLimit: r.cfg.RecursionLimit},
			maxMemory: r.cfg.DecodeMemory,
			admit:     r.cfg.AdmitTraces,
			estimates: &r.estimates,
			requests:  r.requests["grpc"],
			malformed: r.refused[ReasonMalformed],
			tooLarge:  r.refused[ReasonTooLarge],
		}),
		grpc.WaitForHandlers(true), // Stop and GracefulStop wait for handlers
	)
	coltracepb.RegisterTraceServiceServer(s, traceService{r: r})
	colmetricpb.RegisterMetricsServiceServer(s, metricsService{r: r})
	collogspb.RegisterLogsServiceServer(s, logsService{r: r})
	return s
}

// protoCodec is gRPC's protobuf codec with the receiver's recursion limit.
// Before decoding it estimates the decoded size (estimateDecoded): over
// DecodeMemory the message is not decoded at all; otherwise the estimate
// is left in estimates, keyed by the request, for the handler to hold in
// the budget. It counts the requests it decodes and those it cannot.
// (grpc-go answers a decoding error with INTERNAL, which OTLP clients do
// not retry.) Unmarshalled messages do not alias the (pooled) input
// buffers.
type protoCodec struct {
	opts                          proto.UnmarshalOptions
	maxMemory                     int64
	admit                         func(wireBytes int64) bool // Config.AdmitTraces
	estimates                     *sync.Map                  // proto.Message -> int64
	requests, malformed, tooLarge *atomic.Uint64
}

func (*protoCodec) Name() string { return "proto" }

func (*protoCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("otlp receiver: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (c *protoCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("otlp receiver: cannot unmarshal into %T", v)
	}
	c.requests.Add(1)
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	n, _ := countMessages(b, m.ProtoReflect().Descriptor(), c.opts.RecursionLimit)
	est := int64(len(b)) + decodedMessageCost*n
	if est > c.maxMemory {
		c.tooLarge.Add(1)
		return fmt.Errorf("request would take about %d bytes once decoded, over the receiver's %d", est, c.maxMemory)
	}
	if _, traces := m.(*coltracepb.ExportTraceServiceRequest); traces && c.admit != nil && !c.admit(int64(len(b))) {
		// Not decoded: the handler refuses the empty request as
		// retryable (a codec error would be INTERNAL, not retried).
		c.estimates.Store(m, notAdmitted)
		return nil
	}
	if err := c.opts.Unmarshal(b, m); err != nil {
		c.malformed.Add(1)
		return err
	}
	c.estimates.Store(m, est)
	return nil
}

// notAdmitted marks, in protoCodec.estimates, a request the codec left
// undecoded because Config.AdmitTraces refused it.
const notAdmitted = int64(-1)

// export runs one gRPC export call: reserve decode memory for the
// decoded request, deliver it and turn a refusal into a status.
func (r *Receiver) export(ctx context.Context, s signal, req proto.Message) (rejected int64, msg string, err error) {
	// grpc-go has already read and decoded the message; holding its
	// estimated decoded size in the budget until the Consumer returns
	// bounds how many decoded requests sit in memory at once, as for HTTP.
	var size int64
	if v, ok := r.estimates.LoadAndDelete(req); ok {
		size = v.(int64)
		if size == notAdmitted {
			r.refused[ReasonBudgetFull].Add(1)
			return 0, "", r.retryStatus(codes.ResourceExhausted, ErrBudgetFull.Error())
		}
	} else {
		size = int64(proto.Size(req))
	}
	if !r.budget.TryReserve(size) {
		r.refused[r.noMemory].Add(1)
		return 0, "", r.retryStatus(codes.ResourceExhausted, errNoMemory.Error())
	}
	defer r.budget.Release(size)
	rejected, msg, refused, out, _ := r.deliver(ctx, s, req)
	if !refused {
		return rejected, msg, nil
	}
	switch out {
	case outOverloaded:
		return 0, "", r.retryStatus(codes.ResourceExhausted, msg)
	case outUnavailable:
		return 0, "", r.retryStatus(codes.Unavailable, msg)
	default:
		st, derr := status.New(codes.InvalidArgument, msg).WithDetails(&errdetails.BadRequest{})
		if derr != nil {
			return 0, "", status.Error(codes.InvalidArgument, msg)
		}
		return 0, "", st.Err()
	}
}

// retryStatus is a retryable status carrying RetryInfo (which makes
// RESOURCE_EXHAUSTED retryable under OTLP).
func (r *Receiver) retryStatus(c codes.Code, msg string) error {
	st, err := status.New(c, msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.cfg.RetryAfter)})
	if err != nil {
		return status.Error(codes.Unavailable, msg) // retryable without details
	}
	return st.Err()
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	r *Receiver
}

func (t traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	rejected, msg, err := t.r.export(ctx, sigTraces, req)
	if err != nil {
		return nil, err
	}
	return exportResponse(sigTraces, rejected, msg).(*coltracepb.ExportTraceServiceResponse), nil
}

type metricsService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	r *Receiver
}

func (m metricsService) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	rejected, msg, err := m.r.export(ctx, sigMetrics, req)
	if err != nil {
		return nil, err
	}
	return exportResponse(sigMetrics, rejected, msg).(*colmetricpb.ExportMetricsServiceResponse), nil
}

type logsService struct {
	collogspb.UnimplementedLogsServiceServer
	r *Receiver
}

func (l logsService) Export(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	rejected, msg, err := l.r.export(ctx, sigLogs, req)
	if err != nil {
		return nil, err
	}
	return exportResponse(sigLogs, rejected, msg).(*collogspb.ExportLogsServiceResponse), nil
}
