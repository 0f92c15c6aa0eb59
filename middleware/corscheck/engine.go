package corscheck

import (
	"net/url"
	"strconv"
	"strings"
)

// exchange is one request and its response, as the engine sees them.
type exchange struct {
	method    string // the request's method
	origin    string
	host      string // the server's own host, to recognise same-origin requests
	req, resp fields
	status    int
	cookies   bool // a cookie list outside the header maps is not empty

	preflight bool
	target    string // the method the page wants: method, or ACRM for a preflight
}

// failure is a failed check: a code and the value the message quotes.
type failure struct {
	code Code
	arg  string
}

// maxQuoted bounds the length of values quoted in a Reason or Hint.
const maxQuoted = 200

func (c *Checker) evaluate(x *exchange) (Verdict, bool) {
	if !corsMode(x) {
		return Verdict{}, false
	}
	x.target = x.method
	if x.method == "OPTIONS" {
		if m, ok := x.req.get(hReqMethod); ok {
			x.preflight, x.target = true, m
		}
	}
	creds := c.creds
	if creds == CredentialsUnknown {
		creds = x.inferCredentials()
	}
	v := Verdict{Preflight: x.preflight, Origin: x.origin, Method: x.target, Credentials: creds}

	var f failure
	switch creds {
	case CredentialsUnknown:
		// Include mode is stricter in every rule, so it can only fail where
		// omit mode also fails, or alone.
		if f = x.check(false); f.code != "" {
			v.Outcome = Blocked
		} else if f = x.check(true); f.code != "" {
			v.Outcome = DependsOnCredentials
		} else {
			v.Outcome = Allowed
		}
	default:
		if f = x.check(creds == CredentialsInclude); f.code != "" {
			v.Outcome = Blocked
		} else {
			v.Outcome = Allowed
		}
	}
	if f.code != "" {
		v.Code = f.code
		v.Reason = reason(f, x.preflight)
	}

	vary := x.missingVary()
	if vary {
		v.Warnings |= WarnMissingVaryOrigin
	}
	var unexposed string
	if v.Outcome != Blocked && !x.preflight {
		if unexposed = c.unexposed(x, creds); unexposed != "" {
			v.Warnings |= WarnHeaderNotExposed
		}
	}
	v.Hint = x.hint(f, vary, unexposed)
	return v, true
}

// corsMode reports whether the browser CORS-checks the response to x.
func corsMode(x *exchange) bool {
	if mode, ok := x.req.get(hFetchMode); ok {
		if mode != "cors" {
			return false // no-cors, navigate, same-origin, websocket
		}
	} else {
		// Without Fetch Metadata: WebSocket handshakes and navigations (which
		// browsers mark with Upgrade-Insecure-Requests) are not CORS-checked.
		if _, ok := x.req.get(hUpgrade); ok {
			return false
		}
		if _, ok := x.req.get(hUIR); ok {
			return false
		}
	}
	if site, ok := x.req.get(hFetchSite); ok {
		return site != "same-origin"
	}
	// Without Fetch Metadata (plain-HTTP origins that are not localhost),
	// compare the origin's host with the server's.
	if x.host == "" {
		return true
	}
	i := strings.Index(x.origin, "://")
	return i < 0 || !strings.EqualFold(x.origin[i+3:], x.host)
}

// inferCredentials guesses the request's credentials mode. A cross-origin
// request carrying cookies was made with credentials: 'include'. Without
// that proof, a response that answers Access-Control-Allow-Credentials, or a
// request that sends (or asks to send) Authorization, suggests the site uses
// credentials, and both modes are evaluated (CredentialsUnknown). Otherwise
// the request is taken to use fetch's default mode, which sends no
// credentials cross-origin (CredentialsOmit): without this assumption every
// response to a public API would depend on credentials.
func (x *exchange) inferCredentials() Credentials {
	if !x.preflight {
		if _, ok := x.req.get(hCookie); ok || x.cookies {
			return CredentialsInclude
		}
		if _, ok := x.req.get(hAuthorization); ok {
			return CredentialsUnknown
		}
	} else {
		if x.req.listHas(hReqHeaders, "authorization", false) {
			return CredentialsUnknown
		}
	}
	if _, ok := x.resp.get(hAllowCreds); ok {
		return CredentialsUnknown
	}
	return CredentialsOmit
}

