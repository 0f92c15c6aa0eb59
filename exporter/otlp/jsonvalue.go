package otlp

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// Metadata values arrive as encoded JSON. The X-Ray → OTLP rules read them
// as encoding/json reads JSON into an any (objects as maps: keys sorted,
// the last of duplicate keys kept; numbers as float64) and then write
// them as attribute values (members of the "default" namespace) or as JSON
// again (other namespaces). jsonTree parses once into reusable slices and
// writes either form without reflection.

// maxValueDepth is how deeply lists and maps nest in an attribute value
// before they are left out, as in internal/xrayotel.
const maxValueDepth = 16

// maxJSONDepth bounds nesting while parsing (encoding/json's own limit).
const maxJSONDepth = 10000

var errJSON = errors.New("otlp: malformed JSON in metadata")

type jsonKind uint8

const (
	jNull jsonKind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jnode is one parsed JSON value. Strings are (off, n) in jsonTree.strs;
// containers are (off, n) in jsonTree.kids.
type jnode struct {
	kind   jsonKind
	b      bool
	num    float64
	off, n int
}

// jkid is one element of an array or member of an object (key in strs).
type jkid struct {
	koff, kn int
	val      int
}

type jsonTree struct {
	nodes []jnode
	kids  []jkid
	strs  []byte
	stack []jkid
	in    []byte
	pos   int
}

// parse parses one JSON value and returns its node index.
func (t *jsonTree) parse(in []byte) (int, error) {
	t.in, t.pos = in, 0
	n, err := t.value(0)
	if err != nil {
		return 0, err
	}
	t.skipSpace()
	if t.pos != len(t.in) {
		return 0, errJSON
	}
	return n, nil
}

func (t *jsonTree) reset() {
	t.nodes, t.kids, t.strs, t.stack = t.nodes[:0], t.kids[:0], t.strs[:0], t.stack[:0]
}

func (t *jsonTree) skipSpace() {
	for t.pos < len(t.in) {
		switch t.in[t.pos] {
		case ' ', '\t', '\n', '\r':
			t.pos++
		default:
			return
		}
	}
}

func (t *jsonTree) add(n jnode) int {
	t.nodes = append(t.nodes, n)
	return len(t.nodes) - 1
}

func (t *jsonTree) value(depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, errJSON
	}
	t.skipSpace()
	if t.pos >= len(t.in) {
		return 0, errJSON
	}
	switch c := t.in[t.pos]; {
	case c == '{':
		return t.container(depth, '}', true)
	case c == '[':
		return t.container(depth, ']', false)
	case c == '"':
		off, n, err := t.str()
		if err != nil {
			return 0, err
		}
		return t.add(jnode{kind: jString, off: off, n: n}), nil
	case c == 't':
		return t.literal("true", jnode{kind: jBool, b: true})
	case c == 'f':
		return t.literal("false", jnode{kind: jBool})
	case c == 'n':
		return t.literal("null", jnode{kind: jNull})
	default:
		return t.number()
	}
}

func (t *jsonTree) literal(word string, n jnode) (int, error) {
	if !bytes.HasPrefix(t.in[t.pos:], []byte(word)) {
		return 0, errJSON
	}
	t.pos += len(word)
	return t.add(n), nil
}

func (t *jsonTree) number() (int, error) {
	start := t.pos
	p := t.pos
	in := t.in
	if p < len(in) && in[p] == '-' {
		p++
	}
	switch {
	case p < len(in) && in[p] == '0':
		p++
	case p < len(in) && in[p] >= '1' && in[p] <= '9':
		for p < len(in) && in[p] >= '0' && in[p] <= '9' {
			p++
		}
	default:
		return 0, errJSON
	}
	if p < len(in) && in[p] == '.' {
		p++
		d := p
		for p < len(in) && in[p] >= '0' && in[p] <= '9' {
			p++
		}
		if p == d {
			return 0, errJSON
		}
	}
	if p < len(in) && (in[p] == 'e' || in[p] == 'E') {
		p++
		if p < len(in) && (in[p] == '+' || in[p] == '-') {
			p++
		}
		d := p
		for p < len(in) && in[p] >= '0' && in[p] <= '9' {
			p++
		}
		if p == d {
			return 0, errJSON
		}
	}
	t.pos = p
	f, err := strconv.ParseFloat(string(in[start:p]), 64)
	if err != nil {
		return 0, errJSON // out of range, as encoding/json refuses it
	}
	return t.add(jnode{kind: jNumber, num: f}), nil
}

