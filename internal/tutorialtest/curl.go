package tutorialtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Curl runs a tutorial's curl command with net/http and returns the
// answer's status, header and body. It knows the part of curl the
// tutorials use (-i, -s, -X, -H and one URL, in words split as sh splits
// them with single quotes), follows no redirect, and fails the test on
// anything else.
func Curl(t testing.TB, ctx context.Context, cmd string) (int, http.Header, string) {
	t.Helper()
	words, err := splitWords(cmd)
	if err != nil || len(words) == 0 || words[0] != "curl" {
		t.Fatalf("not a curl command (%v): %s", err, cmd)
	}
	method, target := http.MethodGet, ""
	h := http.Header{}
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "-i", "-s":
		case "-X", "-H":
			if i+1 == len(words) {
				t.Fatalf("%s without a value: %s", w, cmd)
			}
			i++
			if w == "-X" {
				method = words[i]
				continue
			}
			k, v, ok := strings.Cut(words[i], ":")
			if !ok {
				t.Fatalf("header %q: %s", words[i], cmd)
			}
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		default:
			if strings.HasPrefix(w, "-") || target != "" {
				t.Fatalf("curl argument %q is not supported here: %s", w, cmd)
			}
			target = w
		}
	}
	if _, err := url.Parse(target); err != nil || target == "" {
		t.Fatalf("URL %q: %v", target, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// splitWords splits a shell command line into words, honouring single
// quotes (all the tutorials use); it refuses the characters that would
// make sh do more.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune(`"\$`+"`", r):
			return nil, fmt.Errorf("unsupported shell character %q", r)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
