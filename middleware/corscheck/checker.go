package corscheck

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Checker evaluates cross-origin exchanges. Build one with New; the zero
// value behaves as New() with no options. A Checker is immutable and safe
// for concurrent use.
type Checker struct {
	creds  Credentials
	needed []name
}

// Option configures a Checker.
type Option interface{ apply(*config) }

type config struct {
	creds  Credentials
	needed []name
	errs   []error
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithCredentials declares the credentials mode the site's pages use for
// their cross-origin requests, so that verdicts need not report
// DependsOnCredentials. The default, CredentialsUnknown, evaluates both
// modes unless a request carries a Cookie header (which proves "include").
func WithCredentials(mode Credentials) Option {
	return optionFunc(func(c *config) {
		if mode > CredentialsInclude {
			c.errs = append(c.errs, fmt.Errorf("corscheck: unknown credentials mode %d", mode))
			return
		}
		c.creds = mode
	})
}

// WithNeededResponseHeaders names response headers the site's pages read
// (for example X-Request-Id or a pagination header). When a response carries
// one that Access-Control-Expose-Headers does not expose, the verdict gets
// WarnHeaderNotExposed. Names are matched case-insensitively; names that are
// not valid header field names make New fail.
func WithNeededResponseHeaders(names ...string) Option {
	return optionFunc(func(c *config) {
		for _, n := range names {
			if !isToken(n) {
				c.errs = append(c.errs, fmt.Errorf("corscheck: %q is not a header field name", n))
				continue
			}
			c.needed = append(c.needed, name{http.CanonicalHeaderKey(n), strings.ToLower(n)})
		}
	})
}

// New returns a Checker configured by opts.
func New(opts ...Option) (*Checker, error) {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return &Checker{creds: c.creds, needed: c.needed}, nil
}

var defaultChecker = &Checker{}

// Evaluate is Checker.Evaluate with the default configuration.
func Evaluate(r *http.Request, status int, resp http.Header) (Verdict, bool) {
	return defaultChecker.Evaluate(r, status, resp)
}

// EvaluateEvent is Checker.EvaluateEvent with the default configuration.
func EvaluateEvent(e *Event) (Verdict, bool) {
	return defaultChecker.EvaluateEvent(e)
}

// Evaluate returns the browser's verdict on the response (status and
// headers resp) that the server gave to r. ok is false, and nothing is
// evaluated, when r is not a request the browser CORS-checks: it has no
// Origin header (this case allocates nothing), or Sec-Fetch-Mode says it is
// not in cors mode, or it is same-origin (Sec-Fetch-Site, or Origin naming
// r.Host), or, without Sec-Fetch-Mode, it is a WebSocket handshake or a
// navigation. Call it after the handler has written its header, with the
// status it wrote.
func (c *Checker) Evaluate(r *http.Request, status int, resp http.Header) (Verdict, bool) {
	vs := r.Header["Origin"]
	if len(vs) == 0 {
		return Verdict{}, false
	}
	origin := trimOWS(vs[0])
	if origin == "" {
		return Verdict{}, false
	}
	x := exchange{
		method: r.Method,
		origin: origin,
		host:   r.Host,
		req:    fields{std: r.Header},
		resp:   fields{std: resp, fold: true},
		status: status,
	}
	return c.evaluate(&x)
}

// Event is a request and its response in the shape of Lambda event sources:
// API Gateway REST APIs (events.APIGatewayProxyRequest and Response, with
// both header maps), HTTP APIs and Function URLs (single-value maps whose
// repeated values are comma-joined, and a separate Cookies list), and ALB
// targets (either map). Header names are matched case-insensitively; a name
// present in a multi-value map wins over the single-value map.
type Event struct {
	// Method is the request's HTTP method.
	Method string
	// RequestHeaders and MultiValueRequestHeaders are the request's headers.
	RequestHeaders           map[string]string
	MultiValueRequestHeaders map[string][]string
	// Cookies is the request's cookie list, for HTTP APIs and Function URLs,
	// which move the Cookie header there.
	Cookies []string
	// Status is the response's status code.
	Status int
	// ResponseHeaders and MultiValueResponseHeaders are the response's
	// headers.
	ResponseHeaders           map[string]string
	MultiValueResponseHeaders map[string][]string
}

// EvaluateEvent is Evaluate for Lambda events. The request's Host header
// stands for the server's own origin.
func (c *Checker) EvaluateEvent(e *Event) (Verdict, bool) {
	x := exchange{
		method:  e.Method,
		req:     fields{multi: e.MultiValueRequestHeaders, single: e.RequestHeaders},
		resp:    fields{multi: e.MultiValueResponseHeaders, single: e.ResponseHeaders},
		status:  e.Status,
		cookies: len(e.Cookies) > 0,
	}
	origin, ok := x.req.get(hOrigin)
	if !ok || origin == "" {
		return Verdict{}, false
	}
	x.origin = origin
	x.host, _ = x.req.get(hHost)
	return c.evaluate(&x)
}
