package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
)

// traceJSON is an OTLP/JSON trace request written by hand from the
// specification's rules: lowerCamelCase keys, hex IDs in either case,
// enums as numbers or names, 64-bit integers as strings or numbers,
// bytes as base64, an unknown field to ignore.
const traceJSON = `{
 "resourceSpans": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
  "scopeSpans": [{
   "scope": {"name": "manual", "version": "1.0.0"},
   "spans": [{
     "traceId": "5B8EFFF798038103D269B633813FC60C",
     "spanId": "eee19b7ec3c1b174",
     "parentSpanId": "EEE19B7EC3C1B173",
     "name": "GET /cart",
     "kind": 2,
     "startTimeUnixNano": "1544712660000000000",
     "endTimeUnixNano": 1544712661000000000,
     "attributes": [
      {"key": "http.response.status_code", "value": {"intValue": "200"}},
      {"key": "ok", "value": {"boolValue": true}},
      {"key": "ratio", "value": {"doubleValue": 0.5}},
      {"key": "blob", "value": {"bytesValue": "AAEC"}},
      {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 7}]}}},
      {"key": "map", "value": {"kvlistValue": {"values": [{"key": "inner", "value": {"stringValue": "v"}}]}}}
     ],
     "events": [{"timeUnixNano": "1544712660500000000", "name": "retry"}],
     "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "0000000000000001"}],
     "status": {"code": 2, "message": "boom"},
     "someFutureField": {"x": 1}
    }, {
     "traceId": "5B8EFFF798038103D269B633813FC60C",
     "spanId": "EEE19B7EC3C1B175",
     "name": "db",
     "kind": "SPAN_KIND_CLIENT",
     "status": {"code": "STATUS_CODE_OK"}
    }]
  }]
 }]
}`

// traceProto is traceJSON built as protobuf.
func traceProto() *coltracepb.ExportTraceServiceRequest {
	tid := []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	tid2 := append(append([]byte(nil), tid[:15]...), 0x0d)
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", "checkout")}},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "manual", Version: "1.0.0"},
			Spans: []*tracepb.Span{{
				TraceId:           tid,
				SpanId:            []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74},
				ParentSpanId:      []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73},
				Name:              "GET /cart",
				Kind:              tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: 1544712660000000000,
				EndTimeUnixNano:   1544712661000000000,
				Attributes: []*commonpb.KeyValue{
					{Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}},
					{Key: "ok", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}},
					{Key: "ratio", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.5}}},
					{Key: "blob", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}}},
					{Key: "list", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
						{Value: &commonpb.AnyValue_StringValue{StringValue: "a"}}, {Value: &commonpb.AnyValue_IntValue{IntValue: 7}}}}}}},
					{Key: "map", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{strAttr("inner", "v")}}}}},
				},
				Events: []*tracepb.Span_Event{{TimeUnixNano: 1544712660500000000, Name: "retry"}},
				Links:  []*tracepb.Span_Link{{TraceId: tid2, SpanId: []byte{0, 0, 0, 0, 0, 0, 0, 1}}},
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"},
			}, {
				TraceId: tid,
				SpanId:  []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x75},
				Name:    "db",
				Kind:    tracepb.Span_SPAN_KIND_CLIENT,
				Status:  &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
			}},
		}},
	}}}
}

// TestJSONMatchesProto: the hand-written OTLP/JSON request and the same
// request as protobuf decode to equal messages, over HTTP end to end.
func TestJSONMatchesProto(t *testing.T) {
	rec := &recorder{}
	r, _ := start(t, Config{GRPCAddr: "off", Consumer: rec})
	post := func(ctype string, body []byte) {
		t.Helper()
		resp, err := httpClient(t).Post("http://"+r.HTTPAddr().String()+PathTraces, ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", ctype, resp.StatusCode, b)
		}
	}
	post(mediaJSON, []byte(traceJSON))
	post(mediaProto, mustProto(t, traceProto()))
	if len(rec.traces) != 2 {
		t.Fatalf("%d requests", len(rec.traces))
	}
	if !proto.Equal(rec.traces[0], rec.traces[1]) || !proto.Equal(rec.traces[1], traceProto()) {
		t.Errorf("JSON decoded as\n%v\nprotobuf as\n%v", rec.traces[0], rec.traces[1])
	}
}

