package corscheck

import (
	"strings"
	"unicode/utf8"
)

// Outcome is what the browser does with a cross-origin response.
type Outcome uint8

// The outcomes. The zero value is not an outcome: Evaluate never returns it
// with ok == true.
const (
	// Allowed: the browser hands the response to the page.
	Allowed Outcome = iota + 1
	// Blocked: the browser withholds the response; the page sees a network
	// error ("TypeError: Failed to fetch").
	Blocked
	// DependsOnCredentials: allowed for requests made without credentials
	// (fetch's default), blocked for requests made with credentials: 'include'
	// (or XHR withCredentials). Code and Reason describe the include case.
	DependsOnCredentials
)

// String returns "allowed", "blocked", "depends-on-credentials", or
// "unknown" for the zero value.
func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Blocked:
		return "blocked"
	case DependsOnCredentials:
		return "depends-on-credentials"
	}
	return "unknown"
}

// Credentials is a request's credentials mode, as far as the server can tell.
type Credentials uint8

// The credentials modes.
const (
	// CredentialsUnknown: the engine evaluates both modes.
	CredentialsUnknown Credentials = iota
	// CredentialsOmit: the request was made without credentials (fetch's
	// "omit" or "same-origin" mode, XHR without withCredentials).
	CredentialsOmit
	// CredentialsInclude: the request was made with credentials: 'include'
	// (or XHR withCredentials). A cross-origin request that carries a Cookie
	// header can only have been made in this mode.
	CredentialsInclude
)

// String returns "unknown", "omit" or "include".
func (c Credentials) String() string {
	switch c {
	case CredentialsOmit:
		return "omit"
	case CredentialsInclude:
		return "include"
	}
	return "unknown"
}

// Code names why a response is blocked, in a few words. It is empty when the
// response is allowed. Codes are a fixed set, safe as a metric dimension.
//
// Where browsers differ, verdicts follow the Fetch standard. The one known
// difference: "Access-Control-Allow-Headers: *" does not cover Authorization
// in the standard (which Firefox and Safari implement, as far as we know;
// only Chromium is tested here), but Chromium still accepts it (with a
// deprecation warning). Such a preflight is Blocked with
// CodeHeaderNotAllowed, and its Hint says that Chromium lets it through.
type Code string

// The codes. Preflight failures use the same codes as actual requests where
// the rule is the same (Verdict.Preflight tells them apart).
const (
	CodeMissingAllowOrigin      Code = "missing-allow-origin"      // no Access-Control-Allow-Origin
	CodeMultipleAllowOrigin     Code = "multiple-allow-origin"     // ACAO holds a list, or was sent twice
	CodeInvalidAllowOrigin      Code = "invalid-allow-origin"      // ACAO is not an origin
	CodeOriginMismatch          Code = "origin-mismatch"           // ACAO names another origin
	CodeWildcardWithCredentials Code = "wildcard-with-credentials" // ACAO "*" on a credentialed request
	CodeCredentialsNotAllowed   Code = "credentials-not-allowed"   // ACAC is not "true" on a credentialed request
	CodePreflightStatus         Code = "preflight-status"          // preflight answered with a non-2xx status
	CodePreflightRedirect       Code = "preflight-redirect"        // preflight answered with a redirect
	CodeInvalidAllowMethods     Code = "invalid-allow-methods"     // Access-Control-Allow-Methods does not parse
	CodeInvalidAllowHeaders     Code = "invalid-allow-headers"     // Access-Control-Allow-Headers does not parse
	CodeMethodNotAllowed        Code = "method-not-allowed"        // requested method not in Access-Control-Allow-Methods
	CodeHeaderNotAllowed        Code = "header-not-allowed"        // a requested header not in Access-Control-Allow-Headers
)

// Warning is a set of non-blocking findings.
type Warning uint8

// The warnings.
const (
	// WarnMissingVaryOrigin: Access-Control-Allow-Origin echoes one origin but
	// Vary does not list Origin, so a shared cache may serve this response to
	// a page from another origin, which the browser then blocks.
	WarnMissingVaryOrigin Warning = 1 << iota
	// WarnHeaderNotExposed: the response carries a header declared with
	// WithNeededResponseHeaders that Access-Control-Expose-Headers does not
	// expose; the page reads it as null.
	WarnHeaderNotExposed
)

