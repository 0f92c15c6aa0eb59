package xrayfilter

import (
	"errors"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/allocs"
)

// faulted is a CORS preflight that failed: the trace the tests look for.
var faulted = Trace{
	Services:    []string{"frontend", "orders"},
	RootService: "frontend",
	Annotations: []string{"cors_code=preflight-status", "cors_verdict=blocked", "attempt=3", "ColdStart=true"},
	Method:      "OPTIONS", URL: "https://api.example.com/orders/42?x=1", UserAgent: "Mozilla/5.0 Chrome/131",
	HTTPStatus: 503, ResponseTime: 1.5, Duration: 2.25, Fault: true, Error: true,
}

// healthy is an ordinary request.
var healthy = Trace{
	Services: []string{"catalog"}, RootService: "catalog",
	Annotations: []string{"attempt=1", "route=GET /items"},
	Method:      "GET", URL: "http://catalog/items", UserAgent: "curl/8.5",
	HTTPStatus: 200, ResponseTime: 0.004, Duration: 0.005,
}

// throttled is a request that was throttled, still in progress.
var throttled = Trace{
	Services: []string{"catalog"}, RootService: "catalog", Method: "GET", URL: "http://catalog/items",
	HTTPStatus: 429, ResponseTime: 0.002, Duration: 0.002, Error: true, Throttle: true, Partial: true,
}

