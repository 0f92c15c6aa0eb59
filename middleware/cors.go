package middleware

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

// WithCORSChecker sets how CORS verdicts are reached (for example which
// response headers your pages need exposed). By default every request that
// carries Origin gets the verdict a browser would reach, recorded as
// cors_* annotations on its segment, and blocked responses are counted in
// the CORSBlocked metric per Route and Reason.
func WithCORSChecker(c *corscheck.Checker) Option {
	return optionFunc(func(cfg *config) {
		if c != nil {
			cfg.corsChecker = c
		}
	})
}

// WithoutCORSVerdicts switches CORS verdicts off.
func WithoutCORSVerdicts() Option {
	return optionFunc(func(cfg *config) { cfg.cors = false })
}

// corsVerdict evaluates the response the way a browser would, when the
// request carries Origin (and costs a map lookup when it does not).
func (h *handler) corsVerdict(seg *xray.Segment, r *http.Request, rw *responseWriter, status int, route string) {
	if !h.cfg.cors || rw.hijacked {
		return
	}
	v, ok := h.cfg.corsChecker.Evaluate(r, status, rw.Header())
	if !ok {
		return
	}
	if seg != nil {
		v.Annotate(func(key string, value any) {
			switch x := value.(type) {
			case bool:
				seg.Annotations = append(seg.Annotations, xray.BoolAttr(key, x))
			case string:
				seg.Annotations = append(seg.Annotations, xray.StringAttr(key, x))
			}
		})
	}
	if v.Outcome == corscheck.Blocked && h.metrics != nil && h.metrics.recorder() != nil {
		h.metrics.cors.add(route, string(v.Code))
	}
}

// corsCounts counts blocked responses per route and reason between writes.
// Codes are a fixed set and routes are capped, so the map stays small.
type corsCounts struct {
	service string
	logger  *emf.Logger
	mu      sync.Mutex
	counts  map[[2]string]uint64
	routes  map[string]bool
	max     int
}

func newCORSCounts(service string, l *emf.Logger, maxRoutes int) *corsCounts {
	if maxRoutes <= 0 {
		maxRoutes = 100
	}
	return &corsCounts{service: service, logger: l, counts: make(map[[2]string]uint64), routes: make(map[string]bool), max: maxRoutes}
}

func (c *corsCounts) add(route, code string) {
	if route == "" {
		route = "unmatched"
	}
	c.mu.Lock()
	if !c.routes[route] {
		if len(c.routes) >= c.max {
			route = "overflow"
		}
		c.routes[route] = true
	}
	c.counts[[2]string{route, code}]++
	c.mu.Unlock()
}

// flush writes one document per route and reason counted since the last
// flush.
func (c *corsCounts) flush(ctx context.Context) error {
	c.mu.Lock()
	counts := c.counts
	c.counts = make(map[[2]string]uint64, len(counts))
	c.mu.Unlock()
	var errs []error
	for k, n := range counts {
		err := c.logger.SetDimensions([]emf.Dimension{
			{Name: redmetric.Service, Value: c.service},
			{Name: corscheck.DimensionRoute, Value: k[0]},
			{Name: corscheck.DimensionReason, Value: k[1]},
		})
		if err == nil {
			err = c.logger.PutMetric(corscheck.MetricBlocked, float64(n), emf.Count)
		}
		if err == nil {
			err = c.logger.Flush(ctx)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
