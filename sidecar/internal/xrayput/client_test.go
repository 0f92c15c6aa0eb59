package xrayput_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/pipeline/segments"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/retry"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/xrayput"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const loadDoc = `{"trace_id":"1-6553f100-000000000000000000000001","id":"0000000000000002","name":"checkout","start_time":1700000000.123,"end_time":1700000000.456,"http":{"request":{"method":"GET","url":"http://checkout.local/cart/42","client_ip":"10.0.0.8"},"response":{"status":200,"content_length":512}},"aws":{"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},"annotations":{"route":"/cart/{id}"}}`

// docSets are documents both clients must send alike: plain, non-ASCII,
// JSON escapes, raw control bytes, U+2028/2029, invalid UTF-8.
var docSets = map[string][]string{
	"load":      {loadDoc, loadDoc, loadDoc},
	"non-ascii": {`{"name":"café ☕ 日本語 😀","id":"0000000000000001"}`, "{\"a\":\"\u00e9\u0301\"}"},
	"escapes":   {`{"a":"quote \" backslash \\ slash \/ unicode \u00e9 \ud83d\ude00"}`, "{\n\t\"a\": 1\r\n}"},
	"control":   {"{\"a\":\"\x01\x1f\x7f\"}", "\x00", "tab\there"},
	"separator": {"{\"a\":\"\u2028\u2029\"}", `<script>&</script>`},
	"invalid":   {"{\"a\":\"\xff\xfe\"}", "\xc3", "\xed\xa0\x80"},
	"one-empty": {""},
	"fifty":     slices.Repeat([]string{loadDoc}, 50),
}

// sdkClient is the X-Ray client the sidecar used before: the SDK's, with
// retries off, with or without segments.AppendSerializer.
func sdkClient(t testing.TB, appendSerializer bool, opts ...func(*xray.Options)) (*xray.Client, aws.Config) {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]func(*xray.Options){func(o *xray.Options) { o.Retryer = aws.NopRetryer{} }}, opts...)
	if appendSerializer {
		opts = append(opts, segments.AppendSerializer)
	}
	return xray.NewFromConfig(cfg, opts...), cfg
}