// check runs the browser's checks in the order Chromium runs them and
// returns the first failure, or a zero failure.
func (x *exchange) check(include bool) failure {
	if x.preflight && isRedirect(x.status) {
		if _, ok := x.resp.get(hLocation); ok {
			return failure{code: CodePreflightRedirect}
		}
	}
	if f := x.corsCheck(include); f.code != "" {
		return f
	}
	if !x.preflight {
		return failure{}
	}
	if x.status < 200 || x.status > 299 {
		return failure{code: CodePreflightStatus}
	}
	if !x.resp.validList(hAllowMeth) {
		return failure{code: CodeInvalidAllowMethods}
	}
	if !x.resp.validList(hAllowHdrs) {
		return failure{code: CodeInvalidAllowHeaders}
	}
	m := x.target
	if !x.resp.listHas(hAllowMeth, m, true) && !safelistedMethod(m) && (include || !x.resp.listHas(hAllowMeth, "*", true)) {
		return failure{code: CodeMethodNotAllowed, arg: m}
	}
	wildcard := !include && x.resp.listHas(hAllowHdrs, "*", true)
	vs, one, _ := x.req.values(hReqHeaders)
	if vs == nil {
		return x.headersAllowed(one, wildcard)
	}
	for _, requested := range vs {
		if f := x.headersAllowed(requested, wildcard); f.code != "" {
			return f
		}
	}
	return failure{}
}

// headersAllowed checks one line of Access-Control-Request-Headers.
func (x *exchange) headersAllowed(requested string, wildcard bool) failure {
	for n, rest, ok := nextItem(requested); ok; n, rest, ok = nextItem(rest) {
		if x.resp.listHas(hAllowHdrs, n, false) {
			continue
		}
		// "*" never covers Authorization.
		if wildcard && !strings.EqualFold(n, "authorization") {
			continue
		}
		return failure{code: CodeHeaderNotAllowed, arg: n}
	}
	return failure{}
}

// corsCheck is the Fetch standard's CORS check, with Chromium's finer
// failure codes.
func (x *exchange) corsCheck(include bool) failure {
	acao, ok := x.resp.get(hAllowOrigin)
	switch {
	case !ok:
		return failure{code: CodeMissingAllowOrigin}
	case acao == "*":
		if include {
			return failure{code: CodeWildcardWithCredentials}
		}
		return failure{}
	case acao != x.origin:
		if strings.ContainsAny(acao, " ,") {
			return failure{code: CodeMultipleAllowOrigin, arg: acao}
		}
		if acao != "null" && !looksLikeURL(acao) {
			return failure{code: CodeInvalidAllowOrigin, arg: acao}
		}
		return failure{code: CodeOriginMismatch, arg: acao}
	}
	if include {
		// Case-sensitive: "True" does not do.
		if acac, _ := x.resp.get(hAllowCreds); acac != "true" {
			return failure{code: CodeCredentialsNotAllowed, arg: acac}
		}
	}
	return failure{}
}

// isRedirect reports whether a response with this status (and a Location)
// is followed as a redirect.
func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// looksLikeURL approximates Chromium's "is this a valid URL" test on an
// Access-Control-Allow-Origin value, which decides between the "invalid
// value" and the "not equal to the supplied origin" messages.
func looksLikeURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return false
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss", "ftp":
		return u.Host != ""
	}
	return true
}

// missingVary reports whether the response names one origin in
// Access-Control-Allow-Origin but does not vary on Origin.
func (x *exchange) missingVary() bool {
	acao, ok := x.resp.get(hAllowOrigin)
	if !ok || acao != x.origin && (acao == "*" || strings.ContainsAny(acao, " ,") || !looksLikeURL(acao)) {
		return false
	}
	return !x.resp.listHas(hVary, "Origin", false) && !x.resp.listHas(hVary, "*", true)
}

// unexposed returns the first needed response header present in the
// response that the page cannot read, or "".
func (c *Checker) unexposed(x *exchange, creds Credentials) string {
	if len(c.needed) == 0 {
		return ""
	}
	wildcard := creds != CredentialsInclude && x.resp.listHas(hExpose, "*", true)
	for _, n := range c.needed {
		if _, _, ok := x.resp.values(n); !ok {
			continue
		}
		if safelistedResponseHeader(n.canon) || wildcard || x.resp.listHas(hExpose, n.canon, false) {
			continue
		}
		return n.canon
	}
	return ""
}

const (
	preflightPrefix = "Response to preflight request doesn't pass access control check: "
	// validValue ends Chromium's messages about Access-Control-Allow-Origin
	// values.
	validValue = " Have the server send the header with a valid value."
)