// TestJSONIDsInLogsAndExemplars: hex IDs are fixed up wherever OTLP has
// them, not only in spans.
func TestJSONIDsInLogsAndExemplars(t *testing.T) {
	d := newDecoder(DefaultRecursionLimit)
	m, err := d.decode(sigLogs, encJSON, []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","severityNumber":13,"body":{"stringValue":"hi"}}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{
		TraceId: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8},
		SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hi"}},
	}}}}}}}
	if !proto.Equal(m, want) {
		t.Errorf("logs: %v", m)
	}
	m, err = d.decode(sigMetrics, encJSON, []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"c","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"5","exemplars":[{"asInt":"5","traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"0102030405060708"}]}]}}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ex := m.(*colmetricpb.ExportMetricsServiceRequest).GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics()[0].GetSum().GetDataPoints()[0].GetExemplars()[0]
	if !bytes.Equal(ex.GetTraceId(), want.ResourceLogs[0].ScopeLogs[0].LogRecords[0].TraceId) || !bytes.Equal(ex.GetSpanId(), []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("exemplar IDs %x %x", ex.GetTraceId(), ex.GetSpanId())
	}
	_ = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	for _, bad := range []string{
		`"traceId":"5B8EFFF798038103D269B633813FC6"`,     // 30 digits
		`"traceId":"5B8EFFF798038103D269B633813FC60C00"`, // 34 digits
		`"traceId":"ZZ8EFFF798038103D269B633813FC60C"`,   // not hex
		`"traceId":"W47/95gDgQPSabYzgT/GDA=="`,           // base64
		`"spanId":"5B8EFFF798038103D269B633813FC60C"`,    // trace-sized span ID
		`"spanId":"eee19b7e-3c1b174"`,                    // URL-safe base64 alphabet
		`"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"xyz"`,
	} {
		body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{` + bad + `}]}]}]}`
		if _, err := d.decode(sigTraces, encJSON, []byte(body)); err == nil {
			t.Errorf("%s: decoded without error", bad)
		}
	}
}

// nestedKVList is an attribute value nested depth maps deep.
func nestedKVList(depth int) *commonpb.AnyValue {
	v := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "leaf"}}
	for range depth {
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
			Values: []*commonpb.KeyValue{{Key: "k", Value: v}}}}}
	}
	return v
}

func nestedJSON(depth int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x","attributes":[{"key":"a","value":`)
	for range depth {
		b.WriteString(`{"kvlistValue":{"values":[{"key":"k","value":`)
	}
	b.WriteString(`{"stringValue":"leaf"}`)
	for range depth {
		b.WriteString(`}]}}`)
	}
	b.WriteString(`}]}]}]}]}`)
	return []byte(b.String())
}

func nestedRequest(depth int) *coltracepb.ExportTraceServiceRequest {
	req := traceRequest(1, 0)
	req.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes = []*commonpb.KeyValue{{Key: "a", Value: nestedKVList(depth)}}
	return req
}

