package red

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
)

var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", MethodOther}

var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

const (
	nMethods = len(methods)
	nClasses = len(classes)
)

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "PATCH":
		return 4
	case "DELETE":
		return 5
	case "CONNECT":
		return 6
	case "OPTIONS":
		return 7
	case "TRACE":
		return 8
	}
	return 9
}

func classIndex(status int) int {
	if status < 100 || status > 599 {
		return 5
	}
	return status/100 - 1
}

// series is one (route, method, status class) aggregate.
type series struct {
	mu           sync.Mutex
	count        uint64
	clientErrors uint64
	faults       uint64
	throttles    uint64
	lo, hi       int // bucket range in use; lo > hi when empty
	hist         [nBuckets]uint32
	slowest      time.Duration // of the slowest traced request
	slowestTrace trace.TraceID // zero: none
	errorTrace   trace.TraceID
	errorIsFault bool
}

type route struct {
	value  string // dimension value, sanitised
	series [nMethods][nClasses]atomic.Pointer[series]
}

// Recorder aggregates requests and writes RED metrics. Create it with New;
// its methods are safe for concurrent use.
type Recorder struct {
	cfg    Config
	logger *emf.Logger

	mu                  sync.Mutex                        // serialises route additions
	routes              atomic.Pointer[map[string]*route] // copied on write: lookups take no lock
	list                []*route                          // every route, for Flush; only grows; under mu
	unmatched, overflow *route
	full                atomic.Bool // MaxRoutes reached

	flushMu  sync.Mutex
	snap     series             // Flush's copy of one series
	sets     [3][]emf.Dimension // Flush's dimension sets
	scratch  []float64
	stop     chan struct{}
	done     chan struct{}
	shutdown sync.Once
	err      error
}

// New returns a Recorder and starts its flush loop (unless cfg.Disabled).
// Call Shutdown to stop it and write what is left.
func New(cfg Config) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	r := &Recorder{cfg: cfg, done: make(chan struct{}), stop: make(chan struct{})}
	r.routes.Store(&map[string]*route{})
	n := cfg.Names
	if n.Latency == "-" && n.Requests == "-" && n.ClientErrors == "-" && n.Faults == "-" && n.Throttles == "-" {
		r.cfg.Disabled = true
	}
	if r.cfg.Disabled {
		close(r.done)
		return r, nil
	}
	opts := []emf.Option{emf.WithDefaultDimensions(), emf.WithClock(cfg.Now), emf.WithLogger(cfg.Logger), emf.WithServiceName(cfg.Service)}
	if cfg.Namespace != "" {
		opts = append(opts, emf.WithNamespace(cfg.Namespace))
	}
	if cfg.Sink != nil {
		opts = append(opts, emf.WithSink(cfg.Sink))
	}
	l, err := emf.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("red: %w", err)
	}
	// Check the names and the Service value once, here, so flushes cannot
	// fail on them later.
	if err := checkNames(l, cfg.Service, n); err != nil {
		_ = l.Shutdown(context.Background())
		return nil, err
	}
	r.logger = l
	r.unmatched = r.addRouteLocked(RouteUnmatched, RouteUnmatched)
	r.overflow = r.addRouteLocked(RouteOverflow, RouteOverflow)
	go r.run()
	return r, nil
}

// checkNames puts every dimension, property and metric name once through l,
// which refuses invalid and clashing names.
func checkNames(l *emf.Logger, service string, n Names) error {
	defer l.Reset()
	err := l.PutDimensions(emf.Dimension{Name: redmetric.Service, Value: service}, emf.Dimension{Name: redmetric.Route, Value: "r"},
		emf.Dimension{Name: redmetric.Method, Value: "m"}, emf.Dimension{Name: redmetric.StatusClass, Value: "c"})
	if err == nil {
		err = errors.Join(l.SetProperty("SlowestTraceId", "t"), l.SetProperty("ErrorTraceId", "t"))
	}
	if err != nil {
		return fmt.Errorf("red: %w", err)
	}
	seen := map[string]bool{}
	for _, name := range []string{n.Latency, n.Requests, n.ClientErrors, n.Faults, n.Throttles} {
		if name == "-" {
			continue
		}
		if seen[name] {
			return fmt.Errorf("red: metric name %q used twice", name)
		}
		seen[name] = true
		if err := l.PutMetric(name, 0, emf.Count); err != nil {
			return fmt.Errorf("red: metric name: %w", err)
		}
	}
	return nil
}

