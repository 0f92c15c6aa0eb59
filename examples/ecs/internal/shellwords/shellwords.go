package shellwords

import (
	"errors"
	"fmt"
	"strings"
)

// Split splits line into words. lookup expands variables; a variable it
// does not know is an error, so a command that uses an undefined variable
// is caught.
func Split(line string, lookup func(name string) (string, bool)) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	// expand reads the variable at line[i] == '$'. Outside double quotes
	// its value is split into fields on blanks, as sh does, and an empty
	// value makes no word.
	expand := func(i int, quoted bool) (int, error) {
		// line[i] == '$'
		rest := line[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "("):
			return 0, fmt.Errorf("shellwords: command substitution at %d is not supported", i)
		case rest != "" && strings.IndexByte("0123456789?$!@*#-", rest[0]) >= 0:
			return 0, fmt.Errorf("shellwords: special parameter $%c at %d is not supported", rest[0], i)
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("shellwords: unclosed ${ at %d", i)
			}
			name = rest[1:end]
			i += end + 2
		default:
			n := 0
			for n < len(rest) && (rest[n] == '_' || rest[n] >= 'A' && rest[n] <= 'Z' || rest[n] >= 'a' && rest[n] <= 'z' || n > 0 && rest[n] >= '0' && rest[n] <= '9') {
				n++
			}
			if n == 0 {
				cur.WriteByte('$') // a lone $ is literal
				inWord = true
				return i + 1, nil
			}
			name = rest[:n]
			i += n + 1
		}
		if !validName(name) {
			return 0, fmt.Errorf("shellwords: bad variable name %q", name)
		}
		v, ok := lookup(name)
		if !ok {
			return 0, fmt.Errorf("shellwords: variable %s is not set", name)
		}
		if quoted {
			cur.WriteString(v)
			return i, nil
		}
		for j, f := range strings.Fields(v) {
			if j > 0 || (v[0] == ' ' || v[0] == '\t' || v[0] == '\n') {
				flush()
			}
			cur.WriteString(f)
			inWord = true
		}
		if n := len(v); n > 0 && (v[n-1] == ' ' || v[n-1] == '\t' || v[n-1] == '\n') {
			flush()
		}
		return i, nil
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			flush()
			i++
		case c == '\\':
			if i+1 >= len(line) {
				return nil, errors.New("shellwords: trailing backslash")
			}
			cur.WriteByte(line[i+1])
			inWord = true
			i += 2
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("shellwords: unterminated ' at %d", i)
			}
			cur.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			inWord = true
			i++
			closed := false
			for i < len(line) && !closed {
				switch d := line[i]; {
				case d == '"':
					closed = true
					i++
				case d == '\\' && i+1 < len(line) && strings.IndexByte("$`\"\\\n", line[i+1]) >= 0:
					cur.WriteByte(line[i+1])
					i += 2
				case d == '$':
					var err error
					if i, err = expand(i, true); err != nil {
						return nil, err
					}
				case d == '`':
					return nil, errors.New("shellwords: backquote substitution is not supported")
				default:
					cur.WriteByte(d)
					i++
				}
			}
			if !closed {
				return nil, errors.New("shellwords: unterminated \"")
			}
		case c == '$':
			var err error
			if i, err = expand(i, false); err != nil {
				return nil, err
			}
		case c == '`':
			return nil, errors.New("shellwords: backquote substitution is not supported")
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	flush()
	return words, nil
}

func validName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
