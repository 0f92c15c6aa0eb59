package corscheck

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// refList is a plain transcription of the Fetch standard's "extract header
// list values" for the CORS list headers: split on commas, trim, drop empty
// elements, and fail if an element is not a token.
func refList(s string) ([]string, bool) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.Trim(p, " \t\r\n")
		if p == "" {
			continue
		}
		if !tokenRE.MatchString(p) {
			return nil, false
		}
		out = append(out, p)
	}
	return out, true
}

var tokenRE = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")

func FuzzList(f *testing.F) {
	for _, s := range []string{"", "GET", "GET, PUT", " ,a,,b ,", "x y", "a;b", "\"q\"", "*", "a,\tb\r\n", "é,a", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantOK := refList(s)
		if got := validList(s); got != wantOK {
			t.Fatalf("validList(%q) = %v, want %v", s, got, wantOK)
		}
		var items []string
		for item, rest, ok := nextItem(s); ok; item, rest, ok = nextItem(rest) {
			if item == "" || strings.ContainsRune(item, ',') || trimOWS(item) != item {
				t.Fatalf("nextItem(%q) gave %q", s, item)
			}
			items = append(items, item)
		}
		if !wantOK {
			return
		}
		if strings.Join(items, ",") != strings.Join(want, ",") {
			t.Fatalf("items of %q = %q, want %q", s, items, want)
		}
		for _, it := range want {
			if !listHas(s, it, true) || !listHas(s, strings.ToUpper(it), false) {
				t.Fatalf("listHas(%q, %q) = false", s, it)
			}
		}
	})
}

// fuzzExchange is one generated exchange.
type fuzzExchange struct {
	method, origin, acrm, acrh        string
	cookie                            bool
	status                            int
	acao, acac, acam, acah, vary, loc string
	acaoTwice                         bool
}

