package otlp

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// emptyAttrs is a one-span request with n empty attributes: 2 bytes each
// on the wire, about 125 bytes each once decoded.
func emptyAttrs(n int) *coltracepb.ExportTraceServiceRequest {
	req := traceRequest(1, 0)
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	sp.Attributes = make([]*commonpb.KeyValue, n)
	for i := range sp.Attributes {
		sp.Attributes[i] = &commonpb.KeyValue{}
	}
	return req
}

func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestEstimateCoversDecoding: the estimate held in the budget is at least
// what decoding really allocates, for the worst case (empty attributes),
// SDK-like spans and JSON; and it is computed without allocating.
func TestEstimateCoversDecoding(t *testing.T) {
	d := newDecoder(DefaultRecursionLimit)
	var sb strings.Builder
	sb.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{}`)
	for range 100000 - 1 {
		sb.WriteString(`,{}`)
	}
	sb.WriteString(`]}]}]}]}`)
	for _, tc := range []struct {
		name string
		enc  encoding
		body []byte
	}{
		{"empty attributes", encProto, mustProto(t, emptyAttrs(100000))},
		{"sdk-like spans", encProto, mustProto(t, traceRequest(1000, 10))},
		{"nested maps", encProto, mustProto(t, nestedRequest(30))},
		{"json empty attributes", encJSON, []byte(sb.String())},
		{"json spans", encJSON, []byte(traceJSON)},
		{"json nested", encJSON, nestedJSON(30)},
	} {
		var est int64
		if a := testing.AllocsPerRun(2, func() { est = estimateDecoded(sigTraces, tc.enc, tc.body, DefaultRecursionLimit) }); a != 0 {
			t.Errorf("%s: estimating allocates %v times", tc.name, a)
		}
		got := allocated(func() {
			if _, err := d.decode(sigTraces, tc.enc, tc.body); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: body %d, estimate %d, allocated %d", tc.name, len(tc.body), est, got)
		if uint64(est) < got {
			t.Errorf("%s: estimate %d below the %d bytes decoding allocated", tc.name, est, got)
		}
	}
}

// TestCountMessagesLinear: the protobuf pre-scan counts exactly and visits
// each byte once: 4x the attributes, 4x the messages and bytes.
func TestCountMessagesLinear(t *testing.T) {
	md := newRequest(sigTraces).ProtoReflect().Descriptor()
	count := func(n int) (int64, int) {
		b := mustProto(t, traceRequest(n, 5))
		c, ok := countMessages(b, md, DefaultRecursionLimit)
		if !ok {
			t.Fatal("not ok")
		}
		return c, len(b)
	}
	c1, b1 := count(100)
	c4, b4 := count(400)
	// request, resource spans, scope spans + n × (span + 5 × (KeyValue + AnyValue))
	if c1 != 3+100*11 || c4 != 3+400*11 {
		t.Errorf("counted %d and %d messages, want %d and %d", c1, c4, 3+100*11, 3+400*11)
	}
	if b4 < 4*b1-100 || b4 > 4*b1+100 {
		t.Errorf("bodies %d and %d", b1, b4)
	}
	if _, ok := countMessages(mustProto(t, nestedRequest(10000)), md, DefaultRecursionLimit); ok {
		t.Error("10k-deep request counted as ok")
	}
}

// millionAttrsWire is a one-span trace request with a million empty
// attributes, written directly in the wire format (2 bytes each).
func millionAttrsWire() []byte {
	span := bytes.Repeat([]byte{9<<3 | 2, 0}, 1000000) // Span.attributes: empty KeyValue
	scope := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), span)
	res := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), scope)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), res)
}

// rawCodec sends pre-encoded protobuf over gRPC.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

// TestMillionAttributes: a million empty attributes fit in 2 MB, under
// the 4 MiB size limit, but would take 125 MB decoded: refused (413 over
// HTTP, not retried over gRPC) without decoding, at the cost of reading
// the body.
func TestMillionAttributes(t *testing.T) {
	rec := &recorder{}
	r, counters := start(t, Config{Consumer: rec})
	body := millionAttrsWire()
	if n, _ := countMessages(body, requestDescriptors[sigTraces], DefaultRecursionLimit); n != 1000004 {
		t.Fatalf("body holds %d messages", n)
	}
	if len(body) > DefaultMaxRequestBytes {
		t.Fatalf("body %d over the size limit", len(body))
	}
	client := httpClient(t)
	var code int
	got := allocated(func() {
		resp, err := client.Post("http://"+r.HTTPAddr().String()+PathTraces, mediaProto, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		code = resp.StatusCode
	})
	if code != 413 {
		t.Errorf("HTTP: %d, want 413", code)
	}
	if got > 16<<20 {
		t.Errorf("HTTP: %d bytes allocated for a %d-byte body", got, len(body))
	}
	t.Logf("HTTP: body %d bytes, %d allocated (client and server)", len(body), got)

	conn, err := grpc.NewClient(r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var gerr error
	got = allocated(func() {
		gerr = conn.Invoke(context.Background(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
			&body, new(coltracepb.ExportTraceServiceResponse), grpc.ForceCodecV2(rawCodec{}))
	})
	if st := status.Convert(gerr); st.Code() != codes.Internal || !strings.Contains(st.Message(), "once decoded") {
		t.Errorf("gRPC: %v", gerr)
	}
	if got > 24<<20 {
		t.Errorf("gRPC: %d bytes allocated", got)
	}
	t.Logf("gRPC: %d allocated (client and server)", got)
	if n := counters.Get("otlp.refused.too_large"); n != 2 {
		t.Errorf("otlp.refused.too_large = %d, want 2", n)
	}
	if len(rec.traces) != 0 {
		t.Error("delivered")
	}
}
