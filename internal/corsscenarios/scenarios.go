package corsscenarios

import (
	"slices"
	"strings"
)

// Scenario is one call the page makes, and what the browser does with it.
type Scenario struct {
	// ID is the route's name, e.g. "s4/broken-traceparent"; Path is "/"+ID.
	ID   string `json:"id"`
	Path string `json:"path"`
	// Number is the scenario number, 1 to 9.
	Number int `json:"number"`
	// Title says what is wrong or right, in a few words.
	Title string `json:"title"`
	// Method, Headers and Credentials are the fetch() options the page
	// uses. Credentials is "same-origin" (fetch's default) or "include".
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers,omitempty"`
	Credentials string            `json:"credentials"`
	// ReadHeader is a response header the page reads, if any.
	ReadHeader string `json:"readHeader,omitempty"`
	// PrimeFromOtherOrigin says the caller must first request Path with
	// Origin set to another allowed origin (scenario 7: filling the cache).
	PrimeFromOtherOrigin bool `json:"primeFromOtherOrigin,omitempty"`
	// Blocked says the browser withholds the response, by the Fetch
	// standard; Unreadable says the page reads ReadHeader as null.
	Blocked    bool `json:"blocked"`
	Unreadable bool `json:"unreadable,omitempty"`
	// ChromiumAllows marks the one scenario where Chromium departs from the
	// standard and lets the response through: Authorization covered by
	// "Access-Control-Allow-Headers: *", which the Fetch standard blocks.
	ChromiumAllows bool `json:"chromiumAllows,omitempty"`
}

// NeededHeader is the response header the page reads in scenario 9.
const NeededHeader = "X-Request-Id"

var (
	jsonPut   = map[string]string{"Content-Type": "application/json"}
	bearer    = map[string]string{"Authorization": "Bearer demo-token"}
	traceW3C  = map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	traceAmzn = map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
	allTraced = map[string]string{"Authorization": "Bearer demo-token", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
)

func sc(n int, id, title, method string, headers map[string]string, creds string, blocked bool) Scenario {
	if creds == "" {
		creds = "same-origin"
	}
	return Scenario{ID: id, Path: "/" + id, Number: n, Title: title, Method: method, Headers: headers, Credentials: creds, Blocked: blocked}
}

// All returns every scenario, broken and fixed, in order.
func All() []Scenario {
	s9b := sc(9, "s9/broken", "X-Request-Id sent but not exposed", "GET", nil, "", false)
	s9b.ReadHeader, s9b.Unreadable = NeededHeader, true
	s9f := sc(9, "s9/fixed", "X-Request-Id listed in Access-Control-Expose-Headers", "GET", nil, "", false)
	s9f.ReadHeader = NeededHeader
	s7b := sc(7, "s7/broken", "cache keyed on the URL only, no Vary: Origin", "GET", nil, "", true)
	s7b.PrimeFromOtherOrigin = true
	s7f := sc(7, "s7/fixed", "Vary: Origin, the cache keys on Origin", "GET", nil, "", false)
	s7f.PrimeFromOtherOrigin = true
	s4a := sc(4, "s4/broken-auth", "Allow-Headers '*' does not cover Authorization", "GET", bearer, "", true)
	s4a.ChromiumAllows = true
	return []Scenario{
		sc(1, "s1/broken", "no Access-Control-Allow-Origin on a 200", "GET", nil, "", true),
		sc(1, "s1/fixed", "allowed origin echoed, with Vary: Origin", "GET", nil, "", false),
		sc(2, "s2/broken-404", "the router's not-found answer skips the CORS layer", "GET", nil, "", true),
		sc(2, "s2/fixed-404", "CORS applied before routing, so 404s carry it too", "GET", nil, "", false),
		sc(2, "s2/broken-500", "CORS headers only on the success path; the handler fails with 500", "GET", nil, "", true),
		sc(2, "s2/broken-502", "a gateway answers 502 without CORS headers", "GET", nil, "", true),
		sc(2, "s2/fixed-500", "CORS headers on error responses too", "GET", nil, "", false),
		sc(2, "s2/fixed-502", "the gateway adds CORS headers to its own errors", "GET", nil, "", false),
		sc(3, "s3/broken-405", "no OPTIONS route: the router answers 405", "PUT", jsonPut, "", true),
		sc(3, "s3/broken-401", "auth check applied to OPTIONS after CORS headers: 401", "GET", bearer, "", true),
		sc(3, "s3/broken-403", "auth check applied to OPTIONS before CORS headers: 403", "GET", bearer, "", true),
		sc(3, "s3/fixed", "OPTIONS answered 204 before auth", "PUT", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer demo-token"}, "", false),
		sc(4, "s4/broken-traceparent", "tracing adds traceparent; Allow-Headers lists Content-Type only", "GET", traceW3C, "", true),
		sc(4, "s4/broken-amzn", "tracing adds X-Amzn-Trace-Id; Allow-Headers lists Content-Type only", "GET", traceAmzn, "", true),
		s4a,
		sc(4, "s4/fixed", "Authorization, traceparent and X-Amzn-Trace-Id listed", "GET", allTraced, "", false),
		sc(5, "s5/broken", "the app and a proxy both add Access-Control-Allow-Origin", "GET", nil, "", true),
		sc(5, "s5/fixed", "one Access-Control-Allow-Origin", "GET", nil, "", false),
		sc(6, "s6/broken-wildcard", "Access-Control-Allow-Origin '*' on a credentialed request", "GET", nil, "include", true),
		sc(6, "s6/broken-nocreds", "origin echoed but no Access-Control-Allow-Credentials", "GET", nil, "include", true),
		sc(6, "s6/fixed", "origin echoed with Access-Control-Allow-Credentials: true", "GET", nil, "include", false),
		s7b, s7f,
		sc(8, "s8/broken", "OPTIONS redirected to the trailing-slash URL", "PUT", jsonPut, "", true),
		sc(8, "s8/fixed", "OPTIONS answered where it is asked", "PUT", jsonPut, "", false),
		s9b, s9f,
	}
}

// Preflight reports whether a browser sends a CORS preflight before the
// scenario's fetch (a method other than GET, HEAD and POST, or a header
// outside the CORS-safelisted ones), and the header names it lists in
// Access-Control-Request-Headers: lower case, sorted, as Chromium sends
// them.
func (s Scenario) Preflight() (bool, []string) {
	var names []string
	for k, v := range s.Headers {
		if safelisted(k, v) {
			continue
		}
		names = append(names, strings.ToLower(k))
	}
	slices.Sort(names)
	return len(names) > 0 || (s.Method != "GET" && s.Method != "HEAD" && s.Method != "POST"), names
}

// safelisted reports whether a request header is CORS-safelisted, for the
// headers the scenarios use.
func safelisted(name, value string) bool {
	switch strings.ToLower(name) {
	case "accept", "accept-language", "content-language":
		return true
	case "content-type":
		mt, _, _ := strings.Cut(strings.ToLower(value), ";")
		mt = strings.TrimSpace(mt)
		return mt == "text/plain" || mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
	}
	return false
}