// str reads a JSON string into strs, decoded the way encoding/json
// decodes it (invalid UTF-8 and lone surrogates become U+FFFD).
func (t *jsonTree) str() (off, n int, err error) {
	in := t.in
	p := t.pos + 1
	off = len(t.strs)
	for {
		if p >= len(in) {
			return 0, 0, errJSON
		}
		c := in[p]
		switch {
		case c == '"':
			t.pos = p + 1
			return off, len(t.strs) - off, nil
		case c < 0x20:
			return 0, 0, errJSON
		case c == '\\':
			if p+1 >= len(in) {
				return 0, 0, errJSON
			}
			p++
			switch in[p] {
			case '"', '\\', '/':
				t.strs = append(t.strs, in[p])
			case 'b':
				t.strs = append(t.strs, '\b')
			case 'f':
				t.strs = append(t.strs, '\f')
			case 'n':
				t.strs = append(t.strs, '\n')
			case 'r':
				t.strs = append(t.strs, '\r')
			case 't':
				t.strs = append(t.strs, '\t')
			case 'u':
				r, ok := hex4(in[p+1:])
				if !ok {
					return 0, 0, errJSON
				}
				p += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if p+2 < len(in) && in[p+1] == '\\' && in[p+2] == 'u' {
						r2, ok2 = hex4(in[p+3:])
					}
					if ok2 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							p += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				t.strs = utf8.AppendRune(t.strs, r)
			default:
				return 0, 0, errJSON
			}
			p++
		case c < utf8.RuneSelf:
			t.strs = append(t.strs, c)
			p++
		default:
			r, size := utf8.DecodeRune(in[p:])
			if r == utf8.RuneError && size == 1 {
				t.strs = append(t.strs, "\uFFFD"...)
			} else {
				t.strs = append(t.strs, in[p:p+size]...)
			}
			p += size
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (t *jsonTree) container(depth int, end byte, object bool) (int, error) {
	t.pos++
	mark := len(t.stack)
	t.skipSpace()
	if t.pos < len(t.in) && t.in[t.pos] == end {
		t.pos++
	} else {
		for {
			var k jkid
			if object {
				t.skipSpace()
				if t.pos >= len(t.in) || t.in[t.pos] != '"' {
					return 0, errJSON
				}
				var err error
				if k.koff, k.kn, err = t.str(); err != nil {
					return 0, err
				}
				t.skipSpace()
				if t.pos >= len(t.in) || t.in[t.pos] != ':' {
					return 0, errJSON
				}
				t.pos++
			}
			v, err := t.value(depth + 1)
			if err != nil {
				return 0, err
			}
			k.val = v
			t.stack = append(t.stack, k)
			t.skipSpace()
			if t.pos >= len(t.in) {
				return 0, errJSON
			}
			c := t.in[t.pos]
			t.pos++
			if c == end {
				break
			}
			if c != ',' {
				return 0, errJSON
			}
		}
	}
	off := len(t.kids)
	t.kids = append(t.kids, t.stack[mark:]...)
	t.stack = t.stack[:mark]
	kids := t.kids[off:]
	if object {
		// As a Go map: keys in order, the last of equal keys kept.
		slices.SortStableFunc(kids, func(a, b jkid) int { return bytes.Compare(t.key(a), t.key(b)) })
		w := 0
		for i := range kids {
			if i+1 < len(kids) && bytes.Equal(t.key(kids[i]), t.key(kids[i+1])) {
				continue
			}
			kids[w] = kids[i]
			w++
		}
		t.kids = t.kids[:off+w]
		return t.add(jnode{kind: jObject, off: off, n: w}), nil
	}
	return t.add(jnode{kind: jArray, off: off, n: len(kids)}), nil
}

func (t *jsonTree) key(k jkid) []byte { return t.strs[k.koff : k.koff+k.kn] }

func (t *jsonTree) strOf(n *jnode) []byte { return t.strs[n.off : n.off+n.n] }

// present reports whether node i becomes an attribute value at depth
// (null is left out, as are lists and maps nested too deeply).
func (t *jsonTree) present(i, depth int) bool {
	n := &t.nodes[i]
	switch n.kind {
	case jNull:
		return false
	case jArray, jObject:
		return depth < maxValueDepth
	}
	return true
}

// appendAnyValue appends the contents of an AnyValue for node i; the
// caller has checked present(i, depth).
func (t *jsonTree) appendAnyValue(b []byte, i, depth int) []byte {
	n := t.nodes[i]
	switch n.kind {
	case jBool:
		return appendVarintField(b, fAnyBool, protowire.EncodeBool(n.b))
	case jNumber:
		return appendNumber(b, n.num)
	case jString:
		return appendBytes(b, fAnyString, t.strOf(&n))
	case jArray:
		b, arr := openLen(b, fAnyArray)
		for _, k := range t.kids[n.off : n.off+n.n] {
			if !t.present(k.val, depth+1) {
				continue
			}
			var v int
			b, v = openLen(b, fArrayValues)
			b = t.appendAnyValue(b, k.val, depth+1)
			b = closeLen(b, v)
		}
		return closeLen(b, arr)
	case jObject:
		b, kvl := openLen(b, fAnyKVList)
		for _, k := range t.kids[n.off : n.off+n.n] {
			if !t.present(k.val, depth+1) {
				continue
			}
			var kv, v int
			b, kv = openLen(b, fKVListValues)
			b = appendBytes(b, fKeyValueKey, t.key(k))
			b, v = openLen(b, fKeyValueValue)
			b = t.appendAnyValue(b, k.val, depth+1)
			b = closeLen(b, v)
			b = closeLen(b, kv)
		}
		return closeLen(b, kvl)
	}
	return b
}

// appendJSON appends node i as encoding/json.Marshal writes the value it
// decodes to: keys sorted, HTML characters escaped, floats in Go's form.
func (t *jsonTree) appendJSON(b []byte, i int) []byte {
	n := t.nodes[i]
	switch n.kind {
	case jNull:
		return append(b, "null"...)
	case jBool:
		return strconv.AppendBool(b, n.b)
	case jNumber:
		return jsonenc.AppendFloat(b, n.num)
	case jString:
		return appendMarshalString(b, t.strOf(&n))
	case jArray:
		b = append(b, '[')
		for j, k := range t.kids[n.off : n.off+n.n] {
			if j > 0 {
				b = append(b, ',')
			}
			b = t.appendJSON(b, k.val)
		}
		return append(b, ']')
	case jObject:
		b = append(b, '{')
		for j, k := range t.kids[n.off : n.off+n.n] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendMarshalString(b, t.key(k))
			b = append(b, ':')
			b = t.appendJSON(b, k.val)
		}
		return append(b, '}')
	}
	return b
}

// appendMarshalString appends valid UTF-8 s quoted as encoding/json.Marshal
// quotes it (with HTML escaping).
func appendMarshalString(b, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
