package otlphttp

import (
	"fmt"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
)

// part is one queued piece of an export request: an encoded resource
// message (ResourceSpans, ResourceLogs or ResourceMetrics) with one scope
// and a run of items.
type part struct {
	b          []byte
	items      int
	minT, maxT uint64 // unix nanoseconds of the earliest and latest item; 0 when unknown
}

// partTargetBytes and partTargetItems bound one part, so that workers can
// join parts into requests close to the limits.
const (
	partTargetBytes = 256 << 10
	partTargetItems = 1024
)

// entrySize is the budget charge of a part: its bytes, which the
// allocator rounds up to a size class, and its slot in the queue.
func entrySize(n int) int64 { return int64(n + n/8 + 96) }

// framed is the size of b as one field of its parent message.
func framed(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

// splitter turns one export request into parts, dropping what breaks the
// limits for good.
type splitter struct {
	lim      Limits
	now      time.Time
	parts    []queue.Entry[part]
	items    int   // items taken
	rejected int64 // items dropped for good
	why      string
	err      error
	rawSpans []rawSpan // the raw path's spans of one scope, reused
}

func (s *splitter) reject(n int, why string) {
	s.rejected += int64(n)
	if s.why == "" {
		s.why = why
	}
}

// inWindow reports whether t (unix nanoseconds; 0 is unknown) is within
// the limits' time window.
func (s *splitter) inWindow(t uint64) bool {
	if t == 0 {
		return true
	}
	if lo := s.now.Add(-s.lim.MaxPast).UnixNano(); s.lim.MaxPast > 0 && lo > 0 && t < uint64(lo) {
		return false
	}
	return s.lim.MaxFuture <= 0 || t <= uint64(s.now.Add(s.lim.MaxFuture).UnixNano())
}

// run collects the items of one resource and scope into parts. head is
// the encoded size of the resource and scope; build encodes the items
// [i, j) as one resource message.
type run struct {
	s          *splitter
	head       int
	start, n   int
	bytes      int
	minT, maxT uint64
	build      func(i, j int) proto.Message
	// encode, when set, encodes the items [i, j) itself instead of
	// marshalling build's message (the raw path).
	encode func(i, j int) []byte
}

func (r *run) flush(end int) {
	if r.n == 0 {
		r.start = end
		return
	}
	// add sized every item with proto.Size, which caches the sizes: the
	// encoding reuses them instead of walking the items a second time.
	var b []byte
	var err error
	if r.encode != nil {
		b = r.encode(r.start, end)
	} else {
		b, err = proto.MarshalOptions{UseCachedSize: true}.Marshal(r.build(r.start, end))
	}
	if err != nil {
		r.s.err = err
		r.s.reject(r.n, "cannot encode: "+err.Error())
	} else {
		r.s.parts = append(r.s.parts, queue.Entry[part]{Value: part{b: b, items: r.n, minT: r.minT, maxT: r.maxT}, Size: entrySize(len(b))})
		r.s.items += r.n
	}
	r.start, r.n, r.bytes, r.minT, r.maxT = end, 0, 0, 0, 0
}

// add takes item i of size (encoded) and time t into the run, or drops
// it for breaking the limits, ending the part before it so that no build
// includes it.
func (r *run) add(i, size int, t uint64) {
	lim := r.s.lim
	switch {
	case lim.MaxItemBytes > 0 && size > lim.MaxItemBytes:
		r.drop(i, fmt.Sprintf("item of %d bytes exceeds the endpoint's %d", size, lim.MaxItemBytes))
		return
	case r.head+framed(size)+16 > lim.MaxRequestBytes:
		r.drop(i, fmt.Sprintf("item of %d bytes does not fit in a request of %d", size, lim.MaxRequestBytes))
		return
	case !r.s.inWindow(t):
		r.drop(i, "time outside the endpoint's window (14 days ago to 2 hours ahead for X-Ray)")
		return
	}
	gapTooWide := lim.MaxGap > 0 && t != 0 && r.minT != 0 &&
		(time.Duration(max(r.maxT, t)-min(r.minT, t)) > lim.MaxGap)
	if r.n > 0 && (r.head+r.bytes+framed(size) > min(partTargetBytes, lim.MaxRequestBytes) || r.n >= min(partTargetItems, lim.MaxItems) || gapTooWide) {
		r.flush(i)
	}
	if r.n == 0 {
		r.start = i
	}
	r.n++
	r.bytes += framed(size)
	if t != 0 {
		if r.minT == 0 || t < r.minT {
			r.minT = t
		}
		r.maxT = max(r.maxT, t)
	}
}

// drop leaves item i out for good, ending the part before it.
func (r *run) drop(i int, why string) {
	r.flush(i)
	r.start = i + 1
	r.s.reject(1, why)
}

// validID reports whether id has n bytes, not all zero (OTLP's rule for
// trace and span IDs; an endpoint refuses a whole request for one bad ID).
func validID(id []byte, n int) bool {
	if len(id) != n {
		return false
	}
	for _, b := range id {
		if b != 0 {
			return true
		}
	}
	return false
}

// resourceScope checks the resource and scope limit; head is their size.
func (s *splitter) resourceScope(res *resourcepb.Resource, scope *commonpb.InstrumentationScope, items int) (head int, ok bool) {
	return s.resourceScopeSize(proto.Size(res), proto.Size(scope), items)
}

// resourceScopeSize is resourceScope for encoded sizes.
func (s *splitter) resourceScopeSize(res, scope, items int) (head int, ok bool) {
	head = framed(res) + framed(scope) + 8
	if s.lim.MaxResourceScopeBytes > 0 && res+scope > s.lim.MaxResourceScopeBytes {
		s.reject(items, fmt.Sprintf("resource and scope of %d bytes exceed the endpoint's %d", res+scope, s.lim.MaxResourceScopeBytes))
		return head, false
	}
	return head, true
}

func (s *splitter) traces(req *coltracepb.ExportTraceServiceRequest) {
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			s.spans(rs.GetResource(), rs.GetSchemaUrl(), ss)
		}
	}
}

