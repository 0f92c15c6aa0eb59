package xrayput

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Client sends PutTraceSegments requests. It is safe for concurrent use.
type Client struct {
	url        string // the resolved endpoint joined with /TraceSegments
	host       string
	headers    http.Header // headers the endpoint asks for
	region     string      // SigV4 signing region
	service    string      // SigV4 signing name
	userAgent  string
	creds      aws.CredentialsProvider
	httpClient xray.HTTPClient
	signer     *v4.Signer

	// skew is the clock skew (server minus local, nanoseconds) the last
	// answer's Date header showed; requests are signed at now+skew, as
	// the SDK's clients do.
	skew atomic.Int64
}

// errNotReproduced wraps the reasons New gives for leaving a
// configuration to the SDK's client.
var errNotReproduced = errors.New("xrayput: configuration left to the SDK client")

// New returns a Client for the X-Ray client that xray.NewFromConfig(cfg,
// optFns...) would build, or an error saying why that client's behaviour
// is not one this package reproduces (the caller then uses the SDK's
// client). optFns may set the HTTP client and the retryer (which this
// client has no use for: one request per call, like the SDK's client with
// aws.NopRetryer); other options are not looked at.
func New(ctx context.Context, cfg aws.Config, optFns ...func(*xray.Options)) (*Client, error) {
	switch {
	case len(cfg.APIOptions) > 0:
		return nil, fmt.Errorf("%w: aws.Config has API options", errNotReproduced)
	case len(cfg.ServiceOptions) > 0:
		return nil, fmt.Errorf("%w: aws.Config has per-service options", errNotReproduced)
	case cfg.EndpointResolver != nil || cfg.EndpointResolverWithOptions != nil:
		return nil, fmt.Errorf("%w: aws.Config has a legacy endpoint resolver", errNotReproduced)
	case cfg.ClientLogMode != 0:
		return nil, fmt.Errorf("%w: SDK client logging is on", errNotReproduced)
	case hasInterceptors(cfg.Interceptors):
		return nil, fmt.Errorf("%w: aws.Config has interceptors", errNotReproduced)
	}
	if _, ok := os.LookupEnv("AWS_LAMBDA_FUNCTION_NAME"); ok {
		return nil, fmt.Errorf("%w: running in AWS Lambda (recursion detection header)", errNotReproduced)
	}
	o := xray.NewFromConfig(cfg, optFns...).Options()
	if o.Credentials == nil {
		return nil, fmt.Errorf("%w: no credentials provider", errNotReproduced)
	}
	if o.HTTPClient == nil {
		return nil, fmt.Errorf("%w: no HTTP client", errNotReproduced)
	}
	// The endpoint, as the SDK resolves it for every request (the
	// parameters do not change between requests).
	region := o.Region
	if region != "" && !validHostLabel(region) {
		return nil, fmt.Errorf("%w: invalid region %q", errNotReproduced, region)
	}
	// A FIPS pseudo-region (fips-us-east-1) turns FIPS on and names the
	// region it stands for.
	fips := o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled || mapFIPSRegion(region) != region
	params := xray.EndpointParameters{
		UseDualStack: aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:      aws.Bool(fips),
		Endpoint:     o.BaseEndpoint,
	}
	if region != "" {
		params.Region = aws.String(mapFIPSRegion(region))
	}
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("%w: resolving the endpoint: %v", errNotReproduced, err)
	}
	u := ep.URI
	u.Path = smithyhttp.JoinPath(u.Path, "/TraceSegments")
	if u.RawPath != "" {
		u.RawPath = smithyhttp.JoinPath(u.RawPath, "/TraceSegments")
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", "" // the SDK takes scheme, host and path only
	if o.EndpointOptions.DisableHTTPS {
		u.Scheme = "http"
	}
	if err := smithyhttp.ValidateEndpointHost(u.Host); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotReproduced, err)
	}
	c := &Client{
		url: u.String(), host: u.Host, headers: ep.Headers.Clone(),
		region: region, service: "xray",
		creds: o.Credentials, httpClient: o.HTTPClient,
		signer:    v4.NewSigner(func(so *v4.SignerOptions) { so.Logger = o.Logger }),
		userAgent: userAgent(o.AppID),
	}
	// An endpoint may name its own signing name and region.
	authOpts, _ := smithyauth.GetAuthOptions(&ep.Properties)
	for _, ao := range authOpts {
		if ao.SchemeID != smithyauth.SchemeIDSigV4 {
			continue
		}
		if n, ok := smithyhttp.GetSigV4SigningName(&ao.SignerProperties); ok && n != "" {
			c.service = n
		}
		if r, ok := smithyhttp.GetSigV4SigningRegion(&ao.SignerProperties); ok && r != "" {
			c.region = r
		}
	}
	if _, err := url.Parse(c.url); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotReproduced, err)
	}
	return c, nil
}

func hasInterceptors(r smithyhttp.InterceptorRegistry) bool {
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() > 0 {
			return true
		}
	}
	return false
}

const (
	serviceID     = "XRay"
	operationName = "PutTraceSegments"
)

