package compare

import (
	"cmp"
	"errors"
	"math"
	"slices"
)

// Verdict is the outcome for one route.
type Verdict string

// Verdicts.
const (
	Pass          Verdict = "pass"
	Fail          Verdict = "fail"
	NotEnoughData Verdict = "not_enough_data"
)

// Defaults of Config.
const (
	DefaultAlpha       = 0.05
	DefaultMinRequests = 30
	DefaultMaxRoutes   = 500
)

// Config sets the tests' thresholds. The zero value takes the defaults.
type Config struct {
	// Alpha is the probability that a route with no real difference
	// fails (default DefaultAlpha); each of the three tests runs at
	// Alpha/3.
	Alpha float64 `json:"alpha"`
	// MinRequests is the fewest requests each side needs on a route for
	// a verdict other than not enough data (default DefaultMinRequests).
	MinRequests int `json:"min_requests"`
}

func (c Config) withDefaults() Config {
	if !(c.Alpha > 0 && c.Alpha < 1) {
		c.Alpha = DefaultAlpha
	}
	if c.MinRequests < 2 {
		c.MinRequests = DefaultMinRequests
	}
	return c
}

// Side holds the requests of one side of a comparison (a version or a
// time window), by route. It is not safe for concurrent use.
type Side struct {
	label     string
	maxRoutes int
	routes    map[string]*routeSample
	dropped   int
}

type routeSample struct {
	latencies      []float64 // milliseconds
	errors, faults int
}

// NewSide returns an empty side named label, holding at most maxRoutes
// routes (DefaultMaxRoutes when maxRoutes < 1): requests on further routes
// are dropped and counted.
func NewSide(label string, maxRoutes int) *Side {
	if maxRoutes < 1 {
		maxRoutes = DefaultMaxRoutes
	}
	return &Side{label: label, maxRoutes: maxRoutes, routes: map[string]*routeSample{}}
}

// ErrBadLatency is returned by Add for a latency that is negative, NaN or
// infinite; the request is dropped and counted.
var ErrBadLatency = errors.New("compare: latency must be a finite number of milliseconds, not negative")

// ErrTooManyRoutes is returned by Add for a request on a new route when
// the side holds its maximum; the request is dropped and counted.
var ErrTooManyRoutes = errors.New("compare: too many routes")

// Add records a request: its route, its latency in milliseconds and its
// HTTP status (5xx is a fault, 4xx an error).
func (s *Side) Add(route string, latencyMs float64, status int) error {
	if latencyMs < 0 || math.IsNaN(latencyMs) || math.IsInf(latencyMs, 0) {
		s.dropped++
		return ErrBadLatency
	}
	r := s.routes[route]
	if r == nil {
		if len(s.routes) >= s.maxRoutes {
			s.dropped++
			return ErrTooManyRoutes
		}
		r = &routeSample{}
		s.routes[route] = r
	}
	r.latencies = append(r.latencies, latencyMs)
	switch {
	case status >= 500 && status <= 599:
		r.faults++
	case status >= 400 && status <= 499:
		r.errors++
	}
	return nil
}

// Label returns the side's name.
func (s *Side) Label() string { return s.label }

// Dropped returns how many requests Add refused.
func (s *Side) Dropped() int { return s.dropped }

// Summary describes one side of a route.
type Summary struct {
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	Faults    int     `json:"faults"`
	ErrorRate float64 `json:"error_rate"`
	FaultRate float64 `json:"fault_rate"`
	P50       float64 `json:"p50_ms"`
	P90       float64 `json:"p90_ms"`
	P99       float64 `json:"p99_ms"`
}

// Test is the outcome of one test on a route.
type Test struct {
	// Method names the test: "mann-whitney-u", "two-proportion-z" or
	// "fisher-exact".
	Method string `json:"method"`
	// U is the Mann-Whitney statistic: the number of (baseline,
	// candidate) pairs in which the candidate is slower, ties counting
	// half (0 for the proportion tests).
	U float64 `json:"u,omitempty"`
	// Z is the test statistic of the normal approximations (0 for
	// Fisher's test).
	Z float64 `json:"z"`
	// P is the one-sided p-value for "the candidate is worse".
	P float64 `json:"p"`
	// Worse is true when P is below the per-test threshold (Alpha/3).
	Worse bool `json:"worse"`
}