// addRouteLocked publishes a copy of the route map with one more route.
// Copies are cheap: there are at most MaxRoutes+2 routes.
func (r *Recorder) addRouteLocked(key, value string) *route {
	rt := &route{value: value}
	old := *r.routes.Load()
	m := make(map[string]*route, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[key] = rt
	r.routes.Store(&m)
	r.list = append(r.list, rt)
	return rt
}

// Observe records one request: the route pattern that matched ("" when
// none did), the request method, the response status, how long it took
// and the request's trace ID (zero when not sampled). It does not
// allocate in steady state, takes no lock shared by all requests (only one
// per series), and never blocks on I/O.
func (r *Recorder) Observe(routeName, method string, status int, d time.Duration, traceID trace.TraceID) {
	if r.cfg.Disabled {
		return
	}
	rt := r.unmatched
	if routeName != "" {
		rt = (*r.routes.Load())[routeName]
		if rt == nil {
			rt = r.newRoute(routeName)
		}
	}
	p := &rt.series[methodIndex(method)][classIndex(status)]
	s := p.Load()
	if s == nil {
		s = newSeries()
		if !p.CompareAndSwap(nil, s) {
			s = p.Load()
		}
	}
	if d < 0 {
		d = 0
	}
	b := bucketOf(uint64(d / time.Microsecond))
	s.mu.Lock()
	s.count++
	s.hist[b]++
	s.lo, s.hi = min(s.lo, b), max(s.hi, b)
	if traceID.IsValid() && (!s.slowestTrace.IsValid() || d > s.slowest) {
		s.slowest, s.slowestTrace = d, traceID
	}
	switch {
	case status == 429:
		s.throttles++
		s.clientErrors++
		s.noteError(traceID, false)
	case status >= 400 && status < 500:
		s.clientErrors++
		s.noteError(traceID, false)
	case status >= 500 && status < 600:
		s.faults++
		s.noteError(traceID, true)
	}
	s.mu.Unlock()
}

// noteError keeps the latest error's trace ID, preferring faults.
func (s *series) noteError(traceID trace.TraceID, fault bool) {
	if !traceID.IsValid() || (s.errorIsFault && !fault) {
		return
	}
	s.errorTrace, s.errorIsFault = traceID, fault
}

func newSeries() *series { return &series{lo: nBuckets, hi: -1} }

// newRoute adds a route, or returns the overflow route past MaxRoutes.
func (r *Recorder) newRoute(name string) *route {
	if r.full.Load() {
		return r.overflow // no exclusive lock per request once full
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rt := (*r.routes.Load())[name]; rt != nil {
		return rt
	}
	if len(r.list)-2 >= r.cfg.MaxRoutes {
		r.full.Store(true)
		r.cfg.Logger.Warn("red: route limit reached, further routes are recorded as overflow", "max_routes", r.cfg.MaxRoutes)
		return r.overflow
	}
	return r.addRouteLocked(name, sanitize(name))
}

// sanitize makes a route usable as a dimension value: printable ASCII, at
// most 1024 bytes, not blank.
func sanitize(s string) string {
	if len(s) > 1024 {
		s = s[:1024]
	}
	b := []byte(s)
	blank := true
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
		if c != ' ' {
			blank = false
		}
	}
	if blank {
		return RouteUnmatched
	}
	return string(b)
}

func (r *Recorder) run() {
	defer close(r.done)
	tick := r.cfg.Tick
	if tick == nil {
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-r.stop:
			return
		case <-tick:
			ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Interval)
			if err := r.Flush(ctx); err != nil {
				r.cfg.Logger.Warn("red: flush failed", "error", err.Error())
			}
			cancel()
		}
	}
}

