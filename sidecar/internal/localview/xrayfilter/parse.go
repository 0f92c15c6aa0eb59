package xrayfilter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

const (
	// MaxLength is the longest expression Parse accepts, in bytes.
	MaxLength = 4096
	// MaxDepth is how deep parentheses and NOT may nest.
	MaxDepth = 32
)

// SyntaxError is an expression Parse could not use: Offset is the byte
// offset in the expression of the part it could not parse.
type SyntaxError struct {
	Offset int
	Msg    string
	// Unsupported is set when the expression is valid X-Ray syntax that
	// local mode cannot answer.
	Unsupported bool
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at %d", e.Msg, e.Offset) }

func errAt(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Expr is a parsed filter expression. It is safe for concurrent use.
type Expr struct {
	root node
}

// Parse parses a filter expression.
func Parse(s string) (*Expr, error) {
	n, _, err := parse(s)
	if err != nil {
		return nil, err
	}
	return &Expr{root: n}, nil
}

// parse also returns the steps taken: tokens read and nodes built, which
// the linear-time test counts.
func parse(s string) (node, int, error) {
	if len(s) > MaxLength {
		return nil, 0, errAt(MaxLength, "the expression is %d bytes, over the limit of %d", len(s), MaxLength)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, 0, err
	}
	p := &parser{toks: toks}
	if toks[0].kind == tEOF {
		return nil, p.steps, errAt(0, "the expression is empty")
	}
	n, err := p.or(0)
	if err != nil {
		return nil, p.steps, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.steps, errAt(t.off, "expected AND, OR or the end, found %s", t.describe())
	}
	return n, p.steps, nil
}

type parser struct {
	toks  []token
	pos   int
	steps int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	p.steps++
	return t
}

func isWord(t token, w string) bool { return t.kind == tIdent && strings.EqualFold(t.text, w) }

func (p *parser) or(depth int) (node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "OR") {
		op := p.next()
		if p.peek().kind == tEOF {
			return nil, errAt(op.off, "expected a condition after OR")
		}
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		p.steps++
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "AND") {
		op := p.next()
		if p.peek().kind == tEOF {
			return nil, errAt(op.off, "expected a condition after AND")
		}
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		p.steps++
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (node, error) {
	t := p.peek()
	if depth >= MaxDepth && (t.kind == tLParen || t.kind == tBang || isWord(t, "NOT")) {
		return nil, errAt(t.off, "parentheses and NOT nest deeper than %d", MaxDepth)
	}
	switch {
	case t.kind == tBang || isWord(t, "NOT"):
		p.next()
		if p.peek().kind == tEOF {
			return nil, errAt(t.off, "expected a condition after %s", t.text)
		}
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		p.steps++
		return notNode{n}, nil
	case t.kind == tLParen:
		p.next()
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, errAt(c.off, "expected ')' to close the '(' at %d, found %s", t.off, c.describe())
		}
		p.next()
		return n, nil
	}
	return p.condition()
}

// unsupported are X-Ray keywords local mode cannot answer, by prefix.
var unsupported = []struct{ prefix, why string }{
	{"edge", "edge() needs the connections between services"},
	{"group.", "groups live in the X-Ray service"},
	{"rootcause.", "root-cause analysis runs in the X-Ray service"},
	{"http.clientip", "the list does not keep client IPs"},
	{"user", "the list does not keep segment users"},
	{"id", "id() is only valid inside service()"},
	{"json", "json() is not kept"},
	{"cause.", "exceptions are searched in the X-Ray service"},
}

func (p *parser) condition() (node, error) {
	t := p.next()
	if t.kind != tIdent {
		if t.kind == tEOF {
			return nil, errAt(t.off, "expected a condition, found the end")
		}
		return nil, errAt(t.off, "expected a keyword such as responsetime, fault, service(\"name\") or annotation.KEY, found %s", t.describe())
	}
	word := strings.ToLower(t.text)
	switch word {
	case "fault", "error", "throttle", "ok", "partial":
		return p.flagCond(t, word)
	case "responsetime", "duration", "http.status":
		return p.numberCond(t, word)
	case "http.url", "http.method", "http.useragent":
		return p.stringCond(t, word)
	case "service":
		return p.serviceCond(t)
	case "annotation":
		if p.peek().kind != tLBracket {
			return nil, errAt(t.off, "expected annotation.KEY or annotation[KEY]")
		}
		p.next()
		k := p.next()
		if k.kind != tIdent && k.kind != tString {
			return nil, errAt(k.off, "expected an annotation key in annotation[...], found %s", k.describe())
		}
		if c := p.next(); c.kind != tRBracket {
			return nil, errAt(c.off, "expected ']' after the annotation key, found %s", c.describe())
		}
		return p.annotationCond(t, k.text)
	}
	if key, ok := strings.CutPrefix(t.text, "annotation."); ok || strings.HasPrefix(word, "annotation.") {
		if !ok {
			key = t.text[len("annotation."):]
		}
		if key == "" {
			return nil, errAt(t.off, "expected a key after 'annotation.'")
		}
		return p.annotationCond(t, key)
	}
	for _, u := range unsupported {
		if word == u.prefix || strings.HasSuffix(u.prefix, ".") && strings.HasPrefix(word, u.prefix) {
			return nil, &SyntaxError{Offset: t.off, Unsupported: true,
				Msg: fmt.Sprintf("not supported in local mode: %s (%s)", t.text, u.why)}
		}
	}
	hint := ""
	if p.peek().kind == tOp {
		// "cold_start = true": a key compared like an annotation.
		hint = fmt.Sprintf(" (if it is an annotation: annotation.%s)", t.text)
	}
	return nil, errAt(t.off, "unknown keyword %q%s: expected responsetime, duration, http.status, http.url, http.method, http.useragent, fault, error, throttle, ok, partial, service() or annotation.KEY", t.text, hint)
}

// keywordFields is the field each simple keyword reads.
var keywordFields = map[string]field{
	"fault": fFault, "error": fError, "throttle": fThrottle, "ok": fOK, "partial": fPartial,
	"responsetime": fResponseTime, "duration": fDuration, "http.status": fHTTPStatus,
	"http.url": fURL, "http.method": fMethod, "http.useragent": fUserAgent,
}

func (p *parser) flagCond(kw token, word string) (node, error) {
	f := keywordFields[word]
	op := p.peek()
	if op.kind != tOp {
		p.steps++
		return boolCond{f: f, want: true}, nil
	}
	p.next()
	if op.text != "=" && op.text != "!=" {
		return nil, errAt(op.off, "%s is true or false: compare it with = or !=, not %s", kw.text, op.text)
	}
	v := p.next()
	b, ok := boolValue(v)
	if !ok {
		return nil, errAt(v.off, "expected true or false after '%s', found %s", op.text, v.describe())
	}
	p.steps++
	return boolCond{f: f, want: b == (op.text == "=")}, nil
}

func boolValue(t token) (bool, bool) {
	switch {
	case isWord(t, "true"):
		return true, true
	case isWord(t, "false"):
		return false, true
	}
	return false, false
}

func (p *parser) numberCond(kw token, word string) (node, error) {
	op := p.next()
	if op.kind != tOp {
		return nil, errAt(op.off, "expected a comparison (=, !=, <, <=, >, >=) after %s, found %s", kw.text, op.describe())
	}
	v := p.next()
	if v.kind != tNumber {
		return nil, errAt(v.off, "expected a number after '%s', found %s", op.text, v.describe())
	}
	n, err := number(v)
	if err != nil {
		return nil, err
	}
	f := keywordFields[word]
	p.steps++
	return numCond{f: f, op: op.text, v: n}, nil
}

func number(t token) (float64, error) {
	n, err := strconv.ParseFloat(t.text, 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, errAt(t.off, "%q is not a number", t.text)
	}
	return n, nil
}

// strOp reads a string operator: =, != or a word.
func (p *parser) strOp(kw token) (string, token, error) {
	op := p.next()
	switch {
	case op.kind == tOp && (op.text == "=" || op.text == "!="):
		return op.text, op, nil
	case isWord(op, "CONTAINS"), isWord(op, "BEGINSWITH"), isWord(op, "ENDSWITH"):
		return strings.ToUpper(op.text), op, nil
	case op.kind == tOp:
		return "", op, errAt(op.off, "%s is text: compare it with =, !=, CONTAINS, BEGINSWITH or ENDSWITH, not %s", kw.text, op.text)
	}
	return "", op, errAt(op.off, "expected =, !=, CONTAINS, BEGINSWITH or ENDSWITH after %s, found %s", kw.text, op.describe())
}

func (p *parser) stringCond(kw token, word string) (node, error) {
	op, opTok, err := p.strOp(kw)
	if err != nil {
		return nil, err
	}
	v := p.next()
	if v.kind != tString {
		return nil, errAt(v.off, "expected a string in double quotes after '%s', found %s", opTok.text, v.describe())
	}
	f := keywordFields[word]
	p.steps++
	return strCond{f: f, op: op, v: v.text}, nil
}

func (p *parser) annotationCond(kw token, key string) (node, error) {
	op := p.peek()
	if op.kind != tOp && !isWord(op, "CONTAINS") && !isWord(op, "BEGINSWITH") && !isWord(op, "ENDSWITH") {
		p.steps++
		return annCond{key: key}, nil
	}
	p.next()
	v := p.next()
	c := annCond{key: key, op: op.text, hasOp: true}
	switch {
	case op.kind == tOp && (op.text == "=" || op.text == "!="):
		switch v.kind {
		case tString:
			c.text = v.text
		case tNumber:
			n, err := number(v)
			if err != nil {
				return nil, err
			}
			c.num, c.isNum, c.text = n, true, v.text
		default:
			b, ok := boolValue(v)
			if !ok {
				return nil, errAt(v.off, "expected a value (a string in double quotes, a number, true or false) after '%s', found %s", op.text, v.describe())
			}
			c.text = strconv.FormatBool(b)
		}
	case op.kind == tOp:
		if v.kind != tNumber {
			return nil, errAt(v.off, "expected a number after '%s', found %s", op.text, v.describe())
		}
		n, err := number(v)
		if err != nil {
			return nil, err
		}
		c.num, c.isNum = n, true
	default:
		c.op = strings.ToUpper(op.text)
		if v.kind != tString {
			return nil, errAt(v.off, "expected a string in double quotes after %s, found %s", op.text, v.describe())
		}
		c.text = v.text
	}
	c.pair = key + "=" + c.text
	p.steps++
	return c, nil
}

func (p *parser) serviceCond(kw token) (node, error) {
	if o := p.next(); o.kind != tLParen {
		return nil, errAt(o.off, "expected '(' after service, found %s", o.describe())
	}
	var c serviceCond
	switch a := p.next(); {
	case a.kind == tRParen:
		c.any = true
	case a.kind == tString:
		c.name = a.text
		if r := p.next(); r.kind != tRParen {
			return nil, errAt(r.off, "expected ')' after the service name, found %s", r.describe())
		}
	case isWord(a, "id"):
		name, err := p.serviceID(a)
		if err != nil {
			return nil, err
		}
		c.name = name
		if r := p.next(); r.kind != tRParen {
			return nil, errAt(r.off, "expected ')' after id(...), found %s", r.describe())
		}
	default:
		return nil, errAt(a.off, "expected a service name in double quotes or id(name: \"...\") in service(), found %s", a.describe())
	}
	if b := p.peek(); b.kind == tLBrace {
		return nil, &SyntaxError{Offset: b.off, Unsupported: true,
			Msg: "not supported in local mode: conditions in { } after service() (the list keeps one status per trace, not per service)"}
	}
	p.steps++
	return c, nil
}

// serviceID reads id(name: "...", type: "...") after the word id.
func (p *parser) serviceID(id token) (string, error) {
	if o := p.next(); o.kind != tLParen {
		return "", errAt(o.off, "expected '(' after id, found %s", o.describe())
	}
	var name string
	var seen bool
	for {
		k := p.next()
		if !isWord(k, "name") && !isWord(k, "type") {
			return "", errAt(k.off, "expected name: or type: in id(), found %s", k.describe())
		}
		if c := p.next(); c.kind != tColon {
			return "", errAt(c.off, "expected ':' after %s, found %s", k.text, c.describe())
		}
		v := p.next()
		if v.kind != tString {
			return "", errAt(v.off, "expected a string in double quotes after '%s:', found %s", k.text, v.describe())
		}
		if isWord(k, "name") {
			name, seen = v.text, true
		}
		switch s := p.next(); s.kind {
		case tComma:
			continue
		case tRParen:
			if !seen {
				return "", errAt(id.off, "id() needs name: \"...\"")
			}
			return name, nil
		default:
			return "", errAt(s.off, "expected ',' or ')' in id(), found %s", s.describe())
		}
	}
}
