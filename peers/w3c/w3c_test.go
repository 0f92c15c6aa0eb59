package w3c

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	awsprop "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// modes are the header formats the OpenTelemetry services speak.
var modes = []struct {
	name string
	prop propagation.TextMapPropagator
}{
	{"w3c", propagation.TraceContext{}},
	{"xray", awsprop.Propagator{}},
	{"both", propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, awsprop.Propagator{})},
}

// world is the telemetry of one test: OpenTelemetry spans in memory, and
// Sidelight's segments at a stand-in X-Ray daemon.
type world struct {
	t       *testing.T
	spans   *tracetest.InMemoryExporter
	tp      *sdktrace.TracerProvider
	prop    propagation.TextMapPropagator
	daemon  *xraytest.Daemon
	emitter *xray.Emitter
	clients []*http.Client
}

func newWorld(t *testing.T, prop propagation.TextMapPropagator) *world {
	w := &world{t: t, prop: prop, spans: tracetest.NewInMemoryExporter()}
	w.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(w.spans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	e, err := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	w.daemon, w.emitter = d, e
	t.Cleanup(func() {
		for _, c := range w.clients {
			c.CloseIdleConnections()
		}
		_ = e.Shutdown(context.Background())
		_ = d.Close()
		_ = w.tp.Shutdown(context.Background())
	})
	return w
}

// server starts h on loopback and stops it when the test ends.
func (w *world) server(h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	w.t.Cleanup(s.Close)
	return s
}

// otelService is a service instrumented with otelhttp that, given a
// next URL, calls it through an otelhttp transport.
func (w *world) otelService(name, next string) *httptest.Server {
	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(w.tp), otelhttp.WithPropagators(w.prop))}
	w.clients = append(w.clients, client)
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if next != "" {
			callOn(w.t, r.Context(), client, next)
		}
	})
	return w.server(otelhttp.NewHandler(h, name, otelhttp.WithTracerProvider(w.tp), otelhttp.WithPropagators(w.prop)))
}

// sidelightService is a service wrapped by Sidelight's middleware that,
// given a next URL, calls it through Sidelight's Transport.
func (w *world) sidelightService(name, next string) *httptest.Server {
	rules, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		w.t.Fatal(err)
	}
	client := &http.Client{Transport: middleware.Transport(nil, middleware.WithSegmentExporter(w.emitter))}
	w.clients = append(w.clients, client)
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if next != "" {
			callOn(w.t, r.Context(), client, next)
		}
	})
	return w.server(middleware.HTTP(middleware.WithSegmentExporter(w.emitter), middleware.WithServiceName(name),
		middleware.WithSamplingRules(rules), middleware.WithoutMetrics())(h))
}

func callOn(t *testing.T, ctx context.Context, client *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: status %d", url, resp.StatusCode)
	}
}

// get calls the first service of a chain, with no trace header.
func (w *world) get(url string) {
	client := &http.Client{}
	w.clients = append(w.clients, client)
	callOn(w.t, context.Background(), client, url)
}

// waitSpans returns n ended spans, waiting for servers that end their
// span after the response went out.
func (w *world) waitSpans(n int) tracetest.SpanStubs {
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans := w.spans.GetSpans()
		if len(spans) >= n || time.Now().After(deadline) {
			if len(spans) != n {
				w.t.Fatalf("got %d spans, want %d", len(spans), n)
			}
			return spans
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitSegments returns n segment documents, by name.
func (w *world) waitSegments(n int) map[string]xraytest.Segment {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var docs []xraytest.Segment
	for {
		if err := w.emitter.ForceFlush(ctx); err != nil {
			w.t.Fatal(err)
		}
		var err error
		docs, err = w.daemon.Documents()
		if err != nil {
			w.t.Fatal(err)
		}
		if len(docs) >= n || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(docs) != n {
		w.t.Fatalf("got %d segments, want %d", len(docs), n)
	}
	byName := map[string]xraytest.Segment{}
	for _, d := range docs {
		byName[d.Name] = d
	}
	return byName
}

// serverSpan returns the server span of the request for path.
func serverSpan(t *testing.T, spans tracetest.SpanStubs, path string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind != trace.SpanKindServer {
			continue
		}
		for _, kv := range s.Attributes {
			if kv.Key == "url.path" && kv.Value.AsString() == path {
				return s
			}
		}
	}
	t.Fatalf("no server span for %s among %d", path, len(spans))
	return tracetest.SpanStub{}
}

// clientSpan returns the client span whose parent is parent.
func clientSpan(t *testing.T, spans tracetest.SpanStubs, parent trace.SpanID) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindClient && s.Parent.SpanID() == parent {
			return s
		}
	}
	t.Fatalf("no client span under %s", parent)
	return tracetest.SpanStub{}
}