func (x fuzzExchange) headers() (req, resp http.Header) {
	req = h("Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "cross-site")
	set := func(hd http.Header, k, v string) {
		if v != "" {
			hd[k] = append(hd[k], v)
		}
	}
	set(req, "Origin", x.origin)
	set(req, "Access-Control-Request-Method", x.acrm)
	set(req, "Access-Control-Request-Headers", x.acrh)
	if x.cookie {
		set(req, "Cookie", "sid=1")
	}
	resp = http.Header{}
	set(resp, "Access-Control-Allow-Origin", x.acao)
	if x.acaoTwice {
		set(resp, "Access-Control-Allow-Origin", x.acao)
	}
	set(resp, "Access-Control-Allow-Credentials", x.acac)
	set(resp, "Access-Control-Allow-Methods", x.acam)
	set(resp, "Access-Control-Allow-Headers", x.acah)
	set(resp, "Vary", x.vary)
	set(resp, "Location", x.loc)
	return req, resp
}

// refAllowed transcribes the Fetch standard's CORS check and CORS-preflight
// rules into booleans, independently of the engine's structure.
func refAllowed(req, resp http.Header, method string, status int, include bool) bool {
	get := func(hd http.Header, k string) (string, bool) {
		vs, ok := hd[k]
		if !ok {
			return "", false
		}
		t := make([]string, len(vs))
		for i, v := range vs {
			t[i] = strings.Trim(v, " \t\r\n")
		}
		return strings.Join(t, ", "), true
	}
	origin, _ := get(req, "Origin")
	acrm, isPreflight := get(req, "Access-Control-Request-Method")
	isPreflight = isPreflight && method == "OPTIONS"
	if isPreflight && (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
		if _, ok := get(resp, "Location"); ok {
			return false
		}
	}
	// CORS check.
	acao, ok := get(resp, "Access-Control-Allow-Origin")
	if !ok {
		return false
	}
	if !(acao == "*" && !include) {
		if acao != origin {
			return false
		}
		if acac, _ := get(resp, "Access-Control-Allow-Credentials"); include && acac != "true" {
			return false
		}
	}
	if !isPreflight {
		return true
	}
	if status < 200 || status > 299 {
		return false
	}
	acam, _ := get(resp, "Access-Control-Allow-Methods")
	acah, _ := get(resp, "Access-Control-Allow-Headers")
	methods, ok1 := refList(acam)
	names, ok2 := refList(acah)
	if !ok1 || !ok2 {
		return false
	}
	has := func(list []string, s string, fold bool) bool {
		for _, x := range list {
			if x == s || fold && strings.EqualFold(x, s) {
				return true
			}
		}
		return false
	}
	if !has(methods, acrm, false) && acrm != "GET" && acrm != "HEAD" && acrm != "POST" && (include || !has(methods, "*", false)) {
		return false
	}
	acrh, _ := get(req, "Access-Control-Request-Headers")
	for _, n := range strings.Split(acrh, ",") {
		n = strings.Trim(n, " \t\r\n")
		if n == "" || has(names, n, true) {
			continue
		}
		if strings.EqualFold(n, "authorization") || include || !has(names, "*", false) {
			return false
		}
	}
	return true
}

func FuzzEvaluate(f *testing.F) {
	for _, x := range []fuzzExchange{
		{method: "GET", origin: page, status: 200, acao: page},
		{method: "GET", origin: page, status: 500},
		{method: "GET", origin: page, cookie: true, status: 200, acao: "*", acac: "true"},
		{method: "GET", origin: page, status: 200, acao: page, acaoTwice: true},
		{method: "GET", origin: page, status: 200, acao: page + ", " + other},
		{method: "OPTIONS", origin: page, acrm: "PUT", acrh: "authorization,traceparent", status: 204, acao: "*", acam: "PUT", acah: "*"},
		{method: "OPTIONS", origin: page, acrm: "DELETE", status: 204, acao: page, acac: "true", acam: "*", acah: "x", vary: "Origin"},
		{method: "OPTIONS", origin: page, acrm: "PUT", status: 308, acao: "*", loc: "/x/"},
		{method: "OPTIONS", origin: page, acrm: "PUT", status: 404, acao: "*"},
		{method: "OPTIONS", origin: page, acrm: "PUT", status: 200, acao: "*", acam: "GET PUT"},
	} {
		f.Add(x.method, x.origin, x.acrm, x.acrh, x.cookie, x.status, x.acao, x.acac, x.acam, x.acah, x.vary, x.loc, x.acaoTwice)
	}
	checkers := map[Credentials]*Checker{}
	for _, m := range []Credentials{CredentialsUnknown, CredentialsOmit, CredentialsInclude} {
		c, err := New(WithCredentials(m), WithNeededResponseHeaders("X-Request-Id"))
		if err != nil {
			f.Fatal(err)
		}
		checkers[m] = c
	}
	f.Fuzz(func(t *testing.T, method, origin, acrm, acrh string, cookie bool, status int, acao, acac, acam, acah, vary, loc string, acaoTwice bool) {
		x := fuzzExchange{method, origin, acrm, acrh, cookie, status % 1000, acao, acac, acam, acah, vary, loc, acaoTwice}
		if !validMethod(method) {
			return
		}
		req, resp := x.headers()
		r := httptest.NewRequest("GET", "http://api.example/", nil)
		r.Method, r.Header = method, req

		verdicts := map[Credentials]Verdict{}
		for m, c := range checkers {
			v, ok := c.Evaluate(r, x.status, resp)
			if ok != (trimOWS(origin) != "") {
				t.Fatalf("ok = %v with Origin %q", ok, origin)
			}
			if !ok {
				return
			}
			checkConsistent(t, v)
			// The Lambda entry agrees with the net/http entry.
			e := Event{Method: method, MultiValueRequestHeaders: lowerMulti(req), Status: x.status, MultiValueResponseHeaders: lowerMulti(resp)}
			ve, oke := c.EvaluateEvent(&e)
			if !oke || ve != v {
				t.Fatalf("EvaluateEvent = %+v, %v; Evaluate = %+v", ve, oke, v)
			}
			verdicts[m] = v
		}
		omit, include := verdicts[CredentialsOmit], verdicts[CredentialsInclude]
		for mode, v := range map[bool]Verdict{false: omit, true: include} {
			if want := refAllowed(req, resp, method, x.status, mode); (v.Outcome == Allowed) != want {
				t.Fatalf("include=%v: verdict %v (%s), Fetch reference says allowed=%v", mode, v.Outcome, v.Reason, want)
			}
		}
		if omit.Outcome == Blocked && include.Outcome != Blocked {
			t.Fatalf("blocked without credentials but not with: %+v / %+v", omit, include)
		}
		u := verdicts[CredentialsUnknown]
		switch {
		case cookie && !u.Preflight:
			if u.Outcome != include.Outcome || u.Code != include.Code || u.Credentials != CredentialsInclude {
				t.Fatalf("a request with cookies: unknown mode %v/%s, include mode %v/%s", u.Outcome, u.Code, include.Outcome, include.Code)
			}
		case omit.Outcome == Blocked:
			if u.Outcome != Blocked || u.Code != omit.Code {
				t.Fatalf("unknown mode %v/%s, omit mode blocked %s", u.Outcome, u.Code, omit.Code)
			}
		case include.Outcome == Blocked:
			if u.Outcome == Blocked {
				t.Fatalf("unknown mode blocked although omit mode allows")
			}
		default:
			if u.Outcome != Allowed {
				t.Fatalf("unknown mode %v although both modes allow", u.Outcome)
			}
		}
	})
}

// validMethod keeps the fuzzer to methods net/http would accept.
func validMethod(m string) bool { return isToken(m) }

func checkConsistent(t *testing.T, v Verdict) {
	t.Helper()
	switch v.Outcome {
	case Allowed:
		if v.Code != "" || v.Reason != "" {
			t.Fatalf("allowed with code %q reason %q", v.Code, v.Reason)
		}
	case Blocked, DependsOnCredentials:
		if v.Code == "" || v.Reason == "" {
			t.Fatalf("%v without code or reason: %+v", v.Outcome, v)
		}
	default:
		t.Fatalf("outcome %d", v.Outcome)
	}
	if v.Warnings != 0 && v.Hint == "" {
		t.Fatalf("warnings %v without a hint", v.Warnings)
	}
	if v.Warnings.String() == "unknown" {
		t.Fatalf("warnings %d", v.Warnings)
	}
	n := 0
	v.Annotate(func(key string, value any) {
		n++
		if s, ok := value.(string); ok && (len(s) > maxAnnotation || !utf8.ValidString(s)) {
			t.Fatalf("annotation %s = %q", key, s)
		}
	})
	if n < 3 {
		t.Fatalf("%d annotations", n)
	}
}
