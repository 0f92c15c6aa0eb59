package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// state is what the middleware keeps for one request or invocation. It is
// at once the request's context (so that one allocation serves both
// lookups) and an OpenTelemetry span whose span context names the segment,
// so that OpenTelemetry instrumentation joins the trace.
type state struct {
	context.Context // trace.ContextWithSpan(parent, this state)
	embedded.Span

	cfg *config
	sc  trace.SpanContext
	// incoming is the trace header the request arrived with (Extra holds
	// Lineage and unknown keys to pass on). The W3C tracestate, when the
	// trace followed is the one its traceparent names, is in sc.
	incoming xray.Header
	start    time.Time

	// Kept here so that one allocation serves the whole request.
	rw        responseWriter
	respTrace [1]string

	mu  sync.Mutex
	seg *xray.Segment // nil when not sampled, and once the segment is sent
}

type stateKey struct{}

// Value answers lookups of the state itself and of the current
// OpenTelemetry span (see spanKey), and passes the rest on.
func (s *state) Value(key any) any {
	if key == (stateKey{}) || (key == spanKey && spanKey != nil) {
		return s
	}
	return s.Context.Value(key)
}

// stateFrom returns the request state carried by ctx.
func stateFrom(ctx context.Context) (*state, bool) {
	if ctx == nil {
		return nil, false
	}
	s, ok := ctx.Value(stateKey{}).(*state)
	return s, ok
}

func newState(parent context.Context, cfg *config, traceID trace.TraceID, id trace.SpanID, sampled bool, incoming xray.Header) *state {
	s := new(state)
	s.init(parent, cfg, traceID, id, sampled, incoming)
	return s
}

// init sets up a zero state s, for callers that allocate it inside a
// larger object.
func (s *state) init(parent context.Context, cfg *config, traceID trace.TraceID, id trace.SpanID, sampled bool, incoming xray.Header) {
	s.cfg, s.incoming = cfg, incoming
	flags := trace.TraceFlags(0)
	if sampled {
		flags = trace.FlagsSampled
	}
	s.sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: id, TraceFlags: flags})
	if spanKey != nil {
		s.Context = parent // Value answers trace.SpanFromContext itself
	} else {
		s.Context = trace.ContextWithSpan(parent, s)
	}
}

// spanKey is the context key trace.SpanFromContext looks the current span
// up by (OpenTelemetry keeps it private), learnt once by handing it a
// context that records the key it is asked for. With it, the state answers
// for the span itself and saves the context.WithValue of
// trace.ContextWithSpan on every request; should a later OpenTelemetry
// look spans up some other way, it is nil and the state falls back to
// trace.ContextWithSpan.
var spanKey = learnSpanKey()

func learnSpanKey() any {
	p := &keyProbe{}
	trace.SpanFromContext(p)
	if len(p.keys) != 1 {
		return nil
	}
	// Check that a span given for that key is the one found.
	p.answer = trace.SpanFromContext(trace.ContextWithSpan(context.Background(), probeSpan{}))
	if _, ok := trace.SpanFromContext(p).(probeSpan); !ok {
		return nil
	}
	return p.keys[0]
}

// keyProbe is a context that records the keys it is asked for and answers
// each with answer.
type keyProbe struct {
	context.Context // nil: only Value is called
	keys            []any
	answer          any
}

func (p *keyProbe) Value(key any) any {
	p.keys = append(p.keys, key)
	return p.answer
}

type probeSpan struct{ trace.Span }

// finish takes the segment out of the state; later calls and annotations
// find nothing to change. It returns nil when the request was not sampled.
func (s *state) finish() *xray.Segment {
	s.mu.Lock()
	seg := s.seg
	s.seg = nil
	s.mu.Unlock()
	return seg
}

// with runs f on the segment under the lock, if it is still open.
func (s *state) with(f func(seg *xray.Segment)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seg == nil {
		return false
	}
	f(s.seg)
	return true
}

// addSubsegment embeds sub in the open segment, or, when the segment has
// already been sent, sends sub on its own.
func (s *state) addSubsegment(sub *xray.Segment) {
	if s.with(func(seg *xray.Segment) { seg.Subsegments = append(seg.Subsegments, sub) }) {
		return
	}
	sub.Independent = true
	sub.TraceID = s.sc.TraceID()
	sub.ParentID = s.sc.SpanID()
	if s.cfg.exporter != nil {
		s.cfg.exporter.ExportSegment(sub)
	}
	putSegment(sub)
}

// The trace.Span methods. The segment ends when the middleware says so;
// End, SetName and AddLink do nothing.

func (s *state) SpanContext() trace.SpanContext       { return s.sc }
func (s *state) End(...trace.SpanEndOption)           {}
func (s *state) SetName(string)                       {}
func (s *state) AddLink(trace.Link)                   {}
func (s *state) TracerProvider() trace.TracerProvider { return otel.GetTracerProvider() }

func (s *state) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seg != nil
}

// AddEvent records the event as metadata under the "events" namespace.
func (s *state) AddEvent(name string, _ ...trace.EventOption) {
	s.with(func(seg *xray.Segment) {
		seg.Metadata = append(seg.Metadata, xray.Metadata{Namespace: "events", Key: name, JSON: []byte("true")})
	})
}

// RecordError adds err to the segment's cause without marking a fault; set
// an Error status for that.
func (s *state) RecordError(err error, _ ...trace.EventOption) {
	if err == nil {
		return
	}
	s.with(func(seg *xray.Segment) { addCause(seg, err, 2) })
}