// Flush writes every series observed since the last flush and resets it.
// The flush loop calls it every Interval; call it directly to write now.
func (r *Recorder) Flush(ctx context.Context) error {
	if r.cfg.Disabled {
		return nil
	}
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	list := r.list[:len(r.list):len(r.list)]
	r.mu.Unlock()
	var errs []error
	for _, rt := range list {
		for m := range nMethods {
			for c := range nClasses {
				s := rt.series[m][c].Load()
				if s == nil || !r.take(s) {
					continue
				}
				if err := r.write(ctx, rt.value, methods[m], classes[c]); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// take moves s into r.snap and resets s; it reports whether s had data.
func (r *Recorder) take(s *series) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count == 0 {
		return false
	}
	d := &r.snap
	d.count, d.clientErrors, d.faults, d.throttles = s.count, s.clientErrors, s.faults, s.throttles
	d.slowest, d.slowestTrace, d.errorTrace = s.slowest, s.slowestTrace, s.errorTrace
	d.lo, d.hi = s.lo, s.hi
	copy(d.hist[s.lo:s.hi+1], s.hist[s.lo:s.hi+1])
	clear(s.hist[s.lo : s.hi+1])
	s.count, s.clientErrors, s.faults, s.throttles = 0, 0, 0, 0
	s.slowest, s.slowestTrace, s.errorTrace, s.errorIsFault = 0, trace.TraceID{}, trace.TraceID{}, false
	s.lo, s.hi = nBuckets, -1
	return true
}

// write emits r.snap as EMF documents.
func (r *Recorder) write(ctx context.Context, routeValue, method, class string) error {
	l, d, n := r.logger, &r.snap, r.cfg.Names
	l.Reset()
	svc := emf.Dimension{Name: redmetric.Service, Value: r.cfg.Service}
	r.sets[0] = append(r.sets[0][:0], svc, emf.Dimension{Name: redmetric.Route, Value: routeValue},
		emf.Dimension{Name: redmetric.Method, Value: method}, emf.Dimension{Name: redmetric.StatusClass, Value: class})
	r.sets[1] = append(r.sets[1][:0], svc)
	sets := r.sets[:2]
	if r.cfg.Version != nil {
		if v := r.cfg.Version(); v != "" {
			r.sets[2] = append(r.sets[2][:0], svc, emf.Dimension{Name: redmetric.Version, Value: v})
			sets = r.sets[:3]
		}
	}
	err := l.SetDimensions(sets...)
	if err != nil {
		return err
	}
	put := func(name string, v uint64) {
		if name != "-" && err == nil {
			err = l.PutMetric(name, float64(v), emf.Count)
		}
	}
	put(n.Requests, d.count)
	put(n.ClientErrors, d.clientErrors)
	put(n.Faults, d.faults)
	put(n.Throttles, d.throttles)
	if n.Latency != "-" {
		r.scratch = thin(r.scratch[:0], d.hist[d.lo:d.hi+1], d.lo, d.count, r.cfg.MaxLatencyValues)
		for i := range r.scratch {
			r.scratch[i] /= 1000 // µs → ms
		}
		if err == nil {
			err = l.PutMetricValues(n.Latency, emf.Milliseconds, r.scratch...)
		}
	}
	if d.slowestTrace.IsValid() && err == nil {
		err = l.SetProperty("SlowestTraceId", xray.FormatTraceID(d.slowestTrace))
	}
	if d.errorTrace.IsValid() && err == nil {
		err = l.SetProperty("ErrorTraceId", xray.FormatTraceID(d.errorTrace))
	}
	if err != nil {
		return fmt.Errorf("red: series %s %s %s: %w", routeValue, method, class, err)
	}
	return l.Flush(ctx)
}

// thin appends the bucket middles (µs) of hist, each repeated by its count,
// to dst; when the total exceeds max it scales every count by max/total
// with error diffusion, so the shape of the distribution is kept, and
// always keeps one value of the lowest and highest bucket.
func thin(dst []float64, hist []uint32, first int, total uint64, limit int) []float64 {
	if total <= uint64(limit) {
		for i, c := range hist {
			for range c {
				dst = append(dst, bucketMiddle(first+i))
			}
		}
		return dst
	}
	f := float64(limit) / float64(total)
	carry := 0.0
	for i, c := range hist {
		if c == 0 {
			continue
		}
		x := float64(c)*f + carry
		k := int(x)
		carry = x - float64(k)
		if k == 0 && (i == 0 || i == len(hist)-1) {
			k = 1
		}
		for range k {
			dst = append(dst, bucketMiddle(first+i))
		}
	}
	return dst
}

// Shutdown stops the flush loop, flushes what is left and shuts down the
// sink if the Recorder created it. It honours ctx's deadline.
func (r *Recorder) Shutdown(ctx context.Context) error {
	r.shutdown.Do(func() {
		if r.cfg.Disabled {
			return
		}
		close(r.stop)
		select {
		case <-r.done:
		case <-ctx.Done():
			// Still release the sink; its own Shutdown gives up at once.
			r.err = errors.Join(ctx.Err(), r.logger.Shutdown(ctx))
			return
		}
		r.err = errors.Join(r.Flush(ctx), r.logger.Shutdown(ctx))
	})
	return r.err
}