// PutTraceSegments sends in.TraceSegmentDocuments in one request and
// returns what the SDK's client would (see the package comment). opts
// are not supported and must be empty.
func (c *Client) PutTraceSegments(ctx context.Context, in *xray.PutTraceSegmentsInput, opts ...func(*xray.Options)) (*xray.PutTraceSegmentsOutput, error) {
	out, err := c.put(ctx, in, opts)
	if err != nil {
		return nil, &smithy.OperationError{ServiceID: serviceID, OperationName: operationName, Err: err}
	}
	return out, nil
}

func (c *Client) put(ctx context.Context, in *xray.PutTraceSegmentsInput, opts []func(*xray.Options)) (*xray.PutTraceSegmentsOutput, error) {
	if len(opts) > 0 {
		return nil, errors.New("xrayput: per-call options are not supported")
	}
	if in == nil {
		in = &xray.PutTraceSegmentsInput{}
	}
	if in.TraceSegmentDocuments == nil { // the SDK's input validation
		iv := smithy.InvalidParamsError{Context: "PutTraceSegmentsInput"}
		iv.Add(smithy.NewErrParamRequired("TraceSegmentDocuments"))
		return nil, &iv
	}
	select { // the SDK checks before each attempt
	case <-ctx.Done():
		return nil, ctx.Err()
	default:
	}
	// The body is a *bytes.Reader over a pooled buffer: net/http writes
	// headers and an in-memory body in one system call, without a copy
	// buffer. The buffer goes back to the pool once the transport is done
	// with it (see lease), which may be after the answer came.
	l := newLease()
	*l.buf = AppendBody((*l.buf)[:0], in.TraceSegmentDocuments)
	b := *l.buf
	sum := sha256.Sum256(b)
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])

	req, err := http.NewRequestWithContext(l.trace(ctx), http.MethodPost, c.url, bytes.NewReader(b))
	if err != nil {
		l.returned()
		return nil, err
	}
	req.GetBody = nil // as the SDK's requests: no rewinding by the transport
	h := req.Header
	for k, vs := range c.headers {
		h[k] = vs
	}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{c.userAgent}

	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		l.returned()
		return nil, fmt.Errorf("get identity: %w", err)
	}
	now := time.Now()
	if err := c.signer.SignHTTP(ctx, creds, req, string(hexSum[:]), c.service, c.region, now.Add(time.Duration(c.skew.Load()))); err != nil {
		l.returned()
		return nil, fmt.Errorf("sign http: %w", err)
	}
	resp, err := c.httpClient.Do(req)
	responseAt := time.Now()
	l.returned()
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		err = &smithyhttp.RequestSendError{Err: err}
		if ctx.Err() != nil {
			err = &smithy.CanceledError{Err: ctx.Err()}
		}
		// The SDK's client has an empty response (status 0) at hand
		// and wraps the error with it.
		empty := &http.Response{Header: http.Header{}, Body: http.NoBody}
		return nil, &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: empty}, Err: err}}
	}
	defer resp.Body.Close()
	c.noteSkew(resp, now, responseAt)
	return readResponse(resp)
}

// noteSkew keeps the clock skew resp's Date header shows, unless the
// answer came from a cache (Age) or took implausibly long, as the SDK's
// clock skew correction does.
func (c *Client) noteSkew(resp *http.Response, requestAt, responseAt time.Time) {
	d := resp.Header.Get("Date")
	if d == "" || resp.Header.Get("Age") != "" || responseAt.Sub(requestAt) > 15*time.Minute {
		return
	}
	server, err := smithyhttp.ParseTime(d)
	if err != nil {
		return
	}
	c.skew.Store(int64(server.Sub(responseAt)))
}

// lease is one request's hold on a pooled body buffer. The transport
// reads a request body only while writing an attempt, which it starts
// after a connection was had (httptrace's GotConn, once per attempt, for
// HTTP/1 and HTTP/2) and ends with WroteRequest, even when the answer
// came first or the write failed. The buffer goes back to the pool when
// Do has returned (so no attempt is still to come) and every attempt
// that had a connection has reported its write. Anything else (say, a
// connection had without a write reported) leaves the buffer to the
// garbage collector: a missed reuse, never a shared buffer.
type lease struct {
	mu          sync.Mutex
	buf         *[]byte // nil once back in the pool
	conns, done int     // GotConn and WroteRequest calls so far
	returnedDo  bool
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

func newLease() *lease { return &lease{buf: buffers.Get().(*[]byte)} }

// trace returns ctx with the hooks that count the transport's attempts.
func (l *lease) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			l.mu.Lock()
			l.conns++
			l.mu.Unlock()
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			l.mu.Lock()
			l.done++
			l.releaseLocked()
			l.mu.Unlock()
		},
	})
}

// returned says Do returned (or was never called).
func (l *lease) returned() {
	l.mu.Lock()
	l.returnedDo = true
	l.releaseLocked()
	l.mu.Unlock()
}

// releaseLocked puts the buffer back when nothing can read it any more,
// unless it grew past 1 MiB (50 documents of up to 64 KB each can; most
// batches are far smaller).
func (l *lease) releaseLocked() {
	if l.buf == nil || !l.returnedDo || l.conns != l.done {
		return
	}
	if cap(*l.buf) <= 1<<20 {
		*l.buf = (*l.buf)[:0]
		buffers.Put(l.buf)
	}
	l.buf = nil
}
