package otlpsegments_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlpsegments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/otlp"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

// sink records what it is given, or refuses with err, or drops the first
// drop documents.
type sink struct {
	docs  []string
	ids   []string
	err   error
	drop  int
	calls int
}

func (s *sink) AddSegments(docs [][]byte, infos []xraydoc.Info) (int, error) {
	s.calls++
	if s.err != nil {
		return 0, s.err
	}
	for i, d := range docs {
		s.docs = append(s.docs, string(d))
		s.ids = append(s.ids, string(infos[i].ID))
	}
	return min(s.drop, len(docs)), nil
}

func span(trace, id, parent byte, kind tracepb.Span_SpanKind) *tracepb.Span {
	sp := &tracepb.Span{
		TraceId: bytes.Repeat([]byte{trace}, 16), SpanId: bytes.Repeat([]byte{id}, 8),
		Name: fmt.Sprintf("span-%d", id), Kind: kind,
		StartTimeUnixNano: 1_700_000_000_000_000_000, EndTimeUnixNano: 1_700_000_000_500_000_000,
	}
	if parent != 0 {
		sp.ParentSpanId = bytes.Repeat([]byte{parent}, 8)
	}
	return sp
}

func request(spans ...*tracepb.Span) *coltracepb.ExportTraceServiceRequest {
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
		Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "cart"}}}}}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: res, ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
}

func newConsumer(t *testing.T, s otlpsegments.Sink) (*otlpsegments.Consumer, *status.Counters) {
	t.Helper()
	cs := status.NewCounters()
	c, err := otlpsegments.New(otlpsegments.Config{Sink: s, Counters: cs})
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

// Every span of a request reaches the sink in one call, as a checked
// document with its Info.
func TestTracesToSink(t *testing.T) {
	s := &sink{}
	c, _ := newConsumer(t, s)
	rej, msg, err := c.ConsumeTraces(context.Background(), request(
		span(1, 1, 0, tracepb.Span_SPAN_KIND_SERVER), span(1, 2, 1, tracepb.Span_SPAN_KIND_CLIENT), span(1, 3, 2, tracepb.Span_SPAN_KIND_INTERNAL)))
	if err != nil || rej != 0 || msg != "" {
		t.Fatalf("rejected %d %q, err %v", rej, msg, err)
	}
	if s.calls != 1 || len(s.docs) != 3 {
		t.Fatalf("%d calls, %d documents", s.calls, len(s.docs))
	}
	for i, id := range []string{"0101010101010101", "0202020202020202", "0303030303030303"} {
		if s.ids[i] != id || !strings.Contains(s.docs[i], `"trace_id":"1-01010101-010101010101010101010101"`) {
			t.Errorf("document %d: id %s, %s", i, s.ids[i], s.docs[i])
		}
	}
	if !strings.Contains(s.docs[0], `"name":"cart"`) || !strings.Contains(s.docs[1], `"type":"subsegment"`) ||
		!strings.Contains(s.docs[1], `"parent_id":"0101010101010101"`) {
		t.Errorf("documents %q", s.docs)
	}
}

// A span that cannot be translated is rejected and counted; the others
// are delivered, and the client is told how many and why.
func TestBadSpanRejectedOthersDelivered(t *testing.T) {
	s := &sink{}
	c, cs := newConsumer(t, s)
	bad := span(0, 9, 0, tracepb.Span_SPAN_KIND_SERVER) // all-zero trace ID
	noID := span(1, 8, 0, tracepb.Span_SPAN_KIND_SERVER)
	noID.SpanId = []byte{1, 2, 3}
	rej, msg, err := c.ConsumeTraces(context.Background(), request(
		span(1, 1, 0, tracepb.Span_SPAN_KIND_SERVER), bad, noID, span(1, 2, 1, tracepb.Span_SPAN_KIND_CLIENT)))
	if err != nil || rej != 2 || !strings.Contains(msg, "2 of 4 spans") || !strings.Contains(msg, "trace ID") {
		t.Fatalf("rejected %d %q, err %v", rej, msg, err)
	}
	if len(s.docs) != 2 || s.ids[0] != "0101010101010101" || s.ids[1] != "0202020202020202" {
		t.Fatalf("delivered %q", s.ids)
	}
	if cs.Get("otlp.untranslated.bad_trace_id") != 1 || cs.Get("otlp.untranslated.bad_span_id") != 1 {
		t.Fatalf("counters %v", cs.Snapshot())
	}
	// Nothing good left: the sink is not called, all rejected.
	s = &sink{}
	c, _ = newConsumer(t, s)
	if rej, _, err := c.ConsumeTraces(context.Background(), request(bad)); rej != 1 || err != nil || s.calls != 0 {
		t.Fatalf("rejected %d, err %v, %d sink calls", rej, err, s.calls)
	}
}

// The sink's refusal refuses the request (retryable), and what it drops
// is reported as rejected.
func TestSinkAnswers(t *testing.T) {
	for _, want := range []error{otlp.ErrBudgetFull, otlp.ErrShuttingDown} {
		c, _ := newConsumer(t, &sink{err: fmt.Errorf("%w: queue", want)})
		rej, _, err := c.ConsumeTraces(context.Background(), request(span(1, 1, 0, tracepb.Span_SPAN_KIND_SERVER)))
		if !errors.Is(err, want) || rej != 0 {
			t.Fatalf("rejected %d, err %v, want %v", rej, err, want)
		}
	}
	c, _ := newConsumer(t, &sink{drop: 1})
	rej, msg, err := c.ConsumeTraces(context.Background(), request(span(1, 1, 0, tracepb.Span_SPAN_KIND_SERVER), span(1, 2, 1, 0)))
	if err != nil || rej != 1 || !strings.Contains(msg, "1 spans dropped") {
		t.Fatalf("rejected %d %q, err %v", rej, msg, err)
	}
}

// Metrics and logs are refused as invalid (not retried) with a message
// saying what to use, and their items counted.
func TestMetricsAndLogsUnsupported(t *testing.T) {
	s := &sink{}
	c, cs := newConsumer(t, s)
	gauge := &metricspb.Metric{Name: "g", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{}, {}}}}}
	sum := &metricspb.Metric{Name: "s", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: []*metricspb.NumberDataPoint{{}}}}}
	_, _, err := c.ConsumeMetrics(context.Background(), &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{gauge, sum}}}}}})
	var inv interface{ Unwrap() error }
	if err == nil || !errors.As(err, &inv) || errors.Is(err, otlp.ErrBudgetFull) || !strings.Contains(err.Error(), "send EMF") {
		t.Fatalf("metrics: %v", err)
	}
	_, _, err = c.ConsumeLogs(context.Background(), &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{}, {}, {}}}}}}})
	if err == nil || !strings.Contains(err.Error(), "does not take OTLP logs in local mode") {
		t.Fatalf("logs: %v", err)
	}
	if cs.Get("otlp.unsupported.data_points") != 3 || cs.Get("otlp.unsupported.log_records") != 3 || s.calls != 0 {
		t.Fatalf("counters %v", cs.Snapshot())
	}
}

