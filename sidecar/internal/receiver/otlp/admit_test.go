package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
)

// TestAdmitBeforeDecoding: a traces request AdmitTraces refuses is
// answered 429 with Retry-After (HTTP) or RESOURCE_EXHAUSTED with
// RetryInfo (gRPC) before it is decoded: a body that is not protobuf at
// all gets the retryable answer, not 400, and the Consumer never sees
// it. AdmitTraces is given the size after decompression.
func TestAdmitBeforeDecoding(t *testing.T) {
	rec := &recorder{}
	var room atomic.Bool
	var asked atomic.Int64
	r, counters := start(t, Config{Consumer: rec, AdmitTraces: func(n int64) bool {
		asked.Store(n)
		return room.Load()
	}})
	good := mustProto(t, traceRequest(4, 2))
	garbage := []byte{0xff, 0xff, 0xff} // not protobuf: 400 if it were decoded
	post := func(body []byte, gz bool) *http.Response {
		t.Helper()
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = b.Bytes()
		}
		req, _ := http.NewRequest("POST", "http://"+r.HTTPAddr().String()+PathTraces, bytes.NewReader(body))
		req.Header.Set("Content-Type", mediaProto)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := httpClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	for _, body := range [][]byte{good, garbage} {
		for _, gz := range []bool{false, true} {
			resp := post(body, gz)
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("no room, gzip %v: %d Retry-After %q, want 429 with Retry-After", gz, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if asked.Load() != int64(len(body)) {
				t.Errorf("AdmitTraces asked about %d bytes, want the decompressed %d", asked.Load(), len(body))
			}
		}
	}
	conn, err := grpc.NewClient(r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	_, err = client.Export(context.Background(), traceRequest(4, 2))
	st := status.Convert(err)
	var retry bool
	for _, d := range st.Details() {
		_, ok := d.(*errdetails.RetryInfo)
		retry = retry || ok
	}
	if st.Code() != codes.ResourceExhausted || !retry {
		t.Errorf("gRPC, no room: %v (details %v), want RESOURCE_EXHAUSTED with RetryInfo", err, st.Details())
	}
	if got := counters.Get("otlp.refused.budget_full"); got != 5 {
		t.Errorf("otlp.refused.budget_full = %d, want 5", got)
	}
	if rec.calls.Load() != 0 || counters.Get("otlp.refused.malformed") != 0 {
		t.Errorf("%d Consumer calls, %d malformed: refused requests were decoded", rec.calls.Load(), counters.Get("otlp.refused.malformed"))
	}

	room.Store(true)
	if resp := post(good, false); resp.StatusCode != 200 {
		t.Errorf("with room: %d, want 200", resp.StatusCode)
	}
	if _, err := client.Export(context.Background(), traceRequest(4, 2)); err != nil {
		t.Errorf("gRPC with room: %v", err)
	}
	if got := len(rec.spans()); got != 8 {
		t.Errorf("%d spans delivered, want 8", got)
	}
	if r.budget.Used() != 0 {
		t.Errorf("decode memory still holds %d bytes", r.budget.Used())
	}
}

// TestDecodeMemoryInSharedBudget: with Config.Budget the body and the
// decoded estimate are reserved in that budget (the sidecar's, shared
// with its queues) and returned after the answer; when the queues fill
// it, requests are refused as retryable before they are read further.
func TestDecodeMemoryInSharedBudget(t *testing.T) {
	budget := queue.NewBudget(1 << 20)
	var during atomic.Int64
	rec := &recorder{answer: func(int64) (int64, string, error) {
		during.Store(budget.Used())
		return 0, "", nil
	}}
	r, counters := start(t, Config{GRPCAddr: "off", MaxRequestBytes: 1 << 20, Budget: budget, Consumer: rec})
	body := mustProto(t, traceRequest(3, 3))
	post := func() int {
		resp, err := httpClient(t).Post("http://"+r.HTTPAddr().String()+PathTraces, mediaProto, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != 200 {
		t.Fatalf("%d, want 200", code)
	}
	if during.Load() < int64(len(body)) {
		t.Errorf("budget held %d bytes while the Consumer ran, want at least the %d-byte body", during.Load(), len(body))
	}
	if budget.Used() != 0 {
		t.Errorf("budget still holds %d bytes", budget.Used())
	}
	budget.TryReserve(budget.Limit() - 10) // the queues hold nearly all of it
	if code := post(); code != 429 || counters.Get("otlp.refused.budget_full") != 1 {
		t.Errorf("budget full: %d, budget_full %d; want 429 counted", code, counters.Get("otlp.refused.budget_full"))
	}
	budget.Release(budget.Limit() - 10)
	if len(rec.traces) != 1 {
		t.Errorf("%d requests delivered, want 1", len(rec.traces))
	}
}
