package xrayput_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xrayput"
)

// answer is an HTTP client that answers every request with the same
// status, error-type header and body.
type answer struct {
	status    int
	errorType string
	body      []byte
}

func (a *answer) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {"req-1"}}
	if a.errorType != "" {
		h.Set("X-Amzn-Errortype", a.errorType)
	}
	return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(strings.NewReader(string(a.body))), Request: r}, nil
}

// bothClients returns the SDK's client and the direct client over the
// same answering HTTP client.
func bothClients(t testing.TB, a *answer) (*xray.Client, *xrayput.Client) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_XRAY", "http://127.0.0.1:1")
	opt := func(o *xray.Options) { o.HTTPClient = a }
	sdk, cfg := sdkClient(t, true, opt)
	return sdk, directClient(t, cfg, opt)
}

var oneDoc = &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{loadDoc}}

// FuzzDecodeOutput holds the direct client's reading of a 200 answer to
// the SDK client's: both fail, or both return the same unprocessed
// segments (nil and empty lists told apart).
func FuzzDecodeOutput(f *testing.F) {
	for _, s := range []string{
		`{"UnprocessedTraceSegments":[]}`, `{"UnprocessedTraceSegments":[]}` + "\n", `{}`, ``, `null`, ` `,
		`{"UnprocessedTraceSegments":null}`, `{"UnprocessedTraceSegments":[null]}`,
		`{"UnprocessedTraceSegments":[{"Id":"0000000000000001","ErrorCode":"ThrottledException","Message":"m"}]}`,
		`{"UnprocessedTraceSegments":[{"Id":1}]}`, `{"UnprocessedTraceSegments":{}}`, `{"unprocessedtracesegments":[{"Id":"x"}]}`,
		`{"UnprocessedTraceSegments":[]} trailing`, `{"UnprocessedTraceSegments":[{"Id":"\ud800"}]}`, `[1]`, `"x"`, `{`,
		`{"UnprocessedTraceSegments":[],"UnprocessedTraceSegments":[{"Id":"dup"}]}`,
	} {
		f.Add([]byte(s))
	}
	a := &answer{status: 200}
	sdk, direct := bothClients(f, a)
	f.Fuzz(func(t *testing.T, body []byte) {
		a.body = body
		outS, errS := sdk.PutTraceSegments(context.Background(), oneDoc)
		outD, errD := direct.PutTraceSegments(context.Background(), oneDoc)
		if (errS == nil) != (errD == nil) {
			t.Fatalf("%q: SDK error %v, direct error %v", body, errS, errD)
		}
		if errS != nil {
			if rs, _ := retry.Classify(errS); true {
				if rd, _ := retry.Classify(errD); rd != rs {
					t.Fatalf("%q: classified %v by the SDK, %v direct", body, rs, rd)
				}
			}
			return
		}
		if !reflect.DeepEqual(outS.UnprocessedTraceSegments, outD.UnprocessedTraceSegments) {
			t.Fatalf("%q: SDK %s, direct %s", body, show(outS), show(outD))
		}
		// Decoding alone gives the same.
		out, err := xrayput.DecodeOutput(body)
		if err != nil || !reflect.DeepEqual(out.UnprocessedTraceSegments, outD.UnprocessedTraceSegments) {
			t.Fatalf("%q: DecodeOutput %v, %v", body, out, err)
		}
	})
}

func show(o *xray.PutTraceSegmentsOutput) string {
	if o.UnprocessedTraceSegments == nil {
		return "nil"
	}
	var b strings.Builder
	for _, u := range o.UnprocessedTraceSegments {
		fmt.Fprintf(&b, "{%v %v %v}", deref(u.Id), deref(u.ErrorCode), deref(u.Message))
	}
	return "[" + b.String() + "]"
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *s)
}

// FuzzDecodeError holds the direct client's errors for a failed answer
// (any status from 300 up, header and body) to the SDK client's: same
// text (when the body does not carry both message and Message, which the
// SDK picks between in map order), same error code and Go type of the
// API error, same retry.Classify result.
func FuzzDecodeError(f *testing.F) {
	for _, c := range []struct {
		status    int
		typ, body string
	}{
		{429, "ThrottledException", `{"message":"Rate exceeded"}`},
		{400, "InvalidRequestException", `{"message":"bad"}`},
		{400, "", `{"__type":"com.amazonaws.xray#InvalidRequestException","Message":"bad"}`},
		{400, "", `{"code":"ThrottledException:http://x"}`},
		{500, "InternalFailure", `{"message":"injected 500"}`},
		{503, "", `<html>Service Unavailable</html>`},
		{502, "", ``},
		{403, "AccessDeniedException", `{"Message":"denied"}`},
		{400, "throttledexception", `{"message":1}`},
		{400, "InvalidRequestException", `[]`},
		{408, "", `{"message":null}`},
		{301, "", `{}`},
	} {
		f.Add(c.status, c.typ, []byte(c.body))
	}
	a := &answer{}
	sdk, direct := bothClients(f, a)
	f.Fuzz(func(t *testing.T, status int, typ string, body []byte) {
		if status < 300 || status > 599 {
			return
		}
		if strings.ContainsAny(typ, "\r\n\x00") || strings.TrimSpace(typ) != typ {
			return // not a header value net/http would deliver
		}
		a.status, a.errorType, a.body = status, typ, body
		_, errS := sdk.PutTraceSegments(context.Background(), oneDoc)
		_, errD := direct.PutTraceSegments(context.Background(), oneDoc)
		if errS == nil || errD == nil {
			t.Fatalf("status %d: SDK error %v, direct error %v", status, errS, errD)
		}
		rs, ws := retry.Classify(errS)
		rd, wd := retry.Classify(errD)
		if rs != rd || ws != wd {
			t.Fatalf("status %d %q %q: classified %v/%v by the SDK, %v/%v direct", status, typ, body, rs, ws, rd, wd)
		}
		var as, ad smithy.APIError
		if errors.As(errS, &as) != errors.As(errD, &ad) {
			t.Fatalf("status %d %q %q: SDK %v, direct %v", status, typ, body, errS, errD)
		}
		if as != nil && (as.ErrorCode() != ad.ErrorCode() || reflect.TypeOf(as) != reflect.TypeOf(ad)) {
			t.Fatalf("status %d %q %q: SDK %T %q, direct %T %q", status, typ, body, as, as.ErrorCode(), ad, ad.ErrorCode())
		}
		var ds, dd *smithy.DeserializationError
		if errors.As(errS, &ds) != errors.As(errD, &dd) {
			t.Fatalf("status %d %q %q: SDK %v, direct %v", status, typ, body, errS, errD)
		}
		if strings.Contains(string(body), `"message"`) && strings.Contains(string(body), `"Message"`) {
			return
		}
		if errS.Error() != errD.Error() {
			t.Fatalf("status %d %q %q:\nSDK    %v\ndirect %v", status, typ, body, errS, errD)
		}
	})
}
