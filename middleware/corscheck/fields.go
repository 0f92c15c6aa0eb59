package corscheck

import (
	"net/http"
	"strings"
)

// name is a header field name in the two spellings maps use: canonical
// (net/http, API Gateway REST APIs usually) and lower case (HTTP APIs,
// Function URLs, ALB).
type name struct{ canon, lower string }

var (
	hOrigin        = name{"Origin", "origin"}
	hHost          = name{"Host", "host"}
	hCookie        = name{"Cookie", "cookie"}
	hAuthorization = name{"Authorization", "authorization"}
	hFetchMode     = name{"Sec-Fetch-Mode", "sec-fetch-mode"}
	hFetchSite     = name{"Sec-Fetch-Site", "sec-fetch-site"}
	hUpgrade       = name{"Upgrade", "upgrade"}
	hUIR           = name{"Upgrade-Insecure-Requests", "upgrade-insecure-requests"}
	hReqMethod     = name{"Access-Control-Request-Method", "access-control-request-method"}
	hReqHeaders    = name{"Access-Control-Request-Headers", "access-control-request-headers"}
	hAllowOrigin   = name{"Access-Control-Allow-Origin", "access-control-allow-origin"}
	hAllowCreds    = name{"Access-Control-Allow-Credentials", "access-control-allow-credentials"}
	hAllowMeth     = name{"Access-Control-Allow-Methods", "access-control-allow-methods"}
	hAllowHdrs     = name{"Access-Control-Allow-Headers", "access-control-allow-headers"}
	hExpose        = name{"Access-Control-Expose-Headers", "access-control-expose-headers"}
	hVary          = name{"Vary", "vary"}
	hLocation      = name{"Location", "location"}
)

// fields is a read-only view of one header section. Exactly one of its maps
// is used: std, or multi and single together (Lambda events carry both, the
// multi-value map winning). It is a struct, not an interface, so that views
// built on the stack stay there.
type fields struct {
	std    http.Header
	multi  map[string][]string
	single map[string]string
	// fold makes a lookup in std that misses try every other spelling: a
	// handler may have stored a name in the map directly, uncanonicalised,
	// and net/http sends it as it is. (When the canonical spelling is there,
	// other spellings of the same name are not merged in.) Request headers
	// parsed by net/http never need it.
	fold bool
}

// get returns the field's value the way the Fetch standard's "get" does: the
// values of every line with that name, each trimmed of surrounding
// whitespace, joined by ", ". ok is false when the field is absent. Joining
// allocates, but only when the field occurs more than once.
func (f *fields) get(n name) (string, bool) {
	if f.std != nil {
		if vs, ok := f.std[n.canon]; ok || !f.fold {
			return join(vs)
		}
		return join(foldValues(f.std, n))
	}
	if f.multi != nil {
		if vs, ok := lookup(f.multi, n); ok {
			return join(vs)
		}
	}
	if f.single != nil {
		if v, ok := lookup(f.single, n); ok {
			return trimOWS(v), true
		}
	}
	return "", false
}

// lookup finds n in m under either usual spelling, then under any spelling.
func lookup[V any](m map[string]V, n name) (V, bool) {
	if v, ok := m[n.canon]; ok {
		return v, true
	}
	if v, ok := m[n.lower]; ok {
		return v, true
	}
	for k, v := range m {
		if len(k) == len(n.lower) && strings.EqualFold(k, n.lower) {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// values returns the field's lines: vs for the multi-value maps, or one
// for a single-value map. ok is false when the field is absent.
func (f *fields) values(n name) (vs []string, one string, ok bool) {
	if f.std != nil {
		vs, ok := f.std[n.canon]
		if !ok && f.fold {
			vs = foldValues(f.std, n)
		}
		return vs, "", len(vs) > 0
	}
	if f.multi != nil {
		if vs, ok := lookup(f.multi, n); ok && len(vs) > 0 {
			return vs, "", true
		}
	}
	if f.single != nil {
		if v, ok := lookup(f.single, n); ok {
			return nil, v, true
		}
	}
	return nil, "", false
}

// listHas reports whether the list-valued field n, over all its lines,
// contains x (see the function listHas). It does not allocate.
func (f *fields) listHas(n name, x string, exact bool) bool {
	vs, one, ok := f.values(n)
	if !ok {
		return false
	}
	if vs == nil {
		return listHas(one, x, exact)
	}
	for _, v := range vs {
		if listHas(v, x, exact) {
			return true
		}
	}
	return false
}

// validList reports whether every line of the list-valued field n parses.
// An absent field is an empty list.
func (f *fields) validList(n name) bool {
	vs, one, _ := f.values(n)
	if vs == nil {
		return validList(one)
	}
	for _, v := range vs {
		if !validList(v) {
			return false
		}
	}
	return true
}

// foldValues collects the values stored under any non-canonical spelling
// of n. It allocates only when more than one spelling is present.
func foldValues(h http.Header, n name) []string {
	var out []string
	many := false
	for k, vs := range h {
		if len(k) != len(n.lower) || k == n.canon || !strings.EqualFold(k, n.lower) {
			continue
		}
		if out == nil {
			out = vs
		} else {
			if !many {
				out, many = append([]string(nil), out...), true
			}
			out = append(out, vs...)
		}
	}
	return out
}

func join(vs []string) (string, bool) {
	switch len(vs) {
	case 0:
		return "", false
	case 1:
		return trimOWS(vs[0]), true
	}
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(trimOWS(v))
	}
	return b.String(), true
}
