package middleware

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

type ctxKey struct{}

// TestStateIsTheCurrentSpan: the request state answers OpenTelemetry's
// span lookup itself (no context.WithValue per request): inside a wrapped
// handler, and in contexts derived from its context, trace.SpanFromContext
// returns the span naming the invocation's subsegment, not a span the
// invocation's own context carried.
func TestStateIsTheCurrentSpan(t *testing.T) {
	if spanKey == nil {
		t.Fatal("the OpenTelemetry span key was not learnt: every request pays for trace.ContextWithSpan")
	}
	rec := xraytest.NewRecorder()
	k, err := New(WithSegmentExporter(rec), WithSamplingRules(always(t)), WithMetricsSink(emftest.NewSink()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
	outer := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	var inside, derived trace.SpanContext
	h := Lambda(func(ctx context.Context, s string) (string, error) {
		inside = trace.SpanFromContext(ctx).SpanContext()
		derived = trace.SpanContextFromContext(context.WithValue(ctx, ctxKey{}, 1))
		return s, nil
	}, WithKit(k))
	ctx := trace.ContextWithSpanContext(invokeCtx(t, facadeHeader, time.Minute), outer)
	if _, err := h(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	segs := rec.Segments()
	if len(segs) != 1 {
		t.Fatalf("%d segments", len(segs))
	}
	want, err := xray.ParseTraceID(facadeTrace)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []trace.SpanContext{inside, derived} {
		if sc.TraceID() != want || sc.SpanID().String() != segs[0].ID || !sc.IsSampled() {
			t.Errorf("span context %v, want trace %s span %s sampled", sc, facadeTrace, segs[0].ID)
		}
	}
}
