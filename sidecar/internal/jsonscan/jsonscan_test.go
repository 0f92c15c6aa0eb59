package jsonscan_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/jsonscan"
)

func TestValidTable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{}`, true}, {` {"a":[1,2.5e3,-0,true,false,null,"x\u00e9\n"]} `, true},
		{`{"a":1,}`, false}, {`{"a" 1}`, false}, {`[1,]`, false}, {`01`, false}, {`1.`, false},
		{`"\x"`, false}, {"\"a\x01\"", false}, {`{"a":1}x`, false}, {``, false}, {`nul`, false},
		{`-`, false}, {`1e`, false}, {`"\u12"`, false}, {strings.Repeat("[", 300) + strings.Repeat("]", 300), false},
	} {
		if got := jsonscan.Valid([]byte(tc.in)); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestObjectMembers(t *testing.T) {
	var keys, vals []string
	err := jsonscan.Object([]byte(` { "a" : 1 , "b\"c":{"x":[1]}, "d":"e\u00e9" } `), func(k, v []byte) error {
		keys, vals = append(keys, string(k)), append(vals, string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != `[a b\"c d]` || fmt.Sprint(vals) != `[1 {"x":[1]} "e\u00e9"]` {
		t.Fatalf("keys %q vals %q", keys, vals)
	}
	if s, ok := jsonscan.String([]byte(vals[2])); !ok || s != "eé" {
		t.Fatalf("String = %q %v", s, ok)
	}
	if err := jsonscan.Object([]byte(`[1]`), func(k, v []byte) error { return nil }); !errors.Is(err, jsonscan.ErrNotObject) {
		t.Fatalf("array gave %v", err)
	}
	if err := jsonscan.Object([]byte(`{"a":}`), func(k, v []byte) error { return nil }); !errors.Is(err, jsonscan.ErrSyntax) {
		t.Fatalf("garbage gave %v", err)
	}
	var elems []string
	if err := jsonscan.Elements([]byte(`[ 1, "a" ,[2]]`), func(e []byte) error { elems = append(elems, string(e)); return nil }); err != nil || len(elems) != 3 || elems[2] != "[2]" {
		t.Fatalf("elements %q %v", elems, err)
	}
}

// FuzzValid checks the scanner against encoding/json and that String
// decodes strings as encoding/json does.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,"b\u00e9\ud83d\ude00"]}`, `[1e5,-0.5]`, `"\"\\/\b\f\n\r\t"`, `{"a":1,}`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := jsonscan.Valid(b), json.Valid(b)
		if got != want {
			// Only nesting beyond MaxDepth may differ.
			if !(want && !got && strings.Count(string(b), "[")+strings.Count(string(b), "{") > jsonscan.MaxDepth) {
				t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
			}
		}
		if got && len(b) > 0 {
			var s string
			if json.Unmarshal(b, &s) == nil {
				trimmed := strings.TrimSpace(string(b))
				d, ok := jsonscan.String([]byte(trimmed))
				if !ok || d != s {
					t.Fatalf("String(%q) = %q, encoding/json %q", trimmed, d, s)
				}
				if !jsonscan.Equal([]byte(trimmed), s) {
					t.Fatalf("Equal(%q, %q) false", trimmed, s)
				}
			}
		}
		isObject := got && strings.HasPrefix(strings.TrimLeft(string(b), " \t\r\n"), "{")
		err := jsonscan.Object(b, func(k, v []byte) error {
			if !jsonscan.Valid(v) {
				t.Fatalf("member value %q not valid", v)
			}
			return nil
		})
		if (err == nil) != isObject {
			t.Fatalf("Object(%q) = %v, but valid object = %v", b, err, isObject)
		}
	})
}

func BenchmarkObject(b *testing.B) {
	doc := []byte(`{"trace_id":"1-594aed87-ad72e26896b3f9d3a27054bb","id":"6226467e3f845502","start_time":1498082657.37518,"end_time":1498082695.4042,"name":"test.elasticbeanstalk.com","http":{"request":{"method":"GET","url":"http://x/"},"response":{"status":200}}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		_ = jsonscan.Object(doc, func(k, v []byte) error { return nil })
	}
}

func ExampleObject() {
	_ = jsonscan.Object([]byte(`{"id":"6226467e3f845502","n":2}`), func(k, v []byte) error {
		fmt.Printf("%s=%s\n", k, v)
		return nil
	})
	// Output:
	// id="6226467e3f845502"
	// n=2
}