// Route is the verdict for one route and what it rests on.
type Route struct {
	Route     string  `json:"route"`
	Verdict   Verdict `json:"verdict"`
	Baseline  Summary `json:"baseline"`
	Candidate Summary `json:"candidate"`
	Latency   Test    `json:"latency"`
	Faults    Test    `json:"faults"`
	Errors    Test    `json:"errors"`
}

// Report is the comparison of two sides.
type Report struct {
	Baseline  string  `json:"baseline"`
	Candidate string  `json:"candidate"`
	Config    Config  `json:"config"`
	Routes    []Route `json:"routes"`
	// Method states the tests, for the page and the JSON endpoint.
	Method string `json:"method"`
}

// Method is the statement of the tests, shown with the verdicts.
const Method = "Per route, one-sided tests that the candidate is worse: Mann-Whitney U on latencies (normal approximation, tie-corrected), " +
	"two-proportion z-test on fault (5xx) and error (4xx) rates (Fisher's exact test when an expected count is below 5); " +
	"a route fails when any p-value is below alpha/3, and has not enough data below the minimum requests per side."

// work counts the elementary steps of a comparison (comparisons while
// sorting, elements ranked); tests use it to check the cost.
type work struct{ ops int }

// Compare judges every route the candidate served (routes the baseline
// never saw have not enough data), in route order.
func Compare(baseline, candidate *Side, cfg Config) Report {
	var w work
	return compare(baseline, candidate, cfg, &w)
}

func compare(baseline, candidate *Side, cfg Config, w *work) Report {
	cfg = cfg.withDefaults()
	rep := Report{Baseline: baseline.label, Candidate: candidate.label, Config: cfg, Method: Method}
	threshold := cfg.Alpha / 3
	routes := make([]string, 0, len(candidate.routes))
	for r := range candidate.routes {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, name := range routes {
		c := candidate.routes[name]
		b := baseline.routes[name]
		if b == nil {
			b = &routeSample{}
		}
		bs, cs := sortedCopy(b.latencies, w), sortedCopy(c.latencies, w)
		r := Route{Route: name, Baseline: summarize(bs, b), Candidate: summarize(cs, c)}
		if len(bs) == 0 || len(cs) == 0 {
			r.Verdict = NotEnoughData
			rep.Routes = append(rep.Routes, r)
			continue
		}
		r.Latency = mannWhitney(bs, cs, w)
		r.Faults = proportions(b.faults, len(bs), c.faults, len(cs), w)
		r.Errors = proportions(b.errors, len(bs), c.errors, len(cs), w)
		for _, t := range []*Test{&r.Latency, &r.Faults, &r.Errors} {
			t.Worse = t.P < threshold
		}
		switch {
		case len(bs) < cfg.MinRequests || len(cs) < cfg.MinRequests:
			r.Verdict = NotEnoughData
		case r.Latency.Worse || r.Faults.Worse || r.Errors.Worse:
			r.Verdict = Fail
		default:
			r.Verdict = Pass
		}
		rep.Routes = append(rep.Routes, r)
	}
	return rep
}

func sortedCopy(v []float64, w *work) []float64 {
	out := slices.Clone(v)
	slices.SortFunc(out, func(a, b float64) int { w.ops++; return cmp.Compare(a, b) })
	return out
}

func summarize(sorted []float64, s *routeSample) Summary {
	n := len(sorted)
	sum := Summary{Requests: n, Errors: s.errors, Faults: s.faults}
	if n == 0 {
		return sum
	}
	sum.ErrorRate = float64(s.errors) / float64(n)
	sum.FaultRate = float64(s.faults) / float64(n)
	sum.P50, sum.P90, sum.P99 = quantile(sorted, 0.50), quantile(sorted, 0.90), quantile(sorted, 0.99)
	return sum
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