func (s *splitter) spans(res *resourcepb.Resource, schema string, ss *tracepb.ScopeSpans) {
	spans := ss.GetSpans()
	head, ok := s.resourceScope(res, ss.GetScope(), len(spans))
	if !ok {
		return
	}
	r := &run{s: s, head: head, build: func(i, j int) proto.Message {
		return &tracepb.ResourceSpans{Resource: res, SchemaUrl: schema, ScopeSpans: []*tracepb.ScopeSpans{
			{Scope: ss.GetScope(), SchemaUrl: ss.GetSchemaUrl(), Spans: spans[i:j]}}}
	}}
	for i, sp := range spans {
		if !validID(sp.GetTraceId(), 16) || !validID(sp.GetSpanId(), 8) {
			r.drop(i, "a span without a valid trace or span ID")
			continue
		}
		t := sp.GetStartTimeUnixNano()
		if s.inWindow(t) && !s.inWindow(sp.GetEndTimeUnixNano()) {
			t = sp.GetEndTimeUnixNano() // checked by add
		}
		r.add(i, proto.Size(sp), t)
	}
	r.flush(len(spans))
}

func (s *splitter) logs(req *collogspb.ExportLogsServiceRequest) {
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			res, schema := rl.GetResource(), rl.GetSchemaUrl()
			recs := sl.GetLogRecords()
			head, ok := s.resourceScope(res, sl.GetScope(), len(recs))
			if !ok {
				continue
			}
			r := &run{s: s, head: head, build: func(i, j int) proto.Message {
				return &logspb.ResourceLogs{Resource: res, SchemaUrl: schema, ScopeLogs: []*logspb.ScopeLogs{
					{Scope: sl.GetScope(), SchemaUrl: sl.GetSchemaUrl(), LogRecords: recs[i:j]}}}
			}}
			for i, lr := range recs {
				r.add(i, proto.Size(lr), cmpOr(lr.GetTimeUnixNano(), lr.GetObservedTimeUnixNano()))
			}
			r.flush(len(recs))
		}
	}
}

func (s *splitter) metrics(req *colmetricpb.ExportMetricsServiceRequest) {
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			res, schema := rm.GetResource(), rm.GetSchemaUrl()
			ms := sm.GetMetrics()
			head, ok := s.resourceScope(res, sm.GetScope(), len(ms))
			if !ok {
				continue
			}
			r := &run{s: s, head: head, build: func(i, j int) proto.Message {
				return &metricpb.ResourceMetrics{Resource: res, SchemaUrl: schema, ScopeMetrics: []*metricpb.ScopeMetrics{
					{Scope: sm.GetScope(), SchemaUrl: sm.GetSchemaUrl(), Metrics: ms[i:j]}}}
			}}
			// A metric is kept whole: its data points count as one item
			// each against MaxItems only through the part's item count.
			for i, m := range ms {
				r.add(i, proto.Size(m), 0)
			}
			r.flush(len(ms))
		}
	}
}

func cmpOr(a, b uint64) uint64 {
	if a != 0 {
		return a
	}
	return b
}
