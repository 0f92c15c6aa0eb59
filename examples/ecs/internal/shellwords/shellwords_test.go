package shellwords

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

var vars = map[string]string{"URL": "http://lb", "A": "x y", "EMPTY": ""}

func lookup(k string) (string, bool) { v, ok := vars[k]; return v, ok }

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: `aws ecs list  --x 'a b'`, want: []string{"aws", "ecs", "list", "--x", "a b"}},
		{in: `curl -s "$URL/orders/[1-3]"`, want: []string{"curl", "-s", "http://lb/orders/[1-3]"}},
		{in: `echo ${URL}x '$URL' "\$URL" \$URL`, want: []string{"echo", "http://lbx", "$URL", "$URL", "$URL"}},
		{in: `a "" b`, want: []string{"a", "", "b"}},
		{in: `a $EMPTY b`, want: []string{"a", "b"}},
		{in: `a x$A b "$A"`, want: []string{"a", "xx", "y", "b", "x y"}},
		{in: `a "q\"uote" it\'s`, want: []string{"a", `q"uote`, "it's"}},
		{in: `--query "Stacks[0].Outputs[?OutputKey=='LoadBalancerUrl'].OutputValue"`, want: []string{"--query", "Stacks[0].Outputs[?OutputKey=='LoadBalancerUrl'].OutputValue"}},
		{in: `cost $5`, err: "special parameter"},
		{in: `a $ b$`, want: []string{"a", "$", "b$"}},
		{in: `echo $NOPE`, err: "not set"},
		{in: `echo $(date)`, err: "command substitution"},
		{in: "echo `date`", err: "backquote"},
		{in: `echo 'open`, err: "unterminated"},
		{in: `echo "open`, err: "unterminated"},
		{in: `echo ${URL`, err: "unclosed"},
		{in: `echo \`, err: "trailing"},
	}
	for _, c := range cases {
		got, err := Split(c.in, lookup)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Split(%q) = %q, %v; want an error about %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestAgainstSh checks Split against sh itself.
func TestAgainstSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	for _, line := range []string{`a 'b c' "d $URL" \e`, `"\$x" '$A'`, `${A}b`, `x"y"'z'`, `a x$A b "$A" $EMPTY "$EMPTY"`, `"a\\b\c" 'it''s'`} {
		words, err := Split(line, lookup)
		if err != nil {
			t.Fatalf("Split(%q): %v", line, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, sh, "-c", `printf '<%s>' `+line)
		cmd.Env = []string{"URL=" + vars["URL"], "A=" + vars["A"], "EMPTY="}
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		var got strings.Builder
		for _, w := range words {
			got.WriteString("<" + w + ">")
		}
		if got.String() != string(out) {
			t.Errorf("Split(%q) = %s; sh says %s", line, got.String(), out)
		}
	}
}

// FuzzSplit checks that Split never fails on a line it produced quoting
// for, and gives the words back.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`a 'b c' "d $URL" \e`, `"\$x" '$A'`, `${A}b`, `x"y"'z'`, `$(date)`, `${`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := Split(line, lookup)
		if err != nil {
			return
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
		}
		again, err := Split(strings.Join(quoted, " "), lookup)
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("Split(%q) = %q, but re-quoted gives %q, %v", line, words, again, err)
		}
	})
}