func directClient(t testing.TB, cfg aws.Config, opts ...func(*xray.Options)) *xrayput.Client {
	t.Helper()
	c, err := xrayput.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSameRequestsAsSDK sends the same documents with the direct client
// and the SDK's client (with and without AppendSerializer) to the fake,
// which decodes restJson and verifies SigV4 on its own: every request is
// accepted, the documents recorded are the same, and the body is
// byte-identical to the one AppendSerializer writes.
func TestSameRequestsAsSDK(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.SetEnv(t)
	sdk, cfg := sdkClient(t, false)
	sdkAppend, _ := sdkClient(t, true)
	direct := directClient(t, cfg)
	for name, docs := range docSets {
		t.Run(name, func(t *testing.T) {
			var got [3][]string
			var bodies [3][]byte
			for i, c := range []segments.API{sdk, sdkAppend, direct} {
				before := len(fake.Segments())
				out, err := c.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
				if err != nil {
					t.Fatalf("client %d: %v (fake: %s)", i, err, fake.LastSignatureError())
				}
				if len(out.UnprocessedTraceSegments) != 0 {
					t.Fatalf("client %d: unprocessed %v", i, out.UnprocessedTraceSegments)
				}
				got[i] = fake.Segments()[before:]
				bodies[i] = fake.LastBody("PutTraceSegments")
			}
			if fake.BadSignatures() != 0 || fake.Unsigned() != 0 {
				t.Fatalf("%d bad signatures (%s), %d unsigned", fake.BadSignatures(), fake.LastSignatureError(), fake.Unsigned())
			}
			if !slices.Equal(got[2], got[0]) || !slices.Equal(got[1], got[0]) {
				t.Fatalf("documents recorded differ:\nsdk    %q\nappend %q\ndirect %q", got[0], got[1], got[2])
			}
			if name != "invalid" && !slices.Equal(got[2], docs) {
				t.Fatalf("recorded %q, sent %q", got[2], docs)
			}
			if string(bodies[2]) != string(bodies[1]) {
				t.Fatalf("body differs from AppendSerializer's:\n%s\n%s", bodies[2], bodies[1])
			}
			var decoded struct{ TraceSegmentDocuments []string }
			if err := json.Unmarshal(bodies[2], &decoded); err != nil || len(decoded.TraceSegmentDocuments) != len(docs) {
				t.Fatalf("body does not decode to %d documents: %v", len(docs), err)
			}
		})
	}
}

// capture answers every request with nothing unprocessed, without a
// network, and keeps the last request.
type capture struct{ req *http.Request }

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	c.req = r
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"UnprocessedTraceSegments":[]}`)), Request: r}, nil
}

var scopeRE = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// TestEndpointAsSDK checks that the direct client sends to the URL the
// SDK's client resolves, signed for the same region and service, for the
// ways the endpoint can be chosen.
func TestEndpointAsSDK(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"region", map[string]string{"AWS_REGION": "eu-west-1"}},
		{"china", map[string]string{"AWS_REGION": "cn-north-1"}},
		{"govcloud", map[string]string{"AWS_REGION": "us-gov-west-1"}},
		{"fips", map[string]string{"AWS_REGION": "us-east-1", "AWS_USE_FIPS_ENDPOINT": "true"}},
		{"dual-stack", map[string]string{"AWS_REGION": "us-west-2", "AWS_USE_DUALSTACK_ENDPOINT": "true"}},
		{"fips and dual-stack", map[string]string{"AWS_REGION": "us-east-2", "AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true"}},
		{"fips pseudo-region", map[string]string{"AWS_REGION": "fips-us-east-1"}},
		{"endpoint url", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "https://proxy.example:8443/base/"}},
		{"xray endpoint url", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "https://other.example", "AWS_ENDPOINT_URL_XRAY": "http://127.0.0.1:2000/x"}},
		{"session token", map[string]string{"AWS_REGION": "ap-southeast-2", "AWS_SESSION_TOKEN": "token/with+chars="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range map[string]string{
				"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_SESSION_TOKEN": "",
				"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PROFILE": "",
				"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_XRAY": "",
				"AWS_USE_FIPS_ENDPOINT": "", "AWS_USE_DUALSTACK_ENDPOINT": "",
			} {
				t.Setenv(k, v)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var sc, dc capture
			sdk, cfg := sdkClient(t, true, func(o *xray.Options) { o.HTTPClient = &sc })
			direct := directClient(t, cfg, func(o *xray.Options) { o.HTTPClient = &dc })
			in := &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{loadDoc}}
			if _, err := sdk.PutTraceSegments(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			if _, err := direct.PutTraceSegments(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			s, d := sc.req, dc.req
			host := func(r *http.Request) string { return cmp.Or(r.Host, r.URL.Host) }
			if s.URL.String() != d.URL.String() || host(s) != host(d) || s.Method != d.Method {
				t.Fatalf("SDK: %s %s (host %q); direct: %s %s (host %q)", s.Method, s.URL, host(s), d.Method, d.URL, host(d))
			}
			ss, ds := scopeRE.FindStringSubmatch(s.Header.Get("Authorization")), scopeRE.FindStringSubmatch(d.Header.Get("Authorization"))
			if ss == nil || ds == nil || !slices.Equal(ss[1:], ds[1:]) {
				t.Fatalf("scope: SDK %q, direct %q", s.Header.Get("Authorization"), d.Header.Get("Authorization"))
			}
			for _, h := range []string{"Content-Type", "X-Amz-Security-Token"} {
				if s.Header.Get(h) != d.Header.Get(h) {
					t.Errorf("%s: SDK %q, direct %q", h, s.Header.Get(h), d.Header.Get(h))
				}
			}
			if s.ContentLength != d.ContentLength {
				t.Errorf("content length: SDK %d, direct %d", s.ContentLength, d.ContentLength)
			}
		})
	}
}

// TestNewLeavesOtherConfigurationsToSDK: what the direct client does not
// reproduce makes New fail, so the caller keeps the SDK's client.
func TestNewLeavesOtherConfigurationsToSDK(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.SetEnv(t)
	_, cfg := sdkClient(t, false)
	if _, err := xrayput.New(context.Background(), cfg); err != nil {
		t.Fatalf("plain configuration refused: %v", err)
	}
	for name, mod := range map[string]func(*aws.Config){
		"api options":     func(c *aws.Config) { c.APIOptions = append(c.APIOptions, nil) },
		"service options": func(c *aws.Config) { c.ServiceOptions = append(c.ServiceOptions, func(string, any) {}) },
		"logging":         func(c *aws.Config) { c.ClientLogMode = aws.LogRequest },
		"interceptors": func(c *aws.Config) {
			c.Interceptors.AddBeforeSigning(beforeSigning{})
		},
		"legacy resolver": func(c *aws.Config) {
			c.EndpointResolverWithOptions = aws.EndpointResolverWithOptionsFunc(func(string, string, ...any) (aws.Endpoint, error) {
				return aws.Endpoint{}, errors.New("unused")
			})
		},
		"bad region": func(c *aws.Config) { c.Region = "not a region" },
	} {
		c := cfg.Copy()
		c.Interceptors = cfg.Interceptors.Copy()
		mod(&c)
		if _, err := xrayput.New(context.Background(), c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "f")
	if _, err := xrayput.New(context.Background(), cfg); err == nil {
		t.Error("in Lambda: New accepted it")
	}
}

type beforeSigning struct{}

func (beforeSigning) BeforeSigning(context.Context, *smithyhttp.InterceptorContext) error { return nil }

// requestIDs are the parts of error text that differ between two
// requests.
var requestIDs = regexp.MustCompile(`RequestID: [^,]*,`)

// TestErrorsAsSDK makes both clients meet each failure the fake can
// inject, a refused connection, a cancelled context and a timeout, and
// checks that they return the same error: same text, same API error code
// and fault, same retry.Classify result.
func TestErrorsAsSDK(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.SetEnv(t)
	sdk, cfg := sdkClient(t, true)
	direct := directClient(t, cfg)
	in := &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{loadDoc}}
	type result struct {
		text      string
		code      string
		fault     smithy.ErrorFault
		retryable bool
		reason    retry.Reason
	}
	describe := func(err error) result {
		if err == nil {
			return result{}
		}
		r := result{text: requestIDs.ReplaceAllString(err.Error(), "RequestID: -,")}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			r.code, r.fault = ae.ErrorCode(), ae.ErrorFault()
		}
		r.retryable, r.reason = retry.Classify(err)
		return r
	}
	cases := []struct {
		name   string
		before func() context.Context
		want   retry.Reason
	}{
		{"throttle", func() context.Context { fake.Fail(fakeaws.XRay, 1, fakeaws.FaultThrottle); return context.Background() }, retry.Throttled},
		{"500", func() context.Context { fake.Fail(fakeaws.XRay, 1, fakeaws.Fault500); return context.Background() }, retry.ServerError},
		{"503", func() context.Context { fake.Fail(fakeaws.XRay, 1, fakeaws.Fault503); return context.Background() }, retry.ServerError},
		{"400", func() context.Context {
			fake.Fail(fakeaws.XRay, 1, fakeaws.FaultBadRequest)
			return context.Background()
		}, retry.ClientError},
		{"canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, retry.Canceled},
		{"timeout", func() context.Context {
			fake.Hang(fakeaws.XRay, true)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, retry.Timeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer fake.Hang(fakeaws.XRay, false)
			_, errS := sdk.PutTraceSegments(tc.before(), in)
			_, errD := direct.PutTraceSegments(tc.before(), in)
			s, d := describe(errS), describe(errD)
			if s != d {
				t.Fatalf("SDK:    %+v\ndirect: %+v", s, d)
			}
			if d.reason != tc.want || errD == nil {
				t.Fatalf("classified %q (%v), want %q", d.reason, errD, tc.want)
			}
		})
	}
	t.Run("refused connection", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		t.Setenv("AWS_ENDPOINT_URL_XRAY", "http://"+addr)
		sdk, cfg := sdkClient(t, true)
		direct := directClient(t, cfg)
		_, errS := sdk.PutTraceSegments(context.Background(), in)
		_, errD := direct.PutTraceSegments(context.Background(), in)
		s, d := describe(errS), describe(errD)
		if s != d || d.reason != retry.Network {
			t.Fatalf("SDK:    %+v\ndirect: %+v", s, d)
		}
	})
	t.Run("unprocessed", func(t *testing.T) {
		docs := []string{
			`{"trace_id":"1-6553f100-000000000000000000000001","id":"0000000000000001","name":"a","start_time":1,"end_time":2}`,
			`{"trace_id":"1-6553f100-000000000000000000000001","id":"0000000000000002","name":"b","start_time":1,"end_time":2}`,
		}
		var outs [2]*xray.PutTraceSegmentsOutput
		for i, c := range []segments.API{sdk, direct} {
			fake.UnprocessSegments(1, "ThrottledException")
			out, err := c.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = out
		}
		s, d := outs[0].UnprocessedTraceSegments, outs[1].UnprocessedTraceSegments
		if len(d) != 1 || aws.ToString(d[0].Id) != "0000000000000001" || aws.ToString(d[0].ErrorCode) != "ThrottledException" ||
			len(s) != 1 || aws.ToString(s[0].Id) != aws.ToString(d[0].Id) || aws.ToString(s[0].Message) != aws.ToString(d[0].Message) {
			t.Fatalf("SDK %+v, direct %+v", s, d)
		}
	})
}