// otelhttp → Sidelight → otelhttp: the front service starts the trace; the
// Sidelight segment continues it under front's client span, and the back
// service's server span sits under Sidelight's remote subsegment.
func TestOtelToSidelightToOtel(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			w := newWorld(t, mode.prop)
			back := w.otelService("back", "")
			mid := w.sidelightService("mid", back.URL+"/back")
			front := w.otelService("front", mid.URL+"/mid")
			w.get(front.URL + "/front")

			spans := w.waitSpans(3)
			frontSrv := serverSpan(t, spans, "/front")
			frontCli := clientSpan(t, spans, frontSrv.SpanContext.SpanID())
			backSrv := serverSpan(t, spans, "/back")
			traceID := frontSrv.SpanContext.TraceID()
			if frontSrv.Parent.IsValid() {
				t.Errorf("front's span has a parent %v: the test client sent no header", frontSrv.Parent)
			}

			seg := w.waitSegments(1)["mid"]
			if seg.TraceID != xray.FormatTraceID(traceID) {
				t.Errorf("Sidelight segment trace %s, OpenTelemetry trace %s", seg.TraceID, traceID)
			}
			if seg.ParentID != frontCli.SpanContext.SpanID().String() {
				t.Errorf("Sidelight segment parent %s, want front's client span %s", seg.ParentID, frontCli.SpanContext.SpanID())
			}
			if len(seg.Subsegments) != 1 || seg.Subsegments[0].Namespace != "remote" {
				t.Fatalf("want one remote subsegment, got %+v", seg.Subsegments)
			}
			if backSrv.SpanContext.TraceID() != traceID {
				t.Errorf("back's trace %s, front's %s", backSrv.SpanContext.TraceID(), traceID)
			}
			if backSrv.Parent.SpanID().String() != seg.Subsegments[0].ID || !backSrv.Parent.IsRemote() || !backSrv.SpanContext.IsSampled() {
				t.Errorf("back's parent %v, want Sidelight's subsegment %s, sampled", backSrv.Parent, seg.Subsegments[0].ID)
			}
		})
	}
}

// Sidelight → otelhttp → Sidelight: the edge starts the trace with an ID
// that both formats carry; the middle's server span sits under the edge's
// remote subsegment, and the tail's segment under the middle's client span.
func TestSidelightToOtelToSidelight(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			w := newWorld(t, mode.prop)
			tail := w.sidelightService("tail", "")
			mid := w.otelService("mid", tail.URL+"/tail")
			edge := w.sidelightService("edge", mid.URL+"/mid")
			w.get(edge.URL + "/edge")

			segs := w.waitSegments(2)
			edgeSeg, tailSeg := segs["edge"], segs["tail"]
			if edgeSeg.ParentID != "" || len(edgeSeg.Subsegments) != 1 {
				t.Fatalf("edge segment %+v", edgeSeg)
			}
			spans := w.waitSpans(2)
			midSrv := serverSpan(t, spans, "/mid")
			midCli := clientSpan(t, spans, midSrv.SpanContext.SpanID())
			traceID := xray.FormatTraceID(midSrv.SpanContext.TraceID())
			if traceID != edgeSeg.TraceID || tailSeg.TraceID != edgeSeg.TraceID {
				t.Errorf("traces: edge %s, mid %s, tail %s", edgeSeg.TraceID, traceID, tailSeg.TraceID)
			}
			if midSrv.Parent.SpanID().String() != edgeSeg.Subsegments[0].ID || !midSrv.Parent.IsRemote() || !midSrv.SpanContext.IsSampled() {
				t.Errorf("mid's parent %v, want edge's subsegment %s, sampled", midSrv.Parent, edgeSeg.Subsegments[0].ID)
			}
			if tailSeg.ParentID != midCli.SpanContext.SpanID().String() {
				t.Errorf("tail's parent %s, want mid's client span %s", tailSeg.ParentID, midCli.SpanContext.SpanID())
			}
			// The edge made the trace ID: its first 8 hex digits are the
			// epoch seconds X-Ray wants, whichever header carried it.
			epoch := midSrv.SpanContext.TraceID()
			secs := int64(epoch[0])<<24 | int64(epoch[1])<<16 | int64(epoch[2])<<8 | int64(epoch[3])
			if d := time.Since(time.Unix(secs, 0)); d < -time.Minute || d > time.Hour {
				t.Errorf("trace ID %s does not start with the time (%v off)", traceID, d)
			}
		})
	}
}
