package xrayfilter

import "strings"

type kind uint8

const (
	tEOF    kind = iota
	tIdent       // keyword, annotation.key, AND, OR, NOT, CONTAINS, true, ...
	tString      // "..." (text holds the unquoted value)
	tNumber      // 12, -3.5, 1e3
	tOp          // = != < <= > >=
	tBang        // !
	tLParen
	tRParen
	tLBracket
	tRBracket
	tLBrace
	tRBrace
	tComma
	tColon
)

type token struct {
	kind kind
	text string // as written, except strings: unquoted
	off  int    // byte offset of the token's first byte
}

// describe names a token in an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end"
	case tString:
		return "a string"
	case tNumber:
		return "the number " + t.text
	}
	return "'" + t.text + "'"
}

// lex splits s into tokens in one pass.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errAt(i, "string opened here is not closed with '\"'")
			}
			toks = append(toks, token{tString, b.String(), i})
			i = j + 1
		case isDigit(c) || (c == '-' || c == '.') && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j], i})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j], i})
			i = j
		case c == '=':
			toks = append(toks, token{tOp, "=", i})
			i++
		case c == '!' || c == '<' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, token{tOp, s[i : i+2], i})
				i += 2
			} else if c == '!' {
				toks = append(toks, token{tBang, "!", i})
				i++
			} else {
				toks = append(toks, token{tOp, s[i : i+1], i})
				i++
			}
		case c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == ',' || c == ':':
			toks = append(toks, token{punct[c], s[i : i+1], i})
			i++
		default:
			return nil, errAt(i, "unexpected character %q", quoteByte(s, i))
		}
	}
	return append(toks, token{tEOF, "", len(s)}), nil
}

var punct = map[byte]kind{'(': tLParen, ')': tRParen, '[': tLBracket, ']': tRBracket, '{': tLBrace, '}': tRBrace, ',': tComma, ':': tColon}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isIdentByte(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '.' }

// quoteByte is the character at s[i], or the byte if it is not valid UTF-8.
func quoteByte(s string, i int) string {
	for _, r := range s[i:] {
		return string(r)
	}
	return ""
}
