package xrayfilter

import (
	"strconv"
	"strings"
)

// Trace is what an expression is evaluated against: one trace's summary.
// Times are in seconds, as in X-Ray's filter language.
type Trace struct {
	Services    []string // service names of the trace's segments
	RootService string   // the root segment's name (it may be an independent subsegment's)
	Annotations []string // key=value, values as text (strings unquoted)
	// HasAnnotation, when not nil, reports in constant time whether
	// Annotations holds pair (key=value); = on an annotation uses it.
	HasAnnotation func(pair string) bool

	Method, URL, UserAgent string // the root segment's request
	HTTPStatus             int    // the root segment's response status, 0 if none
	ResponseTime           float64
	Duration               float64
	Fault, Error, Throttle bool
	Partial                bool // some segment is still in progress
}

// Match reports whether t satisfies the expression. It takes time linear
// in the expression and t's services and annotations.
func (e *Expr) Match(t *Trace) bool { return e.root.match(t) }

type node interface{ match(t *Trace) bool }

type field uint8

const (
	fFault field = iota
	fError
	fThrottle
	fOK
	fPartial
	fResponseTime
	fDuration
	fHTTPStatus
	fURL
	fMethod
	fUserAgent
)

type (
	andNode  struct{ l, r node }
	orNode   struct{ l, r node }
	notNode  struct{ n node }
	boolCond struct {
		f    field
		want bool
	}
	numCond struct {
		f  field
		op string
		v  float64
	}
	strCond struct {
		f     field
		op, v string
	}
	annCond struct {
		key   string
		hasOp bool
		op    string
		text  string // the value as text (strings unquoted, true/false, a number as written)
		num   float64
		isNum bool
		pair  string // key=text
	}
	serviceCond struct {
		name string
		any  bool
	}
)

func (n andNode) match(t *Trace) bool { return n.l.match(t) && n.r.match(t) }
func (n orNode) match(t *Trace) bool  { return n.l.match(t) || n.r.match(t) }
func (n notNode) match(t *Trace) bool { return !n.n.match(t) }

func (c boolCond) match(t *Trace) bool {
	var v bool
	switch c.f {
	case fFault:
		v = t.Fault
	case fError:
		v = t.Error
	case fThrottle:
		v = t.Throttle
	case fOK:
		v = !t.Fault && !t.Error && !t.Throttle
	case fPartial:
		v = t.Partial
	}
	return v == c.want
}

func (c numCond) match(t *Trace) bool {
	var v float64
	switch c.f {
	case fResponseTime:
		v = t.ResponseTime
	case fDuration:
		v = t.Duration
	case fHTTPStatus:
		if t.HTTPStatus == 0 {
			return false // no status to compare
		}
		v = float64(t.HTTPStatus)
	}
	return compare(v, c.op, c.v)
}

func compare(a float64, op string, b float64) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

func (c strCond) match(t *Trace) bool {
	var v string
	switch c.f {
	case fURL:
		v = t.URL
	case fMethod:
		v = t.Method
	case fUserAgent:
		v = t.UserAgent
	}
	return compareText(v, c.op, c.v)
}

func compareText(a, op, b string) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case "CONTAINS":
		return strings.Contains(a, b)
	case "BEGINSWITH":
		return strings.HasPrefix(a, b)
	case "ENDSWITH":
		return strings.HasSuffix(a, b)
	}
	return false
}

func (c annCond) match(t *Trace) bool {
	if c.op == "=" && !c.isNum && t.HasAnnotation != nil {
		return t.HasAnnotation(c.pair)
	}
	for _, a := range t.Annotations {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k != c.key {
			continue
		}
		if !c.hasOp || c.value(v) {
			return true
		}
	}
	return false
}

// value reports whether one annotation value satisfies the condition.
func (c annCond) value(v string) bool {
	if c.isNum {
		n, err := strconv.ParseFloat(v, 64)
		return err == nil && compare(n, c.op, c.num)
	}
	return compareText(v, c.op, c.text)
}

func (c serviceCond) match(t *Trace) bool {
	if c.any {
		return len(t.Services) > 0 || t.RootService != ""
	}
	if t.RootService == c.name {
		return true
	}
	for _, s := range t.Services {
		if s == c.name {
			return true
		}
	}
	return false
}