// TestDeepNestingRefused: an attribute nested 10,000 maps deep is refused
// by the recursion limit on HTTP (protobuf and JSON) and gRPC, while 30
// levels pass.
func TestDeepNestingRefused(t *testing.T) {
	rec := &recorder{}
	r, counters := start(t, Config{Consumer: rec})
	post := func(ctype string, body []byte) int {
		resp, err := httpClient(t).Post("http://"+r.HTTPAddr().String()+PathTraces, ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	deep := mustProto(t, nestedRequest(10000))
	if code := post(mediaProto, deep); code != 400 {
		t.Errorf("protobuf 10k deep: %d, want 400", code)
	}
	if code := post(mediaJSON, nestedJSON(10000)); code != 400 {
		t.Errorf("JSON 10k deep: %d, want 400", code)
	}
	if code := post(mediaProto, mustProto(t, nestedRequest(30))); code != 200 {
		t.Errorf("protobuf 30 deep: %d, want 200", code)
	}
	if code := post(mediaJSON, nestedJSON(30)); code != 200 {
		t.Errorf("JSON 30 deep: %d, want 200", code)
	}
	conn, err := grpc.NewClient(r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = coltracepb.NewTraceServiceClient(conn).Export(context.Background(), nestedRequest(10000))
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "recursion") {
		t.Errorf("gRPC 10k deep: %v, want INTERNAL (unmarshalling) with the recursion limit", err)
	}
	if got := counters.Get("otlp.refused.malformed"); got != 3 {
		t.Errorf("otlp.refused.malformed = %d, want 3", got)
	}
	if len(rec.traces) != 2 {
		t.Errorf("%d requests delivered, want the 2 shallow ones", len(rec.traces))
	}
}

// TestGRPCTooLarge: a message over MaxRequestBytes, plain or gzip, is
// refused with RESOURCE_EXHAUSTED and no RetryInfo (not retried).
func TestGRPCTooLarge(t *testing.T) {
	rec := &recorder{}
	r, _ := start(t, Config{HTTPAddr: "off", MaxRequestBytes: 4096, Consumer: rec})
	conn, err := grpc.NewClient(r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	big := traceRequest(1, 0)
	big.ResourceSpans[0].ScopeSpans[0].Spans[0].Name = strings.Repeat("x", 100000) // 100 KB, compresses to ~100 B
	for _, opts := range [][]grpc.CallOption{nil, {grpc.UseCompressor("gzip")}} {
		_, err := client.Export(context.Background(), big, opts...)
		st := status.Convert(err)
		if st.Code() != codes.ResourceExhausted || len(st.Details()) != 0 {
			t.Errorf("opts %v: %v (details %v), want RESOURCE_EXHAUSTED without RetryInfo", opts, err, st.Details())
		}
	}
	if len(rec.traces) != 0 {
		t.Error("delivered")
	}
}

// gzipBomb is n MiB of zero bytes, gzipped (about 1 KB per MiB): n
// copies of one gzip member holding 1 MiB of zeros, which gzip readers
// decompress as one stream.
func gzipBomb(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return bytes.Repeat(buf.Bytes(), n)
}

// countingReader counts bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestGzipBomb: 64 MiB of zeros in about 64 KB of gzip are refused
// after at most limit+1 decompressed bytes, with at most two buffers of
// that size reserved, and answered 413 over HTTP.
func TestGzipBomb(t *testing.T) {
	const inflated = 64 << 20
	const limit = 1 << 20
	bomb := gzipBomb(t, inflated>>20)
	budget := queue.NewBudget(64 << 20)
	src := &countingReader{r: bytes.NewReader(bomb)}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	body, held, pulled, err := readBounded(src, true, 0, limit, budget, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errTooLarge) || body != nil {
		t.Fatalf("err %v, want errTooLarge", err)
	}
	if pulled > limit+1 {
		t.Errorf("pulled %d bytes out of the decompressor, want at most %d", pulled, limit+1)
	}
	if src.n > int64(len(bomb)) || src.n > 64<<10 {
		t.Errorf("read %d compressed bytes of %d, want only what yields limit+1 inflated bytes", src.n, len(bomb))
	}
	if held > limit+1 {
		t.Errorf("held %d bytes of budget", held)
	}
	budget.Release(held)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*limit {
		t.Errorf("allocated %d bytes for a %d-byte limit", alloc, limit)
	}
	t.Logf("bomb %d bytes, inflates to %d; read %d compressed, %d inflated; allocated %d",
		len(bomb), inflated, src.n, pulled, after.TotalAlloc-before.TotalAlloc)

	r, counters := start(t, Config{GRPCAddr: "off", MaxRequestBytes: limit})
	req, _ := http.NewRequest("POST", "http://"+r.HTTPAddr().String()+PathTraces, bytes.NewReader(bomb))
	req.Header.Set("Content-Type", mediaProto)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 413 || counters.Get("otlp.refused.too_large") != 1 {
		t.Errorf("HTTP: %d, too_large %d; want 413 counted", resp.StatusCode, counters.Get("otlp.refused.too_large"))
	}
}

// TestDecodeMemoryFull: when the receiver's decode budget is spent the
// request is refused 429 with Retry-After before its body is read.
func TestDecodeMemoryFull(t *testing.T) {
	rec := &recorder{}
	r, counters := start(t, Config{GRPCAddr: "off", MaxRequestBytes: 1 << 20, DecodeMemory: 1 << 20, Consumer: rec})
	r.budget.TryReserve(1<<20 - 10) // another request holds nearly all of it
	resp, err := httpClient(t).Post("http://"+r.HTTPAddr().String()+PathTraces, mediaProto, bytes.NewReader(mustProto(t, traceRequest(3, 3))))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || counters.Get("otlp.refused.decode_memory") != 1 {
		t.Errorf("%d Retry-After %q: want 429 with Retry-After, counted", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	r.budget.Release(1<<20 - 10)
	if len(rec.traces) != 0 {
		t.Error("delivered")
	}
	if r.budget.Used() != 0 {
		t.Errorf("budget still holds %d bytes", r.budget.Used())
	}
}

// TestDecodeLinear: decoding (protobuf and JSON) and counting cost a
// constant number of allocations per attribute: 4x the attributes cost
// 4x the allocations, give or take the fixed part.
func TestDecodeLinear(t *testing.T) {
	d := newDecoder(DefaultRecursionLimit)
	for _, enc := range []encoding{encProto, encJSON} {
		body := func(n int) []byte {
			req := traceRequest(n/100, 100)
			if enc == encJSON {
				var b strings.Builder
				b.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[`)
				for i := range n / 100 {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(`{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","attributes":[`)
					for j := range 100 {
						if j > 0 {
							b.WriteByte(',')
						}
						b.WriteString(`{"key":"k","value":{"stringValue":"v"}}`)
					}
					b.WriteString(`]}`)
				}
				b.WriteString(`]}]}]}`)
				return []byte(b.String())
			}
			return mustProto(t, req)
		}
		allocs := func(n int) float64 {
			b := body(n)
			return testing.AllocsPerRun(3, func() {
				m, err := d.decode(sigTraces, enc, b)
				if err != nil || countItems(m) != int64(n/100) {
					t.Fatalf("decode: %v", err)
				}
			})
		}
		a1, a4 := allocs(2000), allocs(8000)
		ratio := a4 / a1
		t.Logf("encoding %d: %0.f allocs at n=2000 attributes, %0.f at 4n (x%.2f)", enc, a1, a4, ratio)
		if ratio < 3.5 || ratio > 4.5 {
			t.Errorf("encoding %d: 4x attributes cost x%.2f allocations, want about 4", enc, ratio)
		}
	}
}
