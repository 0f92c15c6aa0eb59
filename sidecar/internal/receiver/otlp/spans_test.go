package otlp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
)

// spanRecorder is a recorder that also takes spans as otlpspans.
type spanRecorder struct {
	recorder
	smu   sync.Mutex
	names []string
}

func (c *spanRecorder) ConsumeSpans(ctx context.Context, b *otlpspans.Batch) (int64, string, error) {
	n, msg, err := c.result(ctx)
	if err == nil {
		c.smu.Lock()
		for _, sp := range b.Spans {
			c.names = append(c.names, strings.Clone(sp.Name))
		}
		c.smu.Unlock()
	}
	return n, msg, err
}

// TestSpanConsumerPath: with a SpanConsumer, OTLP/HTTP protobuf traces
// arrive by ConsumeSpans (JSON still by ConsumeTraces); malformed
// protobuf, strings that are not UTF-8 and nesting past the recursion
// limit get 400 with a message saying what is wrong, and reach no
// Consumer.
func TestSpanConsumerPath(t *testing.T) {
	rec := &spanRecorder{}
	r, counters := start(t, Config{GRPCAddr: "off", Consumer: rec})
	post := func(ctype string, body []byte) (int, string) {
		t.Helper()
		resp, err := httpClient(t).Post("http://"+r.HTTPAddr().String()+PathTraces, ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var st spb.Status
		if ctype == mediaProto && resp.StatusCode != 200 {
			if err := proto.Unmarshal(b, &st); err != nil {
				t.Fatalf("answer %d is not a Status: %v", resp.StatusCode, err)
			}
		}
		return resp.StatusCode, st.GetMessage()
	}
	if code, _ := post(mediaProto, mustProto(t, traceRequest(3, 2))); code != 200 {
		t.Fatalf("good request: %d", code)
	}
	if len(rec.names) != 3 || len(rec.traces) != 0 {
		t.Fatalf("%d spans by ConsumeSpans, %d requests by ConsumeTraces; want 3 and 0", len(rec.names), len(rec.traces))
	}
	// protobuf-go will not encode a name that is not UTF-8: by hand.
	msg := func(num protowire.Number, body []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), body)
	}
	rawBadName := msg(1, msg(2, msg(2, msg(5, []byte("a\xffb")))))
	for _, c := range []struct {
		name, want string
		body       []byte
	}{
		{"truncated", "malformed OTLP traces request", mustProto(t, traceRequest(2, 2))[:40]},
		{"bad tag", "malformed OTLP traces request", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"not UTF-8", "span name is not valid UTF-8", rawBadName},
		{"10k deep", "recursion limit", mustProto(t, nestedRequest(10000))},
	} {
		code, msg := post(mediaProto, c.body)
		if code != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want 400 saying %q", c.name, code, msg, c.want)
		}
	}
	if code, _ := post(mediaProto, mustProto(t, nestedRequest(30))); code != 200 {
		t.Errorf("30 deep: %d, want 200", code)
	}
	if got := counters.Get("otlp.refused.malformed"); got != 4 {
		t.Errorf("otlp.refused.malformed = %d, want 4", got)
	}
	if len(rec.names) != 4 || len(rec.traces) != 0 {
		t.Errorf("%d spans delivered, want 4", len(rec.names))
	}
	js := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"j"}]}]}]}`
	if code, _ := post(mediaJSON, []byte(js)); code != 200 || len(rec.traces) != 1 {
		t.Errorf("JSON: %d, %d requests by ConsumeTraces; want 200 and 1", code, len(rec.traces))
	}
	if r.budget.Used() != 0 {
		t.Errorf("decode memory still holds %d bytes", r.budget.Used())
	}
}

// TestSpanPathReusesBatches: once warm, a request decoded into the flat
// model allocates no more at 4n spans than at n (the Batch is reused), so
// the cost of decoding is in the bytes read, not in the heap.
func TestSpanPathReusesBatches(t *testing.T) {
	rec := &spanRecorder{}
	r, _ := start(t, Config{GRPCAddr: "off", Consumer: rec})
	h := r.Handler()
	allocs := func(n int) float64 {
		body := mustProto(t, traceRequest(n, 5))
		serve := func() {
			req, _ := http.NewRequest("POST", "http://127.0.0.1"+PathTraces, bytes.NewReader(body))
			req.Header.Set("Content-Type", mediaProto)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.code != 200 {
				t.Fatalf("%d", w.code)
			}
		}
		serve()
		rec.smu.Lock()
		rec.names = rec.names[:0]
		rec.smu.Unlock()
		return testing.AllocsPerRun(5, func() {
			serve()
			rec.smu.Lock()
			rec.names = rec.names[:0]
			rec.smu.Unlock()
		})
	}
	a1, a4 := allocs(100), allocs(400)
	t.Logf("%.0f allocations a request at 100 spans, %.0f at 400", a1, a4)
	// The body buffer grows with n (one allocation); spans, attributes
	// and their strings allocate nothing. The recorder's names do (one
	// string each): that is the test's, counted at n and 4n alike.
	if perSpan := (a4 - a1) / 300; perSpan > 1.05 {
		t.Errorf("%.2f allocations per extra span, want at most the recorder's 1", perSpan)
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// TestSpanPathMillionAttributes: on the flat-model path a million empty
// attributes (2 MB of protobuf) are refused as too large (413), having
// allocated at most the memory reserved for a typical request of that
// size before the decoder stopped, not the 64 MB they would take; a
// request of many tiny attributes that fits DecodeMemory is decoded
// after its messages are counted and delivered.
func TestSpanPathMillionAttributes(t *testing.T) {
	rec := &spanRecorder{}
	r, counters := start(t, Config{GRPCAddr: "off", Consumer: rec})
	post := func(body []byte) int {
		resp, err := httpClient(t).Post("http://"+r.HTTPAddr().String()+PathTraces, mediaProto, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	body := millionAttrsWire()
	var code int
	got := allocated(func() { code = post(body) })
	if code != 413 || counters.Get("otlp.refused.too_large") != 1 {
		t.Errorf("million attributes: %d, too_large %d; want 413 counted", code, counters.Get("otlp.refused.too_large"))
	}
	if limit := uint64(spanModelPerWireByte*len(body)) + 8<<20; got > limit {
		t.Errorf("%d bytes allocated for a %d-byte body, want at most %d", got, len(body), limit)
	}
	t.Logf("million attributes: body %d bytes, %d allocated (client and server)", len(body), got)

	tiny := bytes.Repeat([]byte{9<<3 | 2, 0}, 20000) // 20,000 empty attributes: 1.3 MB of model from 40 KB
	tiny = protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), tiny)
	tiny = protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), tiny)
	tiny = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), tiny)
	if code := post(tiny); code != 200 || len(rec.names) != 1 {
		t.Errorf("20,000 tiny attributes: %d, %d spans delivered; want 200 and 1", code, len(rec.names))
	}
	if r.budget.Used() != 0 {
		t.Errorf("decode memory still holds %d bytes", r.budget.Used())
	}
}

// TestTypicalRequestDecodedAtOnce: a request like the load test's (512
// SERVER spans with five HTTP attributes, a resource of five) decodes
// within the memory decodeSpans reserves first, so it is not counted and
// decoded a second time. (With 4 bytes a wire byte it did not: the
// profile showed the count and a second decode in every request.)
func TestTypicalRequestDecodedAtOnce(t *testing.T) {
	kvInt := func(k string, v int64) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
	}
	spans := make([]*tracepb.Span, 512)
	for i := range spans {
		spans[i] = &tracepb.Span{
			TraceId: bytes.Repeat([]byte{byte(i + 1)}, 16), SpanId: bytes.Repeat([]byte{byte(i + 1)}, 8),
			Name: "GET /cart/{id}", Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: 1765130000000000000, EndTimeUnixNano: 1765130000333000000,
			Attributes: []*commonpb.KeyValue{strAttr("http.request.method", "GET"), strAttr("url.full", "http://checkout.local/cart/42"),
				strAttr("http.route", "/cart/{id}"), strAttr("client.address", "10.0.0.8"), kvInt("http.response.status_code", 200)},
			Status: &tracepb.Status{},
		}
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", "checkout"), strAttr("service.version", "1.4.2"),
			strAttr("telemetry.sdk.name", "opentelemetry"), strAttr("telemetry.sdk.language", "go"), strAttr("telemetry.sdk.version", "1.47.0")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "net/http"}, Spans: spans}},
	}}}
	body := mustProto(t, req)
	est := spanModelPerWireByte*int64(len(body)) + 4<<10
	var b otlpspans.Batch
	if err := b.DecodeWithin(body, DefaultRecursionLimit, est); err != nil {
		t.Fatalf("%d-byte request within %d bytes: %v", len(body), est, err)
	}
	t.Logf("%d-byte request: %d bytes of model, %d allowed", len(body), b.Bytes(), est)

	// 24 such requests in one (2.8 MiB): within the sidecar's default
	// 16 MiB budget on this path, where the generated types' estimate
	// (about 7 bytes a wire byte) would refuse it as too large.
	big := &coltracepb.ExportTraceServiceRequest{}
	for range 24 {
		big.ResourceSpans = append(big.ResourceSpans, req.ResourceSpans[0])
	}
	bigBody := mustProto(t, big)
	rec := &spanRecorder{}
	r, counters := start(t, Config{GRPCAddr: "off", Consumer: rec, Budget: queue.NewBudget(16 << 20)})
	resp, err := httpClient(t).Post("http://"+r.HTTPAddr().String()+PathTraces, mediaProto, bytes.NewReader(bigBody))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || len(rec.names) != 24*512 {
		t.Errorf("%d-byte request: %d, %d spans delivered; want 200 and all; counters %v", len(bigBody), resp.StatusCode, len(rec.names), counters.Snapshot())
	}
	if est := estimateDecoded(sigTraces, encProto, bigBody, DefaultRecursionLimit); est <= 16<<20 {
		t.Errorf("the generated types' estimate %d would have fit too: the test does not test this path", est)
	}
}
