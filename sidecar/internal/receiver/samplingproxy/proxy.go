package samplingproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/hostcheck"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// Config configures a Proxy.
type Config struct {
	// Addr is the TCP address (default 127.0.0.1:2000).
	Addr string
	// Endpoint is X-Ray's base URL, such as https://xray.us-east-1.amazonaws.com.
	Endpoint    string
	Region      string
	Credentials aws.CredentialsProvider
	// HTTPClient sends the forwarded requests (default: a client with
	// Timeout).
	HTTPClient *http.Client
	// Timeout bounds each forwarded request (default 5s).
	Timeout time.Duration
	// Local answers from a built-in rule set instead of forwarding: one
	// Default rule that samples every request (local mode has no X-Ray,
	// and developers want to see every trace). Endpoint, Region and
	// Credentials are then not needed.
	Local bool
	// AllowedHosts are Host header names, besides localhost, 127.0.0.1
	// and ::1, that the proxy answers to (see package hostcheck); "*"
	// allows every Host. Requests naming another host are refused, which
	// defeats DNS rebinding.
	AllowedHosts []string
	Counters     *status.Counters
	Logger       *slog.Logger
}

// Validate reports configuration errors (after defaults).
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("samplingproxy: address %q: %w", c.Addr, err))
	}
	if c.Local {
		if c.Counters == nil {
			errs = append(errs, errors.New("samplingproxy: Counters is required"))
		}
		return errors.Join(errs...)
	}
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("samplingproxy: endpoint %q is not an http(s) URL", c.Endpoint))
	}
	if c.Region == "" || c.Credentials == nil || c.Counters == nil {
		errs = append(errs, errors.New("samplingproxy: Region, Credentials and Counters are required"))
	}
	return errors.Join(errs...)
}

// Proxy forwards sampling API calls.
type Proxy struct {
	cfg    Config
	signer *v4.Signer
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}

	inflight chan struct{} // bounds concurrent forwarded requests
	hosts    hostcheck.Allowlist

	forwarded, refused, failed *atomic.Uint64
}

// maxInFlight bounds concurrent forwarded requests; SDKs poll every few
// seconds, so more than this means something is wrong.
const maxInFlight = 16

const maxBody = 64 << 10

// New applies defaults, checks cfg and returns an unstarted Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:2000"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, signer: v4.NewSigner(), done: make(chan struct{}), inflight: make(chan struct{}, maxInFlight),
		hosts:     hostcheck.New(cfg.AllowedHosts),
		forwarded: cfg.Counters.Counter("sampling.forwarded"),
		refused:   cfg.Counters.Counter("sampling.refused"),
		failed:    cfg.Counters.Counter("sampling.failed"),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 2*cfg.Timeout + 5*time.Second}
	return p, nil
}

var allowed = map[string]bool{"/GetSamplingRules": true, "/SamplingTargets": true}

// ServeHTTP forwards the two sampling operations and refuses the rest,
// and refuses what a web page could send: a Host other than the allowed
// ones, a request a browser marks as coming from a page, and the content
// types a page may POST cross-origin without a CORS preflight.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.hosts.Allows(r.Host) {
		p.refused.Add(1)
		http.Error(w, "host not allowed: the sampling proxy answers only to localhost", http.StatusMisdirectedRequest)
		return
	}
	if r.Method != http.MethodPost || !allowed[r.URL.Path] || r.URL.RawQuery != "" {
		p.refused.Add(1)
		http.Error(w, "only POST /GetSamplingRules and POST /SamplingTargets are served here", http.StatusNotFound)
		return
	}
	if fromBrowser(r.Header) {
		p.refused.Add(1)
		http.Error(w, "requests from web pages are not served: the proxy signs with the sidecar's credentials", http.StatusForbidden)
		return
	}
	if msg := refusedContentType(r.Header); msg != "" {
		p.refused.Add(1)
		http.Error(w, msg, http.StatusUnsupportedMediaType)
		return
	}
	select {
	case p.inflight <- struct{}{}:
		defer func() { <-p.inflight }()
	default:
		p.refused.Add(1)
		http.Error(w, "too many sampling requests in flight", http.StatusTooManyRequests)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		p.refused.Add(1)
		http.Error(w, "request body unreadable or over 64 KB", http.StatusRequestEntityTooLarge)
		return
	}
	if p.cfg.Local {
		p.forwarded.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/GetSamplingRules" {
			_, _ = io.WriteString(w, localRules)
		} else {
			_, _ = io.WriteString(w, localTargets)
		}
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()
	resp, err := p.forward(ctx, r.URL.Path, body)
	if err != nil {
		p.failed.Add(1)
		p.cfg.Logger.Warn("sampling request to X-Ray failed", "path", r.URL.Path, "err", err)
		http.Error(w, "X-Ray unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.forwarded.Add(1)
	for _, h := range []string{"Content-Type", "X-Amzn-Errortype", "X-Amzn-Requestid"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 4<<20))
}

