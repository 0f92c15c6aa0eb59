package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func mustProto(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// TestHTTPSpec checks each OTLP/HTTP rule with plain net/http requests,
// as curl would send them.
func TestHTTPSpec(t *testing.T) {
	good := mustProto(t, traceRequest(2, 1))
	const goodJSON = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"x","kind":2}]}]}]}`
	big := bytes.Repeat([]byte{0}, 2000) // over the 1000-byte limit below
	type tc struct {
		name, method, path, ctype, cenc, host string
		body                                  []byte
		answer                                func(int64) (int64, string, error)
		code                                  int
		reason                                Reason // counter expected to move
		respType                              string
		check                                 func(t *testing.T, resp *http.Response, body []byte)
	}
	tests := []tc{
		{name: "proto ok", body: good, code: 200, respType: mediaProto, check: func(t *testing.T, _ *http.Response, b []byte) {
			var resp coltracepb.ExportTraceServiceResponse
			if err := proto.Unmarshal(b, &resp); err != nil || resp.PartialSuccess != nil {
				t.Errorf("response %v, %v: want empty success", &resp, err)
			}
		}},
		{name: "json ok", ctype: "application/json; charset=utf-8", body: []byte(goodJSON), code: 200, respType: mediaJSON, check: func(t *testing.T, _ *http.Response, b []byte) {
			if strings.TrimSpace(string(b)) != "{}" {
				t.Errorf("body %q, want {}", b)
			}
		}},
		{name: "gzip ok", body: gzipped(good), cenc: "gzip", code: 200},
		{name: "empty request is success", body: nil, code: 200},
		{name: "partial success", body: good, answer: func(int64) (int64, string, error) { return 1, "one span too old", nil },
			code: 200, check: func(t *testing.T, _ *http.Response, b []byte) {
				var resp coltracepb.ExportTraceServiceResponse
				if err := proto.Unmarshal(b, &resp); err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 1 ||
					resp.GetPartialSuccess().GetErrorMessage() != "one span too old" {
					t.Errorf("response %v, %v: want 1 rejected span with the message", &resp, err)
				}
			}},
		{name: "partial success json", ctype: mediaJSON, body: []byte(goodJSON), answer: func(int64) (int64, string, error) { return 1, "no", nil },
			code: 200, respType: mediaJSON, check: func(t *testing.T, _ *http.Response, b []byte) {
				var resp coltracepb.ExportTraceServiceResponse
				if err := protojson.Unmarshal(b, &resp); err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 1 {
					t.Errorf("response %s, %v: want 1 rejected span", b, err)
				}
			}},
		{name: "unknown path", path: "/v1/profiles", body: good, code: 404, reason: ReasonNotFound},
		{name: "GET", method: "GET", body: nil, code: 405, reason: ReasonBadMethod, check: func(t *testing.T, r *http.Response, _ []byte) {
			if r.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", r.Header.Get("Allow"))
			}
		}},
		{name: "text/plain (no preflight from a web page)", ctype: "text/plain", body: []byte(goodJSON), code: 415, reason: ReasonMediaType},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: []byte("a=b"), code: 415, reason: ReasonMediaType},
		{name: "no content type", ctype: "-", body: good, code: 415, reason: ReasonMediaType},
		{name: "brotli", cenc: "br", body: good, code: 415, reason: ReasonMediaType},
		{name: "too large (Content-Length)", body: big, code: 413, reason: ReasonTooLarge},
		{name: "too large after gzip", cenc: "gzip", body: gzipped(big), code: 413, reason: ReasonTooLarge},
		{name: "not gzip", cenc: "gzip", body: good, code: 400, reason: ReasonMalformed},
		{name: "malformed proto", body: []byte{0x0a, 0xff, 0xff}, code: 400, reason: ReasonMalformed, check: func(t *testing.T, _ *http.Response, b []byte) {
			var st spb.Status
			if err := proto.Unmarshal(b, &st); err != nil || !strings.Contains(st.GetMessage(), "decoding request") {
				t.Errorf("status %v, %v", &st, err)
			}
		}},
		{name: "malformed json", ctype: mediaJSON, body: []byte(`{"resourceSpans":[`), code: 400, reason: ReasonMalformed, respType: mediaJSON},
		{name: "base64 id in json", ctype: mediaJSON, body: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ="}]}]}]}`),
			code: 400, reason: ReasonMalformed, respType: mediaJSON},
		{name: "foreign host", host: "evil.example", body: good, code: 403, reason: ReasonBadHost},
		{name: "budget full", body: good, answer: func(int64) (int64, string, error) { return 0, "", fmt.Errorf("queue: %w", ErrBudgetFull) },
			code: 429, reason: ReasonBudgetFull, check: func(t *testing.T, r *http.Response, _ []byte) {
				if r.Header.Get("Retry-After") != "1" {
					t.Errorf("Retry-After %q, want 1", r.Header.Get("Retry-After"))
				}
			}},
		{name: "shutting down", body: good, answer: func(int64) (int64, string, error) { return 0, "", ErrShuttingDown },
			code: 503, reason: ReasonShuttingDown, check: func(t *testing.T, r *http.Response, _ []byte) {
				if r.Header.Get("Retry-After") == "" {
					t.Error("no Retry-After")
				}
			}},
		{name: "consumer says invalid", body: good, answer: func(int64) (int64, string, error) { return 0, "", Invalid(errors.New("bad")) },
			code: 400, reason: ReasonInvalid},
		{name: "unclassified consumer error is retryable", body: good, answer: func(int64) (int64, string, error) { return 0, "", errors.New("oops") },
			code: 503, reason: ReasonConsumerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{answer: tt.answer}
			r, counters := start(t, Config{GRPCAddr: "off", MaxRequestBytes: 1000, Consumer: rec})
			method, path, ctype := tt.method, tt.path, tt.ctype
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = PathTraces
			}
			if ctype == "" {
				ctype = mediaProto
			}
			req, _ := http.NewRequestWithContext(context.Background(), method, "http://"+r.HTTPAddr().String()+path, bytes.NewReader(tt.body))
			if ctype != "-" {
				req.Header.Set("Content-Type", ctype)
			}
			if tt.cenc != "" {
				req.Header.Set("Content-Encoding", tt.cenc)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tt.code)
			}
			want := tt.respType
			if want == "" {
				want = mediaProto
			}
			if got := resp.Header.Get("Content-Type"); got != want {
				t.Errorf("Content-Type %q, want %q", got, want)
			}
			if tt.code >= 400 {
				var st spb.Status
				var err error
				if want == mediaJSON {
					err = protojson.Unmarshal(body, &st)
				} else {
					err = proto.Unmarshal(body, &st)
				}
				if err != nil || st.GetMessage() == "" {
					t.Errorf("error body is not a Status with a message: %v %v", &st, err)
				}
			}
			if tt.reason != "" {
				if got := counters.Get("otlp.refused." + string(tt.reason)); got != 1 {
					t.Errorf("otlp.refused.%s = %d, want 1 (%v)", tt.reason, got, counters.Snapshot())
				}
			}
			if tt.check != nil {
				tt.check(t, resp, body)
			}
			// Nothing acknowledged is lost, nothing refused is kept.
			kept := len(rec.spans())
			if tt.code == 200 && tt.body != nil && kept == 0 {
				t.Error("acknowledged but not delivered")
			}
			if tt.code != 200 && kept != 0 {
				t.Errorf("refused but %d spans kept", kept)
			}
		})
	}
}

func TestLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "app.localhost": true, "127.0.0.1": true, "127.9.9.9": true,
		"::1": true, "[::1]": true, "": false, "example.com": false, "localhost.example.com": false,
		"10.0.0.1": false, "0.0.0.0": false,
	} {
		if got := LoopbackHost(h); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := Config{Consumer: &recorder{}, Counters: nil}
		return c
	}
	if _, err := New(base()); err == nil {
		t.Error("no Counters: want error")
	}
	for name, mod := range map[string]func(*Config){
		"bad addr":        func(c *Config) { c.HTTPAddr = "nope" },
		"budget < max":    func(c *Config) { c.MaxRequestBytes, c.DecodeMemory = 10, 5 },
		"recursion small": func(c *Config) { c.RecursionLimit = 2 },
		"max negative":    func(c *Config) { c.MaxRequestBytes = -1 },
	} {
		c := base()
		c.Counters = statusCounters()
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
	c := base()
	c.Counters = statusCounters()
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.HTTPAddr != DefaultHTTPAddr || r.cfg.GRPCAddr != DefaultGRPCAddr || r.cfg.MaxRequestBytes != DefaultMaxRequestBytes {
		t.Errorf("defaults not applied: %+v", r.cfg)
	}
}