// reason words f like Chromium's console message.
func reason(f failure, preflight bool) string {
	arg := clip(f.arg, maxQuoted)
	var s string
	switch f.code {
	case CodeMissingAllowOrigin:
		s = "No 'Access-Control-Allow-Origin' header is present on the requested resource."
	case CodeMultipleAllowOrigin:
		s = "The 'Access-Control-Allow-Origin' header contains multiple values '" + arg + "', but only one is allowed." + validValue
	case CodeInvalidAllowOrigin:
		s = "The 'Access-Control-Allow-Origin' header contains the invalid value '" + arg + "'." + validValue
	case CodeOriginMismatch:
		s = "The 'Access-Control-Allow-Origin' header has a value '" + arg + "' that is not equal to the supplied origin." + validValue
	case CodeWildcardWithCredentials:
		s = "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'."
	case CodeCredentialsNotAllowed:
		s = "The value of the 'Access-Control-Allow-Credentials' header in the response is '" + arg + "' which must be 'true' when the request's credentials mode is 'include'."
	case CodePreflightStatus:
		s = "It does not have HTTP ok status."
	case CodePreflightRedirect:
		s = "Redirect is not allowed for a preflight request."
	case CodeInvalidAllowMethods:
		return "Cannot parse Access-Control-Allow-Methods response header field in preflight response."
	case CodeInvalidAllowHeaders:
		return "Cannot parse Access-Control-Allow-Headers response header field in preflight response."
	case CodeMethodNotAllowed:
		return "Method " + arg + " is not allowed by Access-Control-Allow-Methods in preflight response."
	case CodeHeaderNotAllowed:
		return "Request header field " + arg + " is not allowed by Access-Control-Allow-Headers in preflight response."
	default:
		return ""
	}
	if preflight {
		return preflightPrefix + s
	}
	return s
}

// hint explains the likely cause of f, or the first warning.
func (x *exchange) hint(f failure, vary bool, unexposed string) string {
	switch f.code {
	case CodeMissingAllowOrigin:
		switch {
		case x.preflight && (x.status < 200 || x.status > 299):
			return "The preflight (OPTIONS) got status " + strconv.Itoa(x.status) + " without CORS headers: the OPTIONS route is missing, or an auth check rejects it before CORS headers are added."
		case x.status >= 400:
			return "The " + strconv.Itoa(x.status) + " error response has no CORS headers: error paths, and gateways or proxies in front, must add them too."
		}
		return "The response has no CORS headers: the origin is not allowed, or CORS is not configured for this route."
	case CodePreflightStatus:
		return "The preflight (OPTIONS) got status " + strconv.Itoa(x.status) + ": it must answer 2xx, without authentication, on every route the page calls."
	case CodePreflightRedirect:
		loc, _ := x.resp.get(hLocation)
		return "The preflight was redirected (" + strconv.Itoa(x.status) + " to '" + clip(loc, maxQuoted) + "'): call the final URL, or answer OPTIONS before redirecting."
	case CodeOriginMismatch:
		if vary {
			return "The response lacks 'Vary: Origin': a cache likely served an answer made for another origin."
		}
		return "Access-Control-Allow-Origin names another origin: echo the request's Origin when it is allowed (exact scheme, host and port, no trailing slash)."
	case CodeHeaderNotAllowed:
		switch n := f.arg; {
		case strings.EqualFold(n, "traceparent"), strings.EqualFold(n, "tracestate"), strings.EqualFold(n, "x-amzn-trace-id"):
			return "Tracing in the page adds " + clip(n, maxQuoted) + ": list it in Access-Control-Allow-Headers."
		case strings.EqualFold(n, "authorization"):
			if x.resp.listHas(hAllowHdrs, "*", true) {
				return "Authorization must be listed by name in Access-Control-Allow-Headers: '*' does not cover it in the Fetch standard (Chromium still allows it, with a deprecation warning)."
			}
		}
	case CodeWildcardWithCredentials:
		return "With credentials, echo the request's Origin instead of '*' and send 'Access-Control-Allow-Credentials: true'."
	case CodeCredentialsNotAllowed:
		return "The page sends credentials (cookies): answer 'Access-Control-Allow-Credentials: true' as well, or have the page fetch without credentials."
	case CodeMultipleAllowOrigin:
		return "Two layers (the app and a proxy, gateway or framework) each add Access-Control-Allow-Origin, or a list was sent: send exactly one origin."
	case CodeInvalidAllowOrigin:
		return "Send the request's origin exactly as the Origin header has it (scheme://host[:port]), or '*'."
	case CodeMethodNotAllowed:
		return "List " + clip(f.arg, maxQuoted) + " in Access-Control-Allow-Methods (case-sensitive)."
	}
	switch {
	case vary:
		return "Access-Control-Allow-Origin names one origin but Vary does not list Origin: a shared cache may serve this response to another origin."
	case unexposed != "":
		return "Response header " + unexposed + " is not listed in Access-Control-Expose-Headers: the page reads it as null."
	}
	return ""
}
