package xrayput

import (
	"unicode/utf8"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

const (
	escHigh  = 1 // a byte of a multi-byte sequence: valid UTF-8 goes through as is
	escOther = 2 // a control byte JSON allows nowhere raw: leave it to jsonenc
)

// escapes maps each byte to what AppendDocString does with it: 0 copies
// it, a letter writes a backslash and the letter, escHigh and escOther are
// above. In a document that passed xraydoc.Check only quotes, backslashes
// and the whitespace bytes tab, newline and carriage return need escaping.
var escapes = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = escOther
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = escHigh
	}
	t['"'], t['\\'], t['\n'], t['\r'], t['\t'] = '"', '\\', 'n', 'r', 't'
	return t
}()

// AppendDocString appends doc, a document that passed xraydoc.Check, as a
// JSON string literal, the same string jsonenc.AppendString would encode
// (U+2028 and U+2029 are left raw: the request body is not JavaScript).
// It writes into room reserved up front, byte by byte: documents full of
// quotes, like every segment, escape about twice as fast this way as by
// copying the runs between quotes. Input it was not written for (other
// control bytes, invalid UTF-8) goes to jsonenc, which handles anything.
func AppendDocString(dst []byte, doc string) []byte {
	n := len(dst)
	if cap(dst)-n < 2*len(doc)+2 {
		grown := make([]byte, n, n+2*len(doc)+2+n/4)
		copy(grown, dst)
		dst = grown
	}
	d := dst[n : n+2*len(doc)+2]
	d[0] = '"'
	j := 1
	checked := false // the rest of doc is known to be valid UTF-8
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		e := escapes[c]
		if e == 0 {
			d[j] = c
			j++
			continue
		}
		switch e {
		case escHigh:
			if !checked {
				if !utf8.ValidString(doc[i:]) {
					return jsonenc.AppendString(dst[:n], doc)
				}
				checked = true
			}
			d[j] = c
			j++
		case escOther:
			return jsonenc.AppendString(dst[:n], doc)
		default:
			d[j], d[j+1] = '\\', e
			j += 2
		}
	}
	d[j] = '"'
	return dst[:n+j+1]
}

// AppendBody appends the restJson body of a PutTraceSegments request,
// {"TraceSegmentDocuments":[...]}, with docs (documents that passed
// xraydoc.Check; see AppendDocString for anything else) as its strings.
// It grows dst once, to room for every document with a quarter more for
// escapes and twice the longest, which AppendDocString wants free before
// each one.
func AppendBody(dst []byte, docs []string) []byte {
	size, longest := 32, 0
	for _, d := range docs {
		size += len(d) + len(d)/4 + 3
		longest = max(longest, len(d))
	}
	size += 2 * longest
	if cap(dst)-len(dst) < size {
		grown := make([]byte, len(dst), len(dst)+size)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, `{"TraceSegmentDocuments":[`...)
	for i, d := range docs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendDocString(dst, d)
	}
	return append(dst, "]}"...)
}
