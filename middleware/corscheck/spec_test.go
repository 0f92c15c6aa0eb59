package corscheck

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	page  = "http://app.example"
	other = "http://evil.example"
)

// h builds a header from name/value pairs; a name may repeat.
func h(kv ...string) http.Header {
	out := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

// preflight builds the header of a preflight from page asking for method
// and the listed request headers.
func preflight(method, headers string, extra ...string) http.Header {
	kv := append([]string{"Origin", page, "Access-Control-Request-Method", method, "Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "cross-site"}, extra...)
	if headers != "" {
		kv = append(kv, "Access-Control-Request-Headers", headers)
	}
	return h(kv...)
}

// actual builds the header of a cross-origin request from page.
func actual(extra ...string) http.Header {
	return h(append([]string{"Origin", page, "Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "cross-site"}, extra...)...)
}

type specCase struct {
	name     string
	opts     []Option
	method   string
	req      http.Header
	status   int
	resp     http.Header
	notCORS  bool // Evaluate must return ok == false
	outcome  Outcome
	code     Code
	reason   string // substring of Reason
	warnings Warning
	hint     string // substring of Hint
}

// specCases follow the Fetch standard's CORS check
// (https://fetch.spec.whatwg.org/#cors-check), CORS-preflight fetch
// (#cors-preflight-fetch) and the header syntax of #http-new-header-syntax,
// with Chromium's finer error codes and console wording.
var specCases = []specCase{
	// Not CORS at all.
	{name: "no origin", method: "GET", req: h("Accept", "*/*"), status: 200, resp: h(), notCORS: true},
	{name: "same-origin fetch metadata", method: "POST", req: h("Origin", page, "Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "same-origin"), status: 200, resp: h(), notCORS: true},
	{name: "same-origin by host", method: "POST", req: h("Origin", "http://example.com"), status: 200, resp: h(), notCORS: true},
	{name: "no-cors mode", method: "GET", req: h("Origin", page, "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Site", "cross-site"), status: 200, resp: h(), notCORS: true},
	{name: "form navigation", method: "POST", req: h("Origin", page, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "cross-site"), status: 303, resp: h("Location", "/"), notCORS: true},
	{name: "websocket handshake without fetch metadata", method: "GET", req: h("Origin", page, "Upgrade", "websocket", "Connection", "Upgrade"), status: 101, resp: h(), notCORS: true},
	{name: "navigation without fetch metadata", method: "POST", req: h("Origin", page, "Upgrade-Insecure-Requests", "1"), status: 303, resp: h("Location", "/"), notCORS: true},
	{name: "cross-origin without fetch metadata", method: "GET", req: h("Origin", page), status: 200, resp: h(), outcome: Blocked, code: CodeMissingAllowOrigin},

	// Scenario 1 and 2: the CORS check on actual responses.
	{name: "s1 missing ACAO on 200", method: "GET", req: actual(), status: 200, resp: h("Content-Type", "application/json"), outcome: Blocked, code: CodeMissingAllowOrigin,
		reason: "No 'Access-Control-Allow-Origin' header is present on the requested resource.", hint: "not allowed, or CORS is not configured"},
	{name: "s1 echoed origin", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), outcome: Allowed},
	{name: "wildcard without credentials", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*"), outcome: Allowed},
	{name: "s2 missing ACAO on 500", method: "GET", req: actual(), status: 500, resp: h(), outcome: Blocked, code: CodeMissingAllowOrigin, hint: "The 500 error response has no CORS headers"},
	{name: "s2 missing ACAO on gateway 502", method: "GET", req: actual(), status: 502, resp: h("Content-Type", "text/plain"), outcome: Blocked, code: CodeMissingAllowOrigin, hint: "502"},
	{name: "s2 404 with CORS headers is readable", method: "GET", req: actual(), status: 404, resp: h("Access-Control-Allow-Origin", "*"), outcome: Allowed},
	{name: "status does not matter to the CORS check", method: "GET", req: actual(), status: 503, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), outcome: Allowed},
	{name: "ACAO is trimmed", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", " "+page+"\t", "Vary", "Origin"), outcome: Allowed},
	{name: "ACAO compared byte for byte", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "HTTP://APP.EXAMPLE", "Vary", "Origin"), outcome: Blocked, code: CodeOriginMismatch,
		reason: "The 'Access-Control-Allow-Origin' header has a value 'HTTP://APP.EXAMPLE' that is not equal to the supplied origin."},
	{name: "ACAO with trailing slash", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page+"/", "Vary", "Origin"), outcome: Blocked, code: CodeOriginMismatch},
	{name: "ACAO without scheme", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "app.example"), outcome: Blocked, code: CodeInvalidAllowOrigin,
		reason: "The 'Access-Control-Allow-Origin' header contains the invalid value 'app.example'."},
	{name: "ACAO empty", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", ""), outcome: Blocked, code: CodeInvalidAllowOrigin},
	{name: "ACAO null for opaque origin", method: "GET", req: h("Origin", "null", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "cross-site"), status: 200, resp: h("Access-Control-Allow-Origin", "null", "Vary", "Origin"), outcome: Allowed},
	{name: "ACAO null for a real origin", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "null"), outcome: Blocked, code: CodeOriginMismatch,
		reason: "The 'Access-Control-Allow-Origin' header has a value 'null' that is not equal to the supplied origin. Have the server send the header with a valid value."},

	// Names stored in the header map without canonicalisation are sent as
	// they are, and the browser reads them case-insensitively.
	{name: "lower-case names set directly in the map", method: "GET", req: actual("Cookie", "a=b"), status: 200,
		resp: http.Header{"access-control-allow-origin": {page}, "access-control-allow-credentials": {"true"}, "vary": {"Origin"}}, outcome: Allowed},

	// Scenario 5: multiple values.
	{name: "s5 ACAO list", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page+", "+other), outcome: Blocked, code: CodeMultipleAllowOrigin,
		reason: "The 'Access-Control-Allow-Origin' header contains multiple values 'http://app.example, http://evil.example', but only one is allowed."},
	{name: "s5 ACAO sent twice, same value", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Origin", page), outcome: Blocked, code: CodeMultipleAllowOrigin,
		reason: "'http://app.example, http://app.example'"},
	{name: "s5 ACAO wildcard twice", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Origin", "*"), outcome: Blocked, code: CodeMultipleAllowOrigin},
	{name: "s5 fixed", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), outcome: Allowed},

	// Scenario 6: credentials.
	{name: "s6 wildcard with cookie", method: "GET", req: actual("Cookie", "sid=1"), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true"), outcome: Blocked, code: CodeWildcardWithCredentials,
		reason: "must not be the wildcard '*' when the request's credentials mode is 'include'."},
	{name: "s6 wildcard, credentials unknown", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*"), opts: nil, outcome: Allowed},
	{name: "s6 wildcard, include declared", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*"), opts: []Option{WithCredentials(CredentialsInclude)}, outcome: Blocked, code: CodeWildcardWithCredentials},
	{name: "s6 ACAC missing with cookie", method: "GET", req: actual("Cookie", "sid=1"), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), outcome: Blocked, code: CodeCredentialsNotAllowed,
		reason: "The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' when the request's credentials mode is 'include'."},
	{name: "s6 ACAC True is not true", method: "GET", req: actual("Cookie", "sid=1"), status: 200, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Credentials", "True", "Vary", "Origin"), outcome: Blocked, code: CodeCredentialsNotAllowed, reason: "is 'True'"},
	{name: "s6 ACAC missing, no sign of credentials", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), outcome: Allowed},
	{name: "s6 ACAC missing, Authorization sent", method: "GET", req: actual("Authorization", "Bearer x"), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), outcome: DependsOnCredentials, code: CodeCredentialsNotAllowed},
	{name: "s6 wildcard with ACAC, no cookie", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true"), outcome: DependsOnCredentials, code: CodeWildcardWithCredentials},
	{name: "s6 ACAC missing, omit declared", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), opts: []Option{WithCredentials(CredentialsOmit)}, outcome: Allowed},
	{name: "s6 fixed", method: "GET", req: actual("Cookie", "sid=1"), status: 200, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Credentials", "true", "Vary", "Origin"), outcome: Allowed},
	{name: "s6 cookie on a no-cors request is not CORS", method: "GET", req: h("Origin", page, "Cookie", "a=b", "Sec-Fetch-Mode", "no-cors"), status: 200, resp: h(), notCORS: true},

	// Scenario 7: Vary.
	{name: "s7 echo without Vary", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page), outcome: Allowed, warnings: WarnMissingVaryOrigin, hint: "Vary does not list Origin"},
	{name: "s7 cached answer for another origin", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", other), outcome: Blocked, code: CodeOriginMismatch, warnings: WarnMissingVaryOrigin, hint: "a cache likely served"},
	{name: "s7 Vary lists Origin among others", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "Accept-Encoding", "Vary", "origin"), outcome: Allowed},
	{name: "s7 Vary star", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", page, "Vary", "*"), outcome: Allowed},
	{name: "s7 wildcard needs no Vary", method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*"), outcome: Allowed},

	// Scenario 3: preflight status and CORS check.
	{name: "s3 no OPTIONS route, 405 without CORS", method: "OPTIONS", req: preflight("PUT", "content-type"), status: 405, resp: h("Allow", "GET, PUT"), outcome: Blocked, code: CodeMissingAllowOrigin,
		reason: "Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource.", hint: "OPTIONS route is missing"},
	{name: "s3 404 with CORS headers", method: "OPTIONS", req: preflight("DELETE", ""), status: 404, resp: h("Access-Control-Allow-Origin", "*"), outcome: Blocked, code: CodePreflightStatus,
		reason: "Response to preflight request doesn't pass access control check: It does not have HTTP ok status."},
	{name: "s3 auth on OPTIONS 401", method: "OPTIONS", req: preflight("GET", "authorization"), status: 401, resp: h("Access-Control-Allow-Origin", page, "WWW-Authenticate", "Bearer", "Vary", "Origin"), outcome: Blocked, code: CodePreflightStatus, hint: "without authentication"},
	{name: "s3 auth on OPTIONS 403 without CORS", method: "OPTIONS", req: preflight("GET", "authorization"), status: 403, resp: h(), outcome: Blocked, code: CodeMissingAllowOrigin},
	{name: "s3 fixed 204", method: "OPTIONS", req: preflight("PUT", "authorization,content-type"), status: 204,
		resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Methods", "GET, PUT", "Access-Control-Allow-Headers", "Authorization, Content-Type", "Access-Control-Allow-Credentials", "true", "Vary", "Origin"), outcome: Allowed},
	{name: "s3 fixed but credentials not allowed", method: "OPTIONS", req: preflight("PUT", "authorization,content-type"), status: 204,
		resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Methods", "GET, PUT", "Access-Control-Allow-Headers", "Authorization, Content-Type", "Vary", "Origin"), outcome: DependsOnCredentials, code: CodeCredentialsNotAllowed},
	{name: "preflight cookie does not imply include", method: "OPTIONS", req: preflight("PUT", "", "Cookie", "x=y"), status: 204,
		resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Credentials", "true"), outcome: DependsOnCredentials, code: CodeWildcardWithCredentials},
	{name: "preflight OPTIONS without ACRM is an actual request", method: "OPTIONS", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*"), outcome: Allowed},

	// Scenario 8: redirect on preflight.
	{name: "s8 preflight redirected", method: "OPTIONS", req: preflight("PUT", ""), status: 308, resp: h("Location", "/s8/fixed/", "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "PUT"), outcome: Blocked, code: CodePreflightRedirect,
		reason: "Response to preflight request doesn't pass access control check: Redirect is not allowed for a preflight request.", hint: "/s8/fixed/"},
	{name: "s8 3xx without Location is a bad status", method: "OPTIONS", req: preflight("PUT", ""), status: 302, resp: h("Access-Control-Allow-Origin", "*"), outcome: Blocked, code: CodePreflightStatus},
	{name: "s8 304 is not a redirect", method: "OPTIONS", req: preflight("PUT", ""), status: 304, resp: h("Location", "/x", "Access-Control-Allow-Origin", "*"), outcome: Blocked, code: CodePreflightStatus},
	{name: "redirect on an actual request is CORS-checked", method: "GET", req: actual(), status: 302, resp: h("Location", "/elsewhere"), outcome: Blocked, code: CodeMissingAllowOrigin},

	// Method rules.
	{name: "method listed", method: "OPTIONS", req: preflight("DELETE", ""), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET,DELETE"), outcome: Allowed},
	{name: "method not listed", method: "OPTIONS", req: preflight("DELETE", ""), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET, PUT"), outcome: Blocked, code: CodeMethodNotAllowed,
		reason: "Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response."},
	{name: "method compared case-sensitively", method: "OPTIONS", req: preflight("PATCH", ""), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "patch"), outcome: Blocked, code: CodeMethodNotAllowed},
	{name: "safelisted method needs no listing", method: "OPTIONS", req: preflight("POST", "x-custom"), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Headers", "X-Custom"), outcome: Allowed},
	{name: "methods wildcard without credentials", method: "OPTIONS", req: preflight("DELETE", ""), status: 200, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Methods", "*", "Vary", "Origin"), opts: []Option{WithCredentials(CredentialsOmit)}, outcome: Allowed},
	{name: "methods wildcard with credentials", method: "OPTIONS", req: preflight("DELETE", ""), status: 200, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Methods", "*", "Vary", "Origin"),
		outcome: DependsOnCredentials, code: CodeMethodNotAllowed},
	{name: "methods split over two lines", method: "OPTIONS", req: preflight("PUT", ""), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET", "Access-Control-Allow-Methods", "PUT"), outcome: Allowed},
	{name: "methods with empty elements", method: "OPTIONS", req: preflight("PUT", ""), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", " ,GET,, PUT ,"), outcome: Allowed},
	{name: "methods unparsable", method: "OPTIONS", req: preflight("PUT", ""), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET PUT"), outcome: Blocked, code: CodeInvalidAllowMethods,
		reason: "Cannot parse Access-Control-Allow-Methods response header field in preflight response."},
	{name: "headers unparsable", method: "OPTIONS", req: preflight("GET", "x-a"), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Headers", "x-a; x-b"), outcome: Blocked, code: CodeInvalidAllowHeaders},
	{name: "unparsable headers fail even when not needed", method: "OPTIONS", req: preflight("PUT", ""), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "\"x\""), outcome: Blocked, code: CodeInvalidAllowHeaders},
	{name: "methods checked before headers", method: "OPTIONS", req: preflight("PUT", "x-a"), status: 200, resp: h("Access-Control-Allow-Origin", "*"), outcome: Blocked, code: CodeMethodNotAllowed},

	// Scenario 4: request headers.
	{name: "s4 traceparent not allowed", method: "OPTIONS", req: preflight("GET", "traceparent"), status: 204, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Headers", "Content-Type", "Vary", "Origin"), outcome: Blocked, code: CodeHeaderNotAllowed,
		reason: "Request header field traceparent is not allowed by Access-Control-Allow-Headers in preflight response.", hint: "Tracing in the page adds traceparent"},
	{name: "s4 x-amzn-trace-id not allowed", method: "OPTIONS", req: preflight("GET", "content-type,x-amzn-trace-id"), status: 204, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Headers", "content-type", "Vary", "Origin"), outcome: Blocked, code: CodeHeaderNotAllowed,
		reason: "Request header field x-amzn-trace-id is not allowed"},
	{name: "s4 no Access-Control-Allow-Headers at all", method: "OPTIONS", req: preflight("GET", "authorization"), status: 204, resp: h("Access-Control-Allow-Origin", page, "Vary", "Origin"), outcome: Blocked, code: CodeHeaderNotAllowed, reason: "field authorization is"},
	{name: "s4 wildcard does not cover Authorization", method: "OPTIONS", req: preflight("GET", "authorization,traceparent"), status: 204, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Headers", "*"), outcome: Blocked, code: CodeHeaderNotAllowed,
		reason: "Request header field authorization is not allowed", hint: "'*' does not cover it"},
	{name: "s4 wildcard covers traceparent", method: "OPTIONS", req: preflight("GET", "traceparent,x-amzn-trace-id"), status: 204, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Headers", "*"), outcome: Allowed},
	{name: "s4 wildcard plus Authorization by name", method: "OPTIONS", req: preflight("GET", "authorization,traceparent"), status: 204, resp: h("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Headers", "*, Authorization"), outcome: DependsOnCredentials, code: CodeWildcardWithCredentials},
	{name: "s4 headers wildcard with credentials", method: "OPTIONS", req: preflight("GET", "traceparent"), status: 204, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Headers", "*", "Vary", "Origin"),
		outcome: DependsOnCredentials, code: CodeHeaderNotAllowed},
	{name: "s4 header names case-insensitive", method: "OPTIONS", req: preflight("GET", "traceparent,x-amzn-trace-id"), status: 204, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Headers", "TraceParent, X-Amzn-Trace-Id", "Vary", "Origin"), outcome: Allowed},
	{name: "s4 a literal star header name with credentials", method: "OPTIONS", req: preflight("GET", "*"), status: 204, resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Headers", "*", "Vary", "Origin"),
		opts: []Option{WithCredentials(CredentialsInclude)}, outcome: Allowed},

	// Scenario 9: exposed headers.
	{name: "s9 needed header not exposed", opts: []Option{WithNeededResponseHeaders("x-request-id")}, method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*", "X-Request-Id", "abc"),
		outcome: Allowed, warnings: WarnHeaderNotExposed, hint: "X-Request-Id is not listed in Access-Control-Expose-Headers"},
	{name: "s9 exposed", opts: []Option{WithNeededResponseHeaders("X-Request-Id")}, method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*", "X-Request-Id", "abc", "Access-Control-Expose-Headers", "ETag, x-request-id"), outcome: Allowed},
	{name: "s9 expose wildcard", opts: []Option{WithNeededResponseHeaders("X-Request-Id")}, method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*", "X-Request-Id", "abc", "Access-Control-Expose-Headers", "*"), outcome: Allowed},
	{name: "s9 expose wildcard with credentials", opts: []Option{WithNeededResponseHeaders("X-Request-Id")}, method: "GET", req: actual("Cookie", "a=b"), status: 200,
		resp: h("Access-Control-Allow-Origin", page, "Access-Control-Allow-Credentials", "true", "Vary", "Origin", "X-Request-Id", "abc", "Access-Control-Expose-Headers", "*"), outcome: Allowed, warnings: WarnHeaderNotExposed},
	{name: "s9 safelisted response header", opts: []Option{WithNeededResponseHeaders("Content-Type")}, method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*", "Content-Type", "text/plain"), outcome: Allowed},
	{name: "s9 absent header is not a warning", opts: []Option{WithNeededResponseHeaders("X-Request-Id")}, method: "GET", req: actual(), status: 200, resp: h("Access-Control-Allow-Origin", "*"), outcome: Allowed},
	{name: "s9 blocked response gets no expose warning", opts: []Option{WithNeededResponseHeaders("X-Request-Id")}, method: "GET", req: actual(), status: 200, resp: h("X-Request-Id", "abc"), outcome: Blocked, code: CodeMissingAllowOrigin},
}

func TestSpec(t *testing.T) {
	for _, tc := range specCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(tc.method, "http://example.com/api", nil)
			r.Header = tc.req.Clone()
			v, ok := c.Evaluate(r, tc.status, tc.resp)
			checkVerdict(t, tc, v, ok)
		})
	}
}

// TestSpecEvent runs the same table through EvaluateEvent, with headers in
// the shapes Lambda event sources use.
func TestSpecEvent(t *testing.T) {
	shapes := []struct {
		name string
		to   func(req, resp http.Header, e *Event)
	}{
		{"multi-value lower-case (ALB)", func(req, resp http.Header, e *Event) {
			e.MultiValueRequestHeaders = lowerMulti(req)
			e.MultiValueResponseHeaders = lowerMulti(resp)
		}},
		{"single-value comma-joined (HTTP API, Function URL)", func(req, resp http.Header, e *Event) {
			e.RequestHeaders = joined(req, strings.ToLower)
			e.ResponseHeaders = joined(resp, strings.ToLower)
			if c, ok := e.RequestHeaders["cookie"]; ok {
				delete(e.RequestHeaders, "cookie")
				e.Cookies = strings.Split(c, "; ")
			}
		}},
		{"both maps, canonical (REST API)", func(req, resp http.Header, e *Event) {
			e.MultiValueRequestHeaders, e.MultiValueResponseHeaders = req, resp
			e.RequestHeaders = joined(req, func(s string) string { return s })
			e.ResponseHeaders = joined(resp, func(s string) string { return s })
		}},
	}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			for _, tc := range specCases {
				t.Run(tc.name, func(t *testing.T) {
					c, err := New(tc.opts...)
					if err != nil {
						t.Fatal(err)
					}
					req := tc.req.Clone()
					req.Set("Host", "example.com")
					e := Event{Method: tc.method, Status: tc.status}
					shape.to(req, tc.resp, &e)
					v, ok := c.EvaluateEvent(&e)
					checkVerdict(t, tc, v, ok)
				})
			}
		})
	}
}

func lowerMulti(h http.Header) map[string][]string {
	m := map[string][]string{}
	for k, vs := range h {
		m[strings.ToLower(k)] = vs
	}
	return m
}

func joined(h http.Header, key func(string) string) map[string]string {
	m := map[string]string{}
	for k, vs := range h {
		t := make([]string, len(vs))
		for i, v := range vs {
			t[i] = trimOWS(v) // as an HTTP parser does before joining
		}
		m[key(k)] = strings.Join(t, ", ")
	}
	return m
}

func checkVerdict(t *testing.T, tc specCase, v Verdict, ok bool) {
	t.Helper()
	if tc.notCORS {
		if ok {
			t.Fatalf("ok = true for a request the browser does not CORS-check: %+v", v)
		}
		return
	}
	if !ok {
		t.Fatal("ok = false, want a verdict")
	}
	if v.Outcome != tc.outcome || v.Code != tc.code {
		t.Errorf("verdict %v/%q, want %v/%q (reason %q)", v.Outcome, v.Code, tc.outcome, tc.code, v.Reason)
	}
	if !strings.Contains(v.Reason, tc.reason) {
		t.Errorf("reason %q does not contain %q", v.Reason, tc.reason)
	}
	if (v.Code == "") != (v.Reason == "") {
		t.Errorf("code %q and reason %q: both or neither", v.Code, v.Reason)
	}
	if v.Warnings != tc.warnings {
		t.Errorf("warnings %q, want %q", v.Warnings, tc.warnings)
	}
	if !strings.Contains(v.Hint, tc.hint) {
		t.Errorf("hint %q does not contain %q", v.Hint, tc.hint)
	}
	if v.Origin != tc.req.Get("Origin") {
		t.Errorf("origin %q, want %q", v.Origin, tc.req.Get("Origin"))
	}
	wantPreflight := tc.method == "OPTIONS" && tc.req.Get("Access-Control-Request-Method") != ""
	if v.Preflight != wantPreflight {
		t.Errorf("preflight %v, want %v", v.Preflight, wantPreflight)
	}
}