func TestNewNeedsSinkAndCounters(t *testing.T) {
	if _, err := otlpsegments.New(otlpsegments.Config{Counters: status.NewCounters()}); err == nil {
		t.Fatal("no Sink accepted")
	}
	if _, err := otlpsegments.New(otlpsegments.Config{Sink: &sink{}}); err == nil {
		t.Fatal("no Counters accepted")
	}
}

// countSink keeps nothing, as a Sink that copies what it queues leaves
// nothing of the request behind.
type countSink struct{ n int }

func (s *countSink) AddSegments(docs [][]byte, _ []xraydoc.Info) (int, error) {
	s.n += len(docs)
	return 0, nil
}

// The documents of one request are written into a buffer reused from
// request to request: a steady stream of 512-span requests allocates far
// less than the documents' bytes per request. (The buffer used to grow
// from nothing for each request, allocating about twice the documents'
// bytes in ever larger blocks: the sidecar's largest CPU cost under OTLP
// load, with the runtime returning those blocks to the OS.)
func TestRequestBufferReused(t *testing.T) {
	s := &countSink{}
	c, _ := newConsumer(t, s)
	spans := make([]*tracepb.Span, 512)
	for i := range spans {
		sp := span(1, byte(i%250+1), 0, tracepb.Span_SPAN_KIND_SERVER)
		binary.BigEndian.PutUint16(sp.SpanId[6:], uint16(i))
		sp.Attributes = []*commonpb.KeyValue{
			{Key: "http.request.method", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "GET"}}},
			{Key: "url.full", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "http://checkout.local/cart/42"}}},
			{Key: "http.route", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "/cart/{id}"}}},
			{Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}},
		}
		spans[i] = sp
	}
	req := request(spans...)
	docBytes := 0
	probe := &sink{}
	pc, _ := newConsumer(t, probe)
	if _, _, err := pc.ConsumeTraces(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	for _, d := range probe.docs {
		docBytes += len(d)
	}
	if len(probe.docs) != len(spans) {
		t.Fatalf("%d documents for %d spans", len(probe.docs), len(spans))
	}
	consume := func() {
		if _, _, err := c.ConsumeTraces(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	consume() // warm
	var m0, m1 runtime.MemStats
	const rounds = 20
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for range rounds {
		consume()
	}
	runtime.ReadMemStats(&m1)
	perRequest := (m1.TotalAlloc - m0.TotalAlloc) / rounds
	t.Logf("%d bytes allocated per request of %d spans (%d bytes of documents)", perRequest, len(spans), docBytes)
	if perRequest > uint64(docBytes)/2 {
		t.Fatalf("%d bytes allocated per request, more than half the %d bytes of its documents", perRequest, docBytes)
	}
	if s.n != (rounds+1)*len(spans) {
		t.Fatalf("the sink got %d documents, want %d", s.n, (rounds+1)*len(spans))
	}
}

// TestNoStartTimeRejected: a span starting within the first microsecond
// of 1970 would become a document with start_time 0, which X-Ray (and
// xraydoc.Check, no longer run on translated documents) refuses: it is
// rejected before translation and counted, and the others are delivered.
func TestNoStartTimeRejected(t *testing.T) {
	s := &sink{}
	c, cs := newConsumer(t, s)
	zero := span(1, 9, 0, tracepb.Span_SPAN_KIND_SERVER)
	zero.StartTimeUnixNano, zero.EndTimeUnixNano = 999, 0
	rej, msg, err := c.ConsumeTraces(context.Background(), request(span(1, 1, 0, tracepb.Span_SPAN_KIND_SERVER), zero))
	if err != nil || rej != 1 || !strings.Contains(msg, "start time") {
		t.Fatalf("rejected %d %q, err %v", rej, msg, err)
	}
	if len(s.ids) != 1 || s.ids[0] != "0101010101010101" || cs.Get("otlp.untranslated.check_failed") != 1 {
		t.Fatalf("delivered %q, counters %v", s.ids, cs.Snapshot())
	}
}