// SetStatus marks the segment as a fault when code is codes.Error.
func (s *state) SetStatus(code codes.Code, description string) {
	if code != codes.Error {
		return
	}
	s.with(func(seg *xray.Segment) {
		seg.Fault = true
		if description != "" && seg.Cause == nil {
			seg.Cause = &xray.Cause{Exceptions: []xray.Exception{{ID: xray.NewSpanID(), Type: "error", Message: description}}}
		}
	})
}

// SetAttributes records attributes as annotations, so that X-Ray can
// search by them.
func (s *state) SetAttributes(kvs ...attribute.KeyValue) {
	s.with(func(seg *xray.Segment) {
		for _, kv := range kvs {
			seg.Annotations = append(seg.Annotations, annotationOf(kv))
		}
	})
}

func annotationOf(kv attribute.KeyValue) xray.Annotation {
	switch kv.Value.Type() {
	case attribute.BOOL:
		return xray.BoolAttr(string(kv.Key), kv.Value.AsBool())
	case attribute.INT64:
		return xray.NumberAttr(string(kv.Key), float64(kv.Value.AsInt64()))
	case attribute.FLOAT64:
		return xray.NumberAttr(string(kv.Key), kv.Value.AsFloat64())
	default:
		return xray.StringAttr(string(kv.Key), kv.Value.Emit())
	}
}

func addCause(seg *xray.Segment, v any, skip int) {
	c := xray.NewCause(v, skip+1)
	if seg.Cause == nil {
		seg.Cause = c
		return
	}
	seg.Cause.Exceptions = append(seg.Cause.Exceptions, c.Exceptions...)
}

// ErrNoSegment is returned when a context carries no segment to annotate:
// it did not come from a request handled by the middleware.
var ErrNoSegment = errors.New("sidelight: no segment in this context (is the handler wrapped by middleware.HTTP or Lambda?)")

// ErrSegmentClosed is returned when the segment was already sent, for
// example by a goroutine that outlived its request.
var ErrSegmentClosed = errors.New("sidelight: the segment was already sent")

// AddAnnotation adds an indexed key-value pair to the segment of the
// request ctx belongs to. X-Ray can filter traces by annotations. Values
// may be strings, booleans, or integer and floating-point numbers; keys are
// written with characters other than [A-Za-z0-9_] replaced by '_'. On a
// request that is not sampled it does nothing and returns nil.
func AddAnnotation(ctx context.Context, key string, value any) error {
	var a xray.Annotation
	switch v := value.(type) {
	case string:
		a = xray.StringAttr(key, v)
	case bool:
		a = xray.BoolAttr(key, v)
	case int:
		a = xray.NumberAttr(key, float64(v))
	case int8:
		a = xray.NumberAttr(key, float64(v))
	case int16:
		a = xray.NumberAttr(key, float64(v))
	case int32:
		a = xray.NumberAttr(key, float64(v))
	case int64:
		a = xray.NumberAttr(key, float64(v))
	case uint:
		a = xray.NumberAttr(key, float64(v))
	case uint8:
		a = xray.NumberAttr(key, float64(v))
	case uint16:
		a = xray.NumberAttr(key, float64(v))
	case uint32:
		a = xray.NumberAttr(key, float64(v))
	case uint64:
		a = xray.NumberAttr(key, float64(v))
	case float32:
		a = xray.NumberAttr(key, float64(v))
	case float64:
		a = xray.NumberAttr(key, v)
	case time.Duration:
		a = xray.NumberAttr(key, v.Seconds())
	default:
		return fmt.Errorf("sidelight: annotation %q: a %T is not a string, bool or number", key, value)
	}
	if key == "" {
		return errors.New("sidelight: annotation key is empty")
	}
	return update(ctx, func(seg *xray.Segment) { seg.Annotations = append(seg.Annotations, a) })
}

// AddMetadata stores value, encoded with encoding/json, under key in the
// "default" metadata namespace of the request's segment. Metadata is not
// indexed; use it for details you want to read on a trace.
func AddMetadata(ctx context.Context, key string, value any) error {
	return AddMetadataNamespace(ctx, "default", key, value)
}

// AddMetadataNamespace is AddMetadata with a namespace of your choosing.
func AddMetadataNamespace(ctx context.Context, namespace, key string, value any) error {
	if _, ok := stateFrom(ctx); !ok {
		return ErrNoSegment
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("sidelight: metadata %q: %w", key, err)
	}
	return update(ctx, func(seg *xray.Segment) {
		seg.Metadata = append(seg.Metadata, xray.Metadata{Namespace: namespace, Key: key, JSON: raw})
	})
}

// SetUser records the user the request acted for.
func SetUser(ctx context.Context, user string) error {
	return update(ctx, func(seg *xray.Segment) { seg.User = user })
}

// RecordError adds err, with the caller's stack, to the cause of the
// request's segment and marks the segment as a fault.
func RecordError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	return update(ctx, func(seg *xray.Segment) {
		seg.Fault = true
		addCause(seg, err, 3)
	})
}

func update(ctx context.Context, f func(*xray.Segment)) error {
	s, ok := stateFrom(ctx)
	if !ok {
		return ErrNoSegment
	}
	if !s.sc.IsSampled() {
		return nil
	}
	if !s.with(f) {
		return ErrSegmentClosed
	}
	return nil
}

// TraceID returns the X-Ray trace ID of the request ctx belongs to, such as
// 1-5759e988-bd862e3fe1be46a994272793, for logs and error pages.
func TraceID(ctx context.Context) (string, bool) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", false
	}
	return xray.FormatTraceID(sc.TraceID()), true
}