// Has reports whether w contains every warning in x.
func (w Warning) Has(x Warning) bool { return w&x == x }

// String lists the warnings by name, comma-separated: "missing-vary-origin",
// "header-not-exposed". It is empty for no warnings.
func (w Warning) String() string {
	switch w {
	case 0:
		return ""
	case WarnMissingVaryOrigin:
		return "missing-vary-origin"
	case WarnHeaderNotExposed:
		return "header-not-exposed"
	case WarnMissingVaryOrigin | WarnHeaderNotExposed:
		return "missing-vary-origin,header-not-exposed"
	}
	return "unknown"
}

// Verdict is the browser's decision about one cross-origin response.
type Verdict struct {
	// Outcome is what the browser does with the response.
	Outcome Outcome
	// Code says why it is blocked (for DependsOnCredentials: why it is
	// blocked with credentials). Empty when Allowed.
	Code Code
	// Reason is Code in the browser's words, close to Chromium's console
	// message after "has been blocked by CORS policy: ". Empty when Allowed.
	Reason string
	// Hint is one more line for the server's developer: the likely cause of
	// a block (an error path or a missing OPTIONS route), or the first
	// warning. May be empty.
	Hint string
	// Preflight is true when the request was a CORS preflight (OPTIONS with
	// Access-Control-Request-Method).
	Preflight bool
	// Origin is the request's Origin header, as sent.
	Origin string
	// Method is the method of the request the page makes: the request's
	// method, or Access-Control-Request-Method for a preflight.
	Method string
	// Credentials is the credentials mode the verdict assumed: declared with
	// WithCredentials, or inferred (Include from a Cookie header; Unknown,
	// meaning both modes were evaluated, when Authorization or
	// Access-Control-Allow-Credentials suggest credentials; Omit otherwise).
	Credentials Credentials
	// Warnings are findings that do not block this response.
	Warnings Warning
}

// Blocked reports whether the browser certainly blocks the response.
func (v *Verdict) Blocked() bool { return v.Outcome == Blocked }

// Annotation keys used by Annotate. They are valid X-Ray annotation keys.
const (
	KeyOutcome   = "cors_verdict"   // "allowed", "blocked", "depends-on-credentials"
	KeyOrigin    = "cors_origin"    // the request's Origin
	KeyPreflight = "cors_preflight" // bool
	KeyCode      = "cors_code"      // Code, when not allowed
	KeyReason    = "cors_reason"    // Reason, when not allowed
	KeyWarnings  = "cors_warnings"  // Warnings.String(), when any
	KeyHint      = "cors_hint"      // Hint, when any
)

// Metric names for middleware that counts verdicts in EMF. MetricBlocked
// counts blocked responses (Outcome Blocked) with dimensions DimensionRoute
// (the low-cardinality route, e.g. http.Request.Pattern) and DimensionReason
// (the Code).
const (
	MetricBlocked   = "CORSBlocked"
	DimensionRoute  = "Route"
	DimensionReason = "Reason"
)

// maxAnnotation bounds the length of string annotations; Origin is chosen by
// the client.
const maxAnnotation = 250

// Annotate calls set for each annotation that describes v: the outcome, the
// origin, whether it was a preflight (a bool), and, when present, the code,
// reason, warnings and hint. Values are strings except KeyPreflight. Long
// values are cut to 250 bytes.
func (v *Verdict) Annotate(set func(key string, value any)) {
	set(KeyOutcome, v.Outcome.String())
	set(KeyOrigin, clip(v.Origin, maxAnnotation))
	set(KeyPreflight, v.Preflight)
	if v.Code != "" {
		set(KeyCode, string(v.Code))
		set(KeyReason, clip(v.Reason, maxAnnotation))
	}
	if v.Warnings != 0 {
		set(KeyWarnings, v.Warnings.String())
	}
	if v.Hint != "" {
		set(KeyHint, clip(v.Hint, maxAnnotation))
	}
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence, and
// replaces invalid UTF-8 with U+FFFD (which may lengthen it by a few bytes).
// It allocates only when it has to change s.
func clip(s string, n int) string {
	if len(s) > n {
		i := n
		for i > 0 && s[i]&0xC0 == 0x80 {
			i--
		}
		s = s[:i]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		if len(s) > n {
			return clip(s, n)
		}
	}
	return s
}