// fromBrowser reports whether a browser sent the request: browsers add
// Origin to every cross-origin request and every POST, and Sec-Fetch-*
// to every request to a trustworthy origin such as 127.0.0.1; no X-Ray
// or OpenTelemetry sampler sends them. This also catches a page's POST of
// a Blob or ArrayBuffer, which carries no Content-Type at all.
func fromBrowser(h http.Header) bool {
	return h.Get("Origin") != "" || h.Get("Sec-Fetch-Site") != "" || h.Get("Sec-Fetch-Mode") != ""
}

// browserSimpleTypes are the content types a page may POST to another
// origin without a CORS preflight (the Fetch standard's CORS-safelisted
// Content-Type values).
var browserSimpleTypes = map[string]bool{
	"text/plain":                        true,
	"application/x-www-form-urlencoded": true,
	"multipart/form-data":               true,
}

// refusedContentType explains why the request's Content-Type is refused,
// or returns "". The samplers send application/json or no Content-Type
// at all (OpenTelemetry Go's and JavaScript's GetSamplingRules); both are
// kept. A value that does not parse is refused: browsers parse leniently
// and might read it as one of the simple types.
func refusedContentType(h http.Header) string {
	vs := h.Values("Content-Type")
	if len(vs) == 0 {
		return ""
	}
	if len(vs) > 1 {
		return "more than one Content-Type"
	}
	mt, _, err := mime.ParseMediaType(vs[0])
	if err != nil {
		return "Content-Type does not parse: send application/json"
	}
	if browserSimpleTypes[mt] {
		return "Content-Type " + mt + " is refused (a web page can send it cross-origin): send application/json"
	}
	return ""
}

func (p *Proxy) forward(ctx context.Context, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := p.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "xray", p.cfg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return p.cfg.HTTPClient.Do(req)
}

// Start binds and serves.
func (p *Proxy) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", p.cfg.Addr)
	if err != nil {
		return fmt.Errorf("samplingproxy: %w", err)
	}
	p.ln = ln
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.cfg.Logger.Error("sampling proxy stopped", "err", err)
		}
	}()
	return nil
}

// Addr returns the bound address (after Start).
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Shutdown stops the server, waiting for requests in flight until ctx ends.
func (p *Proxy) Shutdown(ctx context.Context) error {
	if p.ln == nil {
		return nil
	}
	err := p.srv.Shutdown(ctx)
	if err != nil {
		_ = p.srv.Close()
	}
	<-p.done
	return err
}

// The local-mode answers: sample everything.
const (
	localRules = `{"SamplingRuleRecords":[{"SamplingRule":{"RuleName":"Default","RuleARN":"arn:aws:xray:local::sampling-rule/Default",` +
		`"ResourceARN":"*","Priority":10000,"FixedRate":1,"ReservoirSize":0,"ServiceName":"*","ServiceType":"*","Host":"*",` +
		`"HTTPMethod":"*","URLPath":"*","Version":1,"Attributes":{}},"CreatedAt":0,"ModifiedAt":0}]}`
	localTargets = `{"SamplingTargetDocuments":[],"LastRuleModification":0,"UnprocessedStatistics":[]}`
)
