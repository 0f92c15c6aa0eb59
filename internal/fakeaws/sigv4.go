package fakeaws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The fake's credentials: SetEnv and Env hand them to the SDK, and the
// server recomputes every request's signature with them.
const (
	// AccessKeyID is the access key the fake accepts.
	AccessKeyID = "AKIDFAKEAWSTEST"
	// SecretAccessKey is the secret the fake signs with.
	SecretAccessKey = "fakeaws-secret"
	// Region is the region the fake expects in credential scopes.
	Region = "us-east-1"
)

// The SigV4 verifier follows AWS's "Create a signed AWS API request"
// (IAM User Guide, reference_sigv-create-signed-request; the same text as
// docs.aws.amazon.com/general/latest/gr/sigv4_signing.html). It is written
// from that text and does not call the SDK's signer, so a bug in how a
// client is set up to sign is caught rather than reproduced:
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//	                   CanonicalHeaders \n SignedHeaders \n HexEncode(Hash(payload))
//	StringToSign     = "AWS4-HMAC-SHA256" \n X-Amz-Date \n Scope \n HexEncode(Hash(CanonicalRequest))
//	kSigning         = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")
//	Signature        = HexEncode(HMAC(kSigning, StringToSign))
//
// The canonical URI of every service except S3 is the path URI-encoded
// twice (the path on the wire is already encoded once, so the verifier
// encodes the escaped path once more). Header values are trimmed and runs
// of spaces collapse to one; values of a repeated header join with ",".
// Signed portions of a request are valid 15 minutes either side of
// X-Amz-Date (AWS answers "Signature expired" otherwise).

const sigAlgorithm = "AWS4-HMAC-SHA256"

// maxClockSkew is how far X-Amz-Date may be from the fake's clock.
const maxClockSkew = 15 * time.Minute

// errUnsigned marks a request without SigV4 authentication at all.
var errUnsigned = errors.New("request is not SigV4-signed")

// sigError is a signature that is present but wrong.
type sigError struct{ code, msg string }

func (e *sigError) Error() string { return e.code + ": " + e.msg }

func badSig(code, format string, args ...any) error {
	return &sigError{code: code, msg: fmt.Sprintf(format, args...)}
}

// authHeader is a parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." value.
type authHeader struct {
	keyID, date, region, service string
	signed                       []string
	signature                    string
}

func parseAuth(v string) (authHeader, error) {
	var a authHeader
	rest, ok := strings.CutPrefix(v, sigAlgorithm+" ")
	if !ok {
		return a, errUnsigned
	}
	var cred, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = val
		case "SignedHeaders":
			signed = val
		case "Signature":
			a.signature = val
		}
	}
	if cred == "" || signed == "" || a.signature == "" {
		return a, errUnsigned
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return a, badSig("IncompleteSignatureException", "credential %q is not key/date/region/service/aws4_request", cred)
	}
	a.keyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signed = strings.Split(signed, ";")
	if !slices.IsSorted(a.signed) || slices.Contains(a.signed, "") {
		return a, badSig("IncompleteSignatureException", "SignedHeaders %q are not sorted lowercase names", signed)
	}
	for _, h := range a.signed {
		if h != strings.ToLower(h) {
			return a, badSig("IncompleteSignatureException", "SignedHeaders %q are not lowercase", signed)
		}
	}
	return a, nil
}

// verifySigV4 recomputes the signature of r (whose raw, still compressed
// body is body) for service and compares it with the one r carries. It
// returns errUnsigned, a *sigError, or nil.
func verifySigV4(r *http.Request, body []byte, service string, secrets map[string]string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return errUnsigned
	}
	a, err := parseAuth(auth)
	if err != nil {
		return err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return errUnsigned
	}
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return badSig("IncompleteSignatureException", "X-Amz-Date %q is not ISO 8601 basic format", amzDate)
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return badSig("InvalidSignatureException", "Signature expired: %s is more than %s from %s", amzDate, maxClockSkew, now.UTC().Format("20060102T150405Z"))
	}
	secret, ok := secrets[a.keyID]
	if !ok {
		return badSig("UnrecognizedClientException", "The security token included in the request is invalid (unknown access key %q)", a.keyID)
	}
	switch {
	case a.date != amzDate[:8]:
		return badSig("InvalidSignatureException", "credential date %s does not match X-Amz-Date %s", a.date, amzDate)
	case a.service != service:
		return badSig("InvalidSignatureException", "credential should be scoped to correct service: %q, not %q", service, a.service)
	case a.region != Region:
		return badSig("InvalidSignatureException", "credential should be scoped to a valid region: %q, not %q", Region, a.region)
	}
	for _, must := range []string{"host", "x-amz-date"} {
		if !slices.Contains(a.signed, must) {
			return badSig("InvalidSignatureException", "%s must be a signed header", must)
		}
	}
	if r.Header.Get("X-Amz-Security-Token") != "" && !slices.Contains(a.signed, "x-amz-security-token") {
		return badSig("InvalidSignatureException", "x-amz-security-token must be a signed header")
	}
	payloadHash := sha256Hex(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return badSig("InvalidSignatureException", "x-amz-content-sha256 does not match the body")
	}
	creq := canonicalRequest(r, a.signed, payloadHash)
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	want := signature(secret, a.date, a.region, a.service, stringToSign(amzDate, scope, creq))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return badSig("InvalidSignatureException", "The request signature we calculated does not match the signature you provided")
	}
	return nil
}

func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(uriEncode(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// headerValue is the canonical value of header name (lowercase) in r.
// Go's server keeps Host and the content length outside r.Header.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = slices.Clone(r.Header.Values("Content-Length"))
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = slices.Clone(r.Header.Values(name))
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// uriEncode is SigV4's UriEncode: every byte except the unreserved
// characters A-Z a-z 0-9 - . _ ~ becomes %XY (uppercase hex); '/' is kept
// in paths and encoded elsewhere.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func stringToSign(amzDate, scope, canonical string) string {
	return sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
}

func signature(secret, date, region, service, toSign string) string {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// signingName is the SigV4 service name of svc (CloudWatch signs as
// "monitoring", not "cloudwatch").
func signingName(svc Service) string {
	switch svc {
	case XRay:
		return "xray"
	case CloudWatch:
		return "monitoring"
	case Logs:
		return "logs"
	}
	return ""
}
