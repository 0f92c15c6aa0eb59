package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// TestFunctionAnswer is one table for the mapping of the emulator's
// answers to what API Gateway sends.
func TestFunctionAnswer(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		raw     string
		want    int
		body    string
		acao    string
		failure string
	}{
		{"proxy response", 200, `{"statusCode":201,"headers":{"Access-Control-Allow-Origin":"*"},"body":"made"}`, 201, "made", "*", ""},
		{"multi-value headers", 200, `{"statusCode":200,"multiValueHeaders":{"Access-Control-Allow-Origin":["https://a.example"]}}`, 200, "", "https://a.example", ""},
		{"base64 body", 200, `{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, 200, "hi", "", ""},
		{"returned error", 200, `{"errorMessage":"load cart: not found","errorType":"wrapError"}`, 502, `{"message":"Internal server error"}`, "", "wrapError: load cart: not found"},
		{"panic", 502, `{"errorMessage":"nil map","errorType":"plainError","stackTrace":[]}`, 502, `{"message":"Internal server error"}`, "", "plainError: nil map"},
		{"timeout", 200, "Task timed out after 3.00 seconds", 502, `{"message":"Internal server error"}`, "", "timeout: Task timed out after 3.00 seconds"},
		{"no statusCode", 200, `{"headers":{"Access-Control-Allow-Origin":"*"},"body":"x"}`, 502, `{"message":"Internal server error"}`, "", "malformed"},
		{"not JSON", 200, `hello`, 502, `{"message":"Internal server error"}`, "", "malformed"},
		{"bad status", 200, `{"statusCode":42}`, 502, `{"message":"Internal server error"}`, "", "malformed"},
		{"bad base64", 200, `{"statusCode":200,"body":"@@","isBase64Encoded":true}`, 502, `{"message":"Internal server error"}`, "", "malformed"},
		{"emulator failure", 500, `oops`, 502, `{"message":"Internal server error"}`, "", "invoke status 500"},
		{"header injection dropped", 200, `{"statusCode":200,"headers":{"X-A":"1\r\nSet-Cookie: x=1","Content-Length":"9"}}`, 200, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := functionAnswer(c.status, []byte(c.raw))
			if a.status != c.want || string(a.body) != c.body || a.header.Get("Access-Control-Allow-Origin") != c.acao || a.functionError != c.failure {
				t.Errorf("got %d %q ACAO %q failure %q", a.status, a.body, a.header.Get("Access-Control-Allow-Origin"), a.functionError)
			}
			if a.header.Get("X-A") != "" || a.header.Get("Content-Length") != "" {
				t.Errorf("unsafe headers passed: %v", a.header)
			}
		})
	}
}

func FuzzFunctionAnswer(f *testing.F) {
	f.Add(200, []byte(`{"statusCode":200,"headers":{"a":"b"},"multiValueHeaders":{"c":["d"]},"body":"x"}`))
	f.Add(200, []byte(`{"errorMessage":"x","errorType":"y"}`))
	f.Add(502, []byte(`Task timed out after 1.00 seconds`))
	f.Add(200, []byte(`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`))
	f.Fuzz(func(t *testing.T, status int, raw []byte) {
		a := functionAnswer(status, raw)
		if a.status < 100 || a.status > 599 {
			t.Fatalf("status %d", a.status)
		}
		if a.functionError != "" {
			if a.status != 502 || a.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("a failure must be the gateway's 502 without CORS headers: %+v", a)
			}
		}
		// Whatever the function answers, the header is safe to send.
		w := httptest.NewRecorder()
		for k, vs := range a.header {
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") || strings.ContainsAny(k, "\r\n: ") {
					t.Fatalf("unsafe header %q: %q", k, v)
				}
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(a.status)
	})
}

func TestProxyEvent(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://api.local/panic/broken?x=1&x=2", strings.NewReader(""))
	r.Header.Set("Origin", "http://page.local")
	r.Header.Set("X-Amzn-Trace-Id", "Root=forged")
	ev := proxyEvent(r, []byte{0xff, 0xfe}, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "req-1")
	if ev.HTTPMethod != "POST" || ev.Path != "/panic/broken" || ev.Headers["Origin"] != "http://page.local" || ev.QueryStringParameters["x"] != "2" ||
		len(ev.MultiValueQueryStringParameters["x"]) != 2 || !ev.IsBase64Encoded || ev.Body != "//4=" || ev.RequestContext.RequestID != "req-1" {
		t.Errorf("event: %+v", ev)
	}
	if ev.Headers["X-Amzn-Trace-Id"] != "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" || len(ev.MultiValueHeaders["X-Amzn-Trace-Id"]) != 1 {
		t.Errorf("the gateway's trace header should replace the client's: %v", ev.MultiValueHeaders)
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Fatal(err)
	}
}

func TestRewriteReport(t *testing.T) {
	const rie = "REPORT RequestId: 243f\tInit Duration: 0.02 ms\tDuration: 1208.19 ms\tBilled Duration: 1209 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t"
	got := rewriteReport(rie, "1205.72", "1-6b07f2fd-56514644240b36d34caf1620")
	want := "REPORT RequestId: 243f\tDuration: 1208.19 ms\tBilled Duration: 1209 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tInit Duration: 1205.72 ms\tXRAY TraceId: 1-6b07f2fd-56514644240b36d34caf1620\tSampled: true\t"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := rewriteReport(rie, "", ""); strings.Contains(got, "Init") {
		t.Errorf("the emulator's Init Duration is kept: %q", got)
	}
	if id := reportRequestID(rie); id != "243f" {
		t.Errorf("request ID %q", id)
	}
	if ms, ok := initReport("26 Nov 2026 08:36:07,525 [INFO] (rapid) INIT REPORT(durationMs: 7.670000)"); !ok || ms != "7.67" {
		t.Errorf("initReport: %q %v", ms, ok)
	}
	for _, bad := range []string{"INIT REPORT(durationMs: x)", "INIT REPORT(durationMs: 1", "INIT REPORT(durationMs: -1)", "nothing"} {
		if _, ok := initReport(bad); ok {
			t.Errorf("initReport(%q) accepted", bad)
		}
	}
}

func FuzzReportLine(f *testing.F) {
	f.Add("REPORT RequestId: a\tDuration: 1 ms\tInit Duration: 2 ms\t", "INIT REPORT(durationMs: 1.5)")
	f.Fuzz(func(t *testing.T, line, log string) {
		ms, _ := initReport(log)
		out := rewriteReport(line, ms, "1-00000000-000000000000000000000000")
		if !strings.HasSuffix(out, "\t") || strings.Count(out, "Init Duration:") > 1 || !strings.Contains(out, "XRAY TraceId: ") {
			t.Fatalf("rewriteReport(%q, %q) = %q", line, ms, out)
		}
		if utf8.ValidString(line) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", line)
		}
		_ = reportRequestID(line)
	})
}

// fakeFunction answers invocations without an emulator.
type fakeFunction struct {
	status int
	answer string
	err    error
	block  bool // wait until the context ends
	events chan []byte
}

func (f *fakeFunction) invoke(ctx context.Context, event []byte) (int, []byte, error) {
	f.events <- event
	if f.block {
		<-ctx.Done()
		return 0, nil, ctx.Err()
	}
	return f.status, []byte(f.answer), f.err
}

// TestGatewayServeHTTP checks the gateway's side without the emulator: the
// event it sends, the answers it maps, and the stage segment it records.
func TestGatewayServeHTTP(t *testing.T) {
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	em, err := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer em.Shutdown(context.Background())
	cases := []struct {
		name   string
		fn     *fakeFunction
		path   string
		status int
		body   string
	}{
		{"proxy response", &fakeFunction{status: 200, answer: `{"statusCode":201,"headers":{"Access-Control-Allow-Origin":"*"},"body":"ok"}`}, "/error/fixed", 201, "ok"},
		{"function error", &fakeFunction{status: 200, answer: `{"errorType":"wrapError","errorMessage":"boom"}`}, "/error/broken", 502, `{"message":"Internal server error"}`},
		{"integration timeout", &fakeFunction{block: true}, "/timeout/broken", 504, `{"message":"Endpoint request timed out"}`},
		{"emulator unreachable", &fakeFunction{err: errors.New("connection refused")}, "/error/broken", 500, `{"message":"Internal server error"}`},
		{"unknown resource", nil, "/nothing", 403, `{"message":"Missing Authentication Token"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d.Reset()
			out := lambdatest.NewLines()
			g := &gateway{
				route: func(string) invoker {
					if c.fn == nil {
						return nil
					}
					return c.fn
				},
				emitter: em, stage: "shop-api/local", integration: 200 * time.Millisecond, out: &syncWriter{w: out},
			}
			if c.fn != nil {
				c.fn.events = make(chan []byte, 1)
			}
			req := httptest.NewRequest(http.MethodGet, "http://api.local"+c.path, nil)
			req.Header.Set("Origin", "http://page.local")
			req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1111111111111111;Sampled=0")
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != c.status || strings.TrimSpace(w.Body.String()) != c.body {
				t.Errorf("answer %d %s, want %d %s", w.Code, w.Body, c.status, c.body)
			}
			if c.status >= 500 && w.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("a gateway error with CORS headers: %v", w.Header())
			}
			// The caller's trace continues, sampled, under the stage's segment.
			if got := w.Header().Get("X-Amzn-Trace-Id"); got != "Root=1-5759e988-bd862e3fe1be46a994272793" {
				t.Errorf("trace header %q", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := em.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			docs, err := d.WaitFor(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			seg := docs[0]
			if err := schematest.Segment(seg.Raw); err != nil {
				t.Fatalf("schema: %v\n%s", err, seg.Raw)
			}
			if seg.Name != "shop-api/local" || seg.TraceID != "1-5759e988-bd862e3fe1be46a994272793" || seg.HTTP.Response.Status != c.status || seg.Fault != (c.status >= 500) {
				t.Errorf("stage segment: %s", seg.Raw)
			}
			if c.fn == nil {
				return
			}
			var ev events.APIGatewayProxyRequest
			if err := json.Unmarshal(<-c.fn.events, &ev); err != nil {
				t.Fatal(err)
			}
			want := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=" + seg.ID + ";Sampled=1"
			if ev.Headers["X-Amzn-Trace-Id"] != want || ev.Headers["Origin"] != "http://page.local" || ev.Path != c.path || ev.RequestContext.Stage != "local" {
				t.Errorf("event headers %v, want the trace header %s", ev.Headers, want)
			}
			out.Wait(t, "the gateway's line", func(s string) bool {
				return strings.HasPrefix(s, "[gateway] GET "+c.path+" -> ")
			})
		})
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-timeout", "0"}, {"-timeout", "901"}, {"-integration-timeout", "0s"}, {"-slow", "-1s"},
		{"-xray", "not an address"}, {"extra"}, {"-nope"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	if err := run(context.Background(), []string{"-rie", "/nonexistent/aws-lambda-rie"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "Runtime Interface Emulator") {
		t.Errorf("a missing emulator: %v", err)
	}
}

// reportFields returns the field names of a tab-separated REPORT line.
func reportFields(line string) []string {
	var names []string
	for _, f := range strings.Split(strings.TrimRight(line, "\t"), "\t") {
		name, _, _ := strings.Cut(strings.TrimSpace(f), ":")
		names = append(names, name)
	}
	return names
}

// TestReportLayoutIsLambdas compares the rewritten REPORT line with a
// Lambda REPORT line from the reference samples (a cold, traced
// invocation): the same fields in the same order, but SegmentId, which
// the emulator cannot know.
func TestReportLayoutIsLambdas(t *testing.T) {
	raw, err := schematest.ReadReference("samples/lambda-report-lines.txt")
	if err != nil {
		t.Fatal(err)
	}
	var sample string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "REPORT ") && strings.Contains(l, "\tInit Duration: ") && strings.Contains(l, "\tXRAY TraceId: ") {
			sample = l
			break
		}
	}
	if sample == "" {
		t.Fatal("no traced cold-start REPORT line in the samples")
	}
	var want []string
	for _, f := range reportFields(sample) {
		if f != "SegmentId" {
			want = append(want, f)
		}
	}
	const rie = "REPORT RequestId: 243f\tInit Duration: 0.02 ms\tDuration: 1208.19 ms\tBilled Duration: 1209 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t"
	got := reportFields(rewriteReport(rie, "1205.72", "1-6b07f2fd-56514644240b36d34caf1620"))
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("fields %q, Lambda's %q", got, want)
	}
}

// TestColdReportWaitsForInitReport: stdout and stderr are read by two
// goroutines, so a cold start's REPORT (stdout) can be read before the
// emulator's INIT REPORT (stderr). The init time must still land on the
// cold REPORT, and never on the warm one after it.
func TestColdReportWaitsForInitReport(t *testing.T) {
	var buf bytes.Buffer
	f := &function{name: "fn", out: &syncWriter{w: &buf}, traceOf: map[string]string{}, inits: make(chan string, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.stdoutLine([]byte("REPORT RequestId: cold\tInit Duration: 0.02 ms\tDuration: 3.00 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t"))
		f.stdoutLine([]byte("REPORT RequestId: warm\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t"))
	}()
	time.Sleep(20 * time.Millisecond) // stderr's reader is behind
	f.readers.Add(1)
	f.readStderr(strings.NewReader("26 Nov 2026 08:36:07,525 [INFO] (rapid) INIT REPORT(durationMs: 7.670000)\n"), false)
	<-done
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q", buf.String())
	}
	if !strings.Contains(lines[0], "RequestId: cold") || !strings.Contains(lines[0], "\tInit Duration: 7.67 ms") {
		t.Errorf("cold REPORT without the init time: %q", lines[0])
	}
	if strings.Contains(lines[1], "Init Duration") {
		t.Errorf("warm REPORT with an init time: %q", lines[1])
	}
}