// TestRules is one row per rule of the language: which of the three
// traces (faulted, healthy, throttled) each expression matches.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string // f, h and t for the traces matched, in that order
	}{
		// Flags.
		{"fault", "f"}, {"error", "ft"}, {"throttle", "t"}, {"ok", "h"}, {"partial", "t"},
		{"fault = true", "f"}, {"fault = false", "ht"}, {"fault != true", "ht"}, {"error != false", "ft"},
		{"FAULT = TRUE", "f"}, {"ok = false", "ft"},
		// Numbers: responsetime and duration in seconds, http.status.
		{"responsetime > 1", "f"}, {"responsetime >= 1.5", "f"}, {"responsetime < 0.003", "t"},
		{"responsetime <= 0.004", "ht"}, {"responsetime = 1.5", "f"}, {"responsetime != 1.5", "ht"},
		{"duration > 2", "f"}, {"duration >= 0.005 AND duration <= 5", "fh"}, {"duration < 1e-2", "ht"},
		{"http.status = 503", "f"}, {"http.status >= 400", "ft"}, {"http.status != 200", "ft"}, {"http.status < 300", "h"},
		// Strings.
		{`http.url CONTAINS "orders"`, "f"}, {`http.url BEGINSWITH "http://catalog"`, "ht"}, {`http.url ENDSWITH "/items"`, "ht"},
		{`http.url = "http://catalog/items"`, "ht"}, {`http.url != "http://catalog/items"`, "f"}, {`http.url contains "ORDERS"`, ""},
		{`http.method = "OPTIONS"`, "f"}, {`http.method != "GET"`, "f"},
		{`http.useragent CONTAINS "Chrome"`, "f"}, {`http.useragent BEGINSWITH "curl/"`, "h"},
		// Services.
		{`service("orders")`, "f"}, {`service("catalog")`, "ht"}, {`service("nope")`, ""}, {`service()`, "fht"},
		{`service(id(name: "orders"))`, "f"}, {`service(id(name: "frontend", type: "AWS::ECS::Container"))`, "f"},
		{`service(id(type: "AWS::Lambda::Function", name: "catalog"))`, "ht"},
		// Annotations: both forms, presence, each operator and value type.
		{"annotation.cors_code", "f"}, {"annotation[cors_code]", "f"}, {`annotation["route"]`, "h"},
		{`annotation.cors_code = "preflight-status"`, "f"}, {`annotation[cors_code] = "preflight-status"`, "f"},
		{`annotation.cors_code != "preflight-status"`, ""}, {`annotation.cors_verdict != "allowed"`, "f"},
		{`annotation.cors_code CONTAINS "flight"`, "f"}, {`annotation.cors_code BEGINSWITH "pre"`, "f"}, {`annotation.cors_code ENDSWITH "status"`, "f"},
		{"annotation.attempt = 3", "f"}, {"annotation.attempt = 3.0", "f"}, {"annotation.attempt > 1", "f"}, {"annotation.attempt >= 1", "fh"},
		{"annotation.attempt < 2", "h"}, {"annotation.attempt <= 3", "fh"}, {"annotation.attempt != 1", "f"},
		{"annotation.ColdStart = true", "f"}, {"annotation.ColdStart = false", ""}, {`annotation.route > 1`, ""},
		// Combinations, precedence (AND binds tighter than OR), NOT, !, parentheses.
		{`annotation.cors_code = "preflight-status" AND responsetime > 1`, "f"},
		{`annotation.cors_code = "preflight-status" AND responsetime > 2`, ""},
		{"fault OR throttle", "ft"}, {"ok OR fault AND throttle", "h"}, {"(ok OR fault) AND responsetime > 1", "f"},
		{"NOT fault", "ht"}, {"!fault", "ht"}, {"not (fault or throttle)", "h"}, {"NOT NOT ok", "h"}, {"!(error) AND !partial", "h"}, {"!(error) AND partial", ""},
		{`service("catalog") AND NOT partial`, "h"}, {`((((fault))))`, "f"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := Parse(tc.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			var got string
			for i, tr := range []*Trace{&faulted, &healthy, &throttled} {
				if e.Match(tr) {
					got += "fht"[i : i+1]
				}
			}
			if got != tc.want {
				t.Errorf("%q matches %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

// An annotation = uses the constant-time lookup when the trace has one,
// and agrees with the scan.
func TestAnnotationLookup(t *testing.T) {
	e, err := Parse(`annotation.cors_code = "preflight-status"`)
	if err != nil {
		t.Fatal(err)
	}
	tr := faulted
	var asked []string
	tr.HasAnnotation = func(pair string) bool { asked = append(asked, pair); return pair == "cors_code=preflight-status" }
	if !e.Match(&tr) || len(asked) != 1 || asked[0] != "cors_code=preflight-status" {
		t.Errorf("lookup asked %q", asked)
	}
}

// TestErrors is what Parse says about expressions it cannot use: the
// offset of the part at fault and a message naming it.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		expr        string
		off         int
		msg         string
		unsupported bool
	}{
		{"", 0, "the expression is empty", false},
		{"   ", 0, "the expression is empty", false},
		{`annotation.cors_code = "preflight-status" AND responsetime >`, 60, "expected a number after '>', found the end", false},
		{"responsetime > ", 15, "expected a number after '>'", false},
		{"responsetime 5", 13, "expected a comparison", false},
		{`responsetime > "5"`, 15, "expected a number after '>', found a string", false},
		{"duration CONTAINS 5", 9, "expected a comparison", false},
		{`http.url > "a"`, 9, "http.url is text: compare it with =, !=, CONTAINS, BEGINSWITH or ENDSWITH, not >", false},
		{`http.url CONTAINS orders`, 18, "expected a string in double quotes after 'CONTAINS', found 'orders'", false},
		{`http.method`, 11, "expected =, !=, CONTAINS, BEGINSWITH or ENDSWITH after http.method, found the end", false},
		{"fault > 1", 6, "fault is true or false", false},
		{"fault = 1", 8, "expected true or false after '=', found the number 1", false},
		{`annotation.k = `, 15, "expected a value", false},
		{`annotation.k > "x"`, 15, "expected a number after '>', found a string", false},
		{`annotation.k CONTAINS 3`, 22, "expected a string in double quotes after CONTAINS", false},
		{`annotation.`, 0, "expected a key after 'annotation.'", false},
		{`annotation`, 0, "expected annotation.KEY or annotation[KEY]", false},
		{`annotation[`, 11, "expected an annotation key", false},
		{`annotation[k`, 12, "expected ']'", false},
		{`(fault`, 6, "expected ')' to close the '(' at 0, found the end", false},
		{`fault)`, 5, "expected AND, OR or the end, found ')'", false},
		{`fault throttle`, 6, "expected AND, OR or the end, found 'throttle'", false},
		{`fault AND`, 6, "expected a condition after AND", false},
		{`fault OR`, 6, "expected a condition after OR", false},
		{`NOT`, 0, "expected a condition after NOT", false},
		{`AND fault`, 0, "unknown keyword \"AND\"", false},
		{`= 3`, 0, "expected a keyword", false},
		{`latency > 3`, 0, "unknown keyword \"latency\"", false},
		{`cold_start = true`, 0, "unknown keyword \"cold_start\" (if it is an annotation: annotation.cold_start)", false},
		{`fault AND cold_start`, 10, "unknown keyword \"cold_start\": expected", false},
		{`"orders"`, 0, "expected a keyword", false},
		{`fault # x`, 6, "unexpected character \"#\"", false},
		{`annotation.k = "open`, 15, "string opened here is not closed", false},
		{`responsetime > 1e999`, 15, "\"1e999\" is not a number", false},
		{`service`, 7, "expected '(' after service", false},
		{`service(orders)`, 8, "expected a service name in double quotes", false},
		{`service("a"`, 11, "expected ')' after the service name", false},
		{`service(id(name "a"))`, 16, "expected ':' after name", false},
		{`service(id(type: "x"))`, 8, "id() needs name:", false},
		{`service(id(name: "a" "b"))`, 21, "expected ',' or ')' in id()", false},
		{`service("a") { fault }`, 13, "not supported in local mode: conditions in { } after service()", true},
		{`edge("a", "b")`, 0, "not supported in local mode: edge", true},
		{`group.name = "x"`, 0, "not supported in local mode: group.name", true},
		{`group.arn = "x"`, 0, "not supported in local mode: group.arn", true},
		{`rootcause.fault.type = "x"`, 0, "not supported in local mode: rootcause.fault.type", true},
		{`fault AND http.clientip = "1.2.3.4"`, 10, "not supported in local mode: http.clientip", true},
		{`user = "alice"`, 0, "not supported in local mode: user", true},
		{`id(name: "a")`, 0, "not supported in local mode: id", true},
		{strings.Repeat("(", MaxDepth+1) + "fault" + strings.Repeat(")", MaxDepth+1), MaxDepth, "nest deeper than 32", false},
		{strings.Repeat("NOT ", MaxDepth+1) + "fault", 4 * MaxDepth, "nest deeper than 32", false},
		{strings.Repeat(" ", MaxLength+1), MaxLength, "over the limit of 4096", false},
	} {
		t.Run(tc.expr[:min(len(tc.expr), 60)], func(t *testing.T) {
			_, err := Parse(tc.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, want a *SyntaxError", tc.expr, err)
			}
			if se.Offset != tc.off || !strings.Contains(se.Msg, tc.msg) || se.Unsupported != tc.unsupported {
				t.Errorf("Parse(%q) = %q at %d (unsupported %v), want %q at %d (unsupported %v)",
					tc.expr, se.Msg, se.Offset, se.Unsupported, tc.msg, tc.off, tc.unsupported)
			}
			if !strings.HasSuffix(err.Error(), " at "+itoa(tc.off)) {
				t.Errorf("Error() = %q does not end with the offset", err.Error())
			}
		})
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

func TestTraceID(t *testing.T) {
	const want = "1-5759e988-bd862e3fe1be46a994272793"
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{want, true},
		{"1-5759E988-BD862E3FE1BE46A994272793", true},
		{"  " + want + "\n", true},
		{"5759e988bd862e3fe1be46a994272793", true},
		{"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", true},
		{"traceparent: 00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", true},
		{"Root=" + want + ";Parent=53995c3f42cd8ad8;Sampled=1", true},
		{"X-Amzn-Trace-Id: Root=" + want + ";Parent=53995c3f42cd8ad8;Sampled=1", true},
		{"Self=1-67891234-12456789abcdef012345678;Root=" + want + "; Sampled=0", true},
		{"x-amzn-trace-id:Sampled=1; root=" + want, true},
		{"fault", false},
		{`annotation.cors_code = "preflight-status"`, false},
		{"5759e988bd862e3fe1be46a99427279", false},  // 31 digits
		{"5759e988bd862e3fe1be46a99427279g", false}, // not hex
		{"1-5759e988-bd862e3fe1be46a99427279", false},
		{"Root=1-5759e988;Sampled=1", false},
		{"", false},
	} {
		got, ok := TraceID(tc.in)
		if ok != tc.ok || ok && got != want {
			t.Errorf("TraceID(%q) = %q, %v; want %v", tc.in, got, ok, tc.ok)
		}
	}
}

// Parsing takes steps linear in the expression: at 4n clauses, at most 4
// times the steps at n (and the evaluation visits each node once).
func TestParseLinear(t *testing.T) {
	steps := func(n int) int {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString([]string{" AND ", " OR "}[i%2])
			}
			b.WriteString([]string{"(fault", "NOT ok", `annotation[a] = "x"`, "responsetime > 1)"}[i%4])
		}
		node, steps, err := parse(b.String())
		if err != nil || node == nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		return steps
	}
	const n = 40
	s1, s4 := steps(n), steps(4*n)
	t.Logf("steps: %d at n=%d, %d at 4n", s1, n, s4)
	// 16 steps of slack: the first clause has no AND or OR before it.
	if s1 < n || s4 > 4*s1+16 {
		t.Errorf("steps grew from %d to %d for 4x the expression: not linear", s1, s4)
	}
	// The bytes allocated, a measure the parser does not keep itself.
	expr := func(n int) string { return strings.Repeat(`annotation.k = "v" OR `, n) + "fault" }
	b1 := allocs.Bytes(5, func() { Parse(expr(n)) })
	b4 := allocs.Bytes(5, func() { Parse(expr(4 * n)) })
	t.Logf("bytes allocated: %d at n=%d, %d at 4n", b1, n, b4)
	if b4 > 4*b1 {
		t.Errorf("allocations grew from %d to %d bytes for 4x the expression: not linear", b1, b4)
	}
	// Lexing alone on the longest input: one token per word.
	toks, err := lex(strings.Repeat("fault OR ", MaxLength/9))
	if err != nil || len(toks) != 2*(MaxLength/9)+1 {
		t.Errorf("lex: %d tokens, %v", len(toks), err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`annotation.cors_code = "preflight-status" AND responsetime > 1`, `service(id(name: "a", type: "b")) OR !partial`,
		`(fault OR throttle) AND http.url CONTAINS "x\"y"`, `annotation["k"] >= -1.5e3`, `NOT NOT (ok)`, `edge("a","b")`,
		`http.status = 5`, `service("a") { fault }`, "\"", "1-5759e988-bd862e3fe1be46a994272793",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, steps, err := parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(s) || se.Msg == "" {
				t.Fatalf("Parse(%q): %v is not a SyntaxError with an offset in the input", s, err)
			}
			return
		}
		// Bounded: at most a few steps per byte.
		if steps > 4*len(s)+4 {
			t.Fatalf("Parse(%q) took %d steps", s, steps)
		}
		for _, tr := range []*Trace{&faulted, &healthy, &throttled, {}} {
			n.match(tr)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	const expr = `annotation.cors_code = "preflight-status" AND responsetime > 1 OR (service("orders") AND NOT http.url CONTAINS "/health")`
	b.ReportAllocs()
	for range b.N {
		if _, err := Parse(expr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	e, err := Parse(`annotation.cors_code = "preflight-status" AND responsetime > 1 OR (service("orders") AND NOT http.url CONTAINS "/health")`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		e.Match(&healthy)
	}
}
